import BreakglassCore
import BreakglassStore
import Foundation

/// An obligation as its owner and reviewers see it, with the time left (negative once overdue).
public struct RetroView: Codable, Sendable {
    public var sessionId: String
    public var requester: String
    public var target: String
    public var status: RetroStatus
    /// `status`, or `overdue` for an owed obligation past its deadline.
    public var state: String
    public var dueAt: Date
    public var secondsLeft: Int
    public var prUrl: String?
    public var linkedAt: Date?
    public var mergedAt: Date?
    public var independentApproval: Bool?
    public var lastRejection: String?
    public var nextRung: String?
    public var nextRungAt: Date?
    public var rungsFired: Int
    /// A drill's obligation: listed apart, never counted with real ones.
    public var drill: Bool

    init(_ o: RetroObligation, now: Date) {
        sessionId = o.sessionId
        requester = o.requester
        target = o.target
        status = o.status
        state = o.state(at: now)
        dueAt = o.dueAt
        secondsLeft = Int(o.dueAt.timeIntervalSince(now).rounded(.down))
        prUrl = o.prURL
        linkedAt = o.linkedAt
        mergedAt = o.mergedAt
        independentApproval = o.independentApproval
        lastRejection = o.lastRejection
        nextRung = o.nextDueAt.map { _ in o.ladder.rungs[o.nextLevel].name }
        nextRungAt = o.nextDueAt
        rungsFired = o.nextLevel
        drill = o.drill
    }
}

extension Broker {
    /// The engineer links the PR documenting what they changed; the escalation ladder stops at once.
    /// The engineer links their own retro PR with their token. Linking someone else's stops their
    /// escalation, so for an admin it is an admin change: a fresh TOTP code, and paged.
    public func linkRetro(sessionId: String, url: String, actor: AuthUser, totp: String? = nil, origin: RequestOrigin) async throws -> RetroView {
        let url = try PullRequestLink.validate(url)
        let requester = try await database.read { try await $0.obligation(sessionId: sessionId)?.requester }
        guard let requester, requester == actor.name || actor.seesEverything else { throw BreakglassError.sessionUnknown(sessionId) }
        guard requester == actor.name || actor.has(.admin) else {
            throw BreakglassError.forbidden("only the engineer who broke glass in \(sessionId), or an admin, may link its retro PR")
        }
        @Sendable func link(_ tx: Tx, _ now: Date) async throws -> RetroObligation {
            guard let obligation = try await tx.obligation(sessionId: sessionId, forUpdate: true) else { throw BreakglassError.sessionUnknown(sessionId) }
            let linked = try obligation.link(url: url, by: actor.name, source: .cli, now: now)
            try await self.recordLink(tx: tx, from: obligation, to: linked, actor: actor.name, roles: actor.roles, origin: origin, now: now,
                                      details: [:])
            return linked
        }
        let linked: RetroObligation
        if requester == actor.name {
            let now = clock.now()
            linked = try await database.transaction { try await link($0, now) }
        } else {
            linked = try await adminChange(actor: actor, totp: totp, action: "link other engineers' retro PRs", origin: origin) { tx, now in
                let linked = try await link(tx, now)
                return (linked, AdminPage(type: "admin.retro_linked", payload: ["session_id": sessionId, "user": requester, "pr_url": url,
                                                                               "target": linked.target]))
            }
        }
        return RetroView(linked, now: clock.now())
    }

    func recordLink(tx: Tx, from previous: RetroObligation, to linked: RetroObligation, actor: String, roles: [Role],
                    origin: RequestOrigin, now: Date, details: [String: String]) async throws {
        try await tx.saveObligation(linked)
        var payload = ["session_id": linked.sessionId, "user": linked.requester, "target": linked.target, "pr_url": linked.prURL ?? "",
                       "due_at": Timestamp.format(linked.dueAt)]
        payload["linked_by"] = actor
        try await tx.enqueueNotification(type: AuditEventType.retroLinked.rawValue, sessionId: linked.sessionId, payload: payload, now: now)
        try await tx.appendAudit(AuditEvent(
            type: .retroLinked, at: now, actor: actor, actorRoles: roles, origin: origin, target: linked.target, sessionId: linked.sessionId,
            details: details.merging([
                "pr_url": linked.prURL ?? "", "source": linked.prSource?.rawValue ?? "", "previous_status": previous.status.rawValue,
                "due_at": Timestamp.format(linked.dueAt), "linked_in_time": now <= linked.dueAt ? "true" : "false",
                "ladder_stopped_at_rung": String(linked.nextLevel),
            ]) { given, _ in given }))
    }

