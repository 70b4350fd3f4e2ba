import Foundation

/// A retro PR linked (from the CLI, GitHub, or a candidate compliance accepted): what is paged and audited.
public struct RetroLink: Sendable, Equatable {
    public var obligation: RetroObligation
    public var page: [String: String]
    public var event: AuditEvent

    public static let pageType = AuditEventType.retroLinked.rawValue

    /// `details` add to the audit event (and win over its own keys): where the link came from.
    public init(from previous: RetroObligation, to linked: RetroObligation, actor: String, roles: [Role], origin: RequestOrigin, now: Date,
                details: [String: String]) {
        obligation = linked
        page = ["session_id": linked.sessionId, "user": linked.requester, "target": linked.target, "pr_url": linked.prURL ?? "",
                "due_at": Timestamp.format(linked.dueAt), "linked_by": actor]
        event = AuditEvent(
            type: .retroLinked, at: now, actor: actor, actorRoles: roles, origin: origin, target: linked.target, sessionId: linked.sessionId,
            details: details.merging([
                "pr_url": linked.prURL ?? "", "source": linked.prSource?.rawValue ?? "", "previous_status": previous.status.rawValue,
                "due_at": Timestamp.format(linked.dueAt), "linked_in_time": now <= linked.dueAt ? "true" : "false",
                "ladder_stopped_at_rung": String(linked.nextLevel),
            ]) { given, _ in given })
    }
}
