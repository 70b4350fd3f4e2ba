import Foundation

/// What a rung the scheduler reached records: a moot reminder is audited as skipped and pages nobody; any
/// other rung pages its `retro.NAME` event and is audited as an escalation.
public struct RungAnnouncement: Sendable, Equatable {
    public struct Page: Sendable, Equatable {
        public var type: String
        public var payload: [String: String]
    }

    /// Nil for a skipped rung.
    public var page: Page?
    public var event: AuditEvent

    public init(_ firing: RungFiring, of obligation: RetroObligation, now: Date) {
        var details = [
            "rung": firing.rung.name, "level": "\(firing.level + 1)/\(obligation.ladder.rungs.count)",
            "scheduled_at": Timestamp.format(firing.scheduledAt), "due_at": Timestamp.format(obligation.dueAt),
            "severity": firing.rung.severity.rawValue, "requester": obligation.requester,
        ]
        if firing.isLate { details["late_by"] = TTL.format(firing.lateBy) }
        if firing.skipped {
            details["why"] = "a reminder is moot once the deadline has passed; escalations continue"
            page = nil
            event = AuditEvent(type: .retroRungSkipped, at: now, actor: nil, target: obligation.target, sessionId: obligation.sessionId,
                               details: details)
            return
        }
        var payload = details
        payload["session_id"] = obligation.sessionId
        payload["user"] = obligation.requester
        payload["target"] = obligation.target
        if !firing.rung.isReminder { payload["overdue_since"] = Timestamp.format(obligation.dueAt) }
        if let rejection = obligation.lastRejection { payload["note"] = "last PR rejected: \(rejection)" }
        page = Page(type: firing.rung.eventType, payload: payload)
        details["event_type"] = firing.rung.eventType
        event = AuditEvent(type: .retroEscalated, at: now, actor: nil, target: obligation.target, sessionId: obligation.sessionId, details: details)
    }
}
