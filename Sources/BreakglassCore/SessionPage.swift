import Foundation

extension EmergencySession {
    /// What a page about the session says; never a credential.
    public var pagePayload: [String: String] {
        var payload = [
            "session_id": id, "user": requester, "target": target, "reason": reason, "incident": incident, "state": state.rawValue,
            "expires_at": Timestamp.format(expiresAt), "retro_due_at": Timestamp.format(retroDueAt),
        ]
        if let closedAt { payload["closed_at"] = Timestamp.format(closedAt) }
        if let closedBy { payload["closed_by"] = closedBy }
        return payload.merging(drillMark) { $1 }
    }

    /// `drill: true` for a drill's pages and audit details (the outbox marks later pages by session too).
    public var drillMark: [String: String] {
        drill ? [NotificationMessage.drillKey: "true"] : [:]
    }
}