    /// What `actor` owes (open first), or everyone's for admin and compliance.
    public func retroObligations(actor: AuthUser, everyone: Bool) async throws -> [RetroView] {
        if everyone && !actor.seesEverything {
            throw BreakglassError.forbidden("only admin and compliance may list everyone's retro PRs")
        }
        let now = clock.now()
        return try await database.read { tx in
            try await tx.obligations(userId: everyone ? nil : actor.id, openOnly: false, limit: 500).map { RetroView($0, now: now) }
        }
    }

    /// Fires every escalation rung that is due, each exactly once across all instances: obligations are
    /// claimed with SKIP LOCKED and each rung's row has a primary key. Rungs missed while no broker ran
    /// fire now, in ladder order, and their pages say how late they are. Returns how many obligations moved.
    public func fireDueEscalations(limit: Int = 25) async throws -> Int {
        let now = clock.now()
        return try await database.transaction { tx in
            let due = try await tx.claimDueObligations(now: now, limit: limit)
            for obligation in due {
                let (next, firings) = obligation.firing(now: now)
                for firing in firings {
                    guard try await tx.recordRungFiring(sessionId: obligation.sessionId, firing: firing, now: now) else { continue }
                    try await self.announce(firing, of: obligation, tx: tx, now: now)
                }
                try await tx.saveObligation(next)
            }
            return due.count
        }
    }

    private func announce(_ firing: RungFiring, of obligation: RetroObligation, tx: Tx, now: Date) async throws {
        var details = [
            "rung": firing.rung.name, "level": "\(firing.level + 1)/\(obligation.ladder.rungs.count)",
            "scheduled_at": Timestamp.format(firing.scheduledAt), "due_at": Timestamp.format(obligation.dueAt),
            "severity": firing.rung.severity, "requester": obligation.requester,
        ]
        if firing.isLate { details["late_by"] = TTL.format(firing.lateBy) }
        if firing.skipped {
            details["why"] = "a reminder is moot once the deadline has passed; escalations continue"
            try await tx.appendAudit(AuditEvent(type: .retroRungSkipped, at: now, actor: nil, target: obligation.target,
                                                sessionId: obligation.sessionId, details: details))
            return
        }
        var payload = details
        payload["session_id"] = obligation.sessionId
        payload["user"] = obligation.requester
        payload["target"] = obligation.target
        if !firing.rung.isReminder { payload["overdue_since"] = Timestamp.format(obligation.dueAt) }
        if let rejection = obligation.lastRejection { payload["note"] = "last PR rejected: \(rejection)" }
        try await tx.enqueueNotification(type: firing.rung.eventType, sessionId: obligation.sessionId, payload: payload, now: now)
        details["event_type"] = firing.rung.eventType
        try await tx.appendAudit(AuditEvent(type: .retroEscalated, at: now, actor: nil, target: obligation.target,
                                            sessionId: obligation.sessionId, details: details))
    }

    /// Targets whose retro deadline runs from the session's end move it when the session is extended or closes.
    func moveRetroDeadline(tx: Tx, session: EmergencySession, target: Target?, now: Date) async throws {
        var resolved = target
        if resolved == nil { resolved = try await tx.target(named: session.target) }
        guard let target = resolved, target.retroFrom == .end,
              let obligation = try await tx.obligation(sessionId: session.id, forUpdate: true),
              let moved = obligation.rescheduled(for: session, target: target) else { return }
        try await tx.saveObligation(moved)
        try await tx.appendAudit(AuditEvent(
            type: .retroDeadlineMoved, at: now, actor: nil, target: session.target, sessionId: session.id,
            details: ["previous_due_at": Timestamp.format(obligation.dueAt), "due_at": Timestamp.format(moved.dueAt),
                      "basis": "session end", "window_start": Timestamp.format(moved.windowStart)]))
    }
}
