import Foundation

/// When a retro PR is owed: the SLA window's start and its deadline. Decided here only, at activation and
/// whenever the session's end moves, so a session and its obligation never disagree about the deadline.
public struct RetroWindow: Sendable, Equatable {
    public var start: Date
    public var dueAt: Date

    /// The window of a session activated at `activatedAt` that expires at `expiresAt`. A drill's runs from
    /// activation whatever the target says, with the drill's deadline: it must page its whole ladder while the
    /// team is watching.
    public static func opening(activatedAt: Date, expiresAt: Date, target: Target, drill: Bool) -> RetroWindow {
        if drill { return RetroWindow(start: activatedAt, dueAt: activatedAt + DrillPlan.deadline(target: target)) }
        let start = target.retroFrom == .activation ? activatedAt : expiresAt
        return RetroWindow(start: start, dueAt: start + target.retroDeadline)
    }

    /// Whether the window can move after activation: only for a real session on a target whose deadline runs
    /// from the session's end (extensions and the actual close move it).
    public static func follows(_ session: EmergencySession, on target: Target) -> Bool {
        target.retroFrom == .end && !session.drill
    }
}

/// A session's end moved (extended, ended, revoked, expired, failed) and its retro deadline with it: the
/// obligation's new window, the session carrying the new deadline, and the audit event recording the move.
public struct RetroDeadlineMove: Sendable, Equatable {
    public var session: EmergencySession
    public var obligation: RetroObligation
    public var event: AuditEvent

    /// Nil when nothing moves: the target's deadline runs from activation, the obligation is settled, or the
    /// end did not change.
    public static func decide(session: EmergencySession, obligation: RetroObligation, target: Target, now: Date) -> RetroDeadlineMove? {
        guard let moved = obligation.rescheduled(for: session, target: target) else { return nil }
        var session = session
        session.retroDueAt = moved.dueAt
        let event = AuditEvent(
            type: .retroDeadlineMoved, at: now, actor: nil, target: session.target, sessionId: session.id,
            details: ["previous_due_at": Timestamp.format(obligation.dueAt), "due_at": Timestamp.format(moved.dueAt),
                      "basis": "session end", "window_start": Timestamp.format(moved.windowStart)])
        return RetroDeadlineMove(session: session, obligation: moved, event: event)
    }
}
