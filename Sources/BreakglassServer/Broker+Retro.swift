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
    public var state: RetroState
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
        guard let requester = try await database.read({ try await $0.retro.obligation(sessionId: sessionId)?.requester }) else {
            throw BreakglassError.sessionUnknown(sessionId)
        }
        let right = try SeparationOfDuties.linkRight(actor: actor.name, roles: actor.roles, requester: requester, sessionId: sessionId)
        @Sendable func link(_ tx: Tx, _ now: Date) async throws -> RetroObligation {
            guard let obligation = try await tx.retro.obligation(sessionId: sessionId, forUpdate: true) else { throw BreakglassError.sessionUnknown(sessionId) }
            let linked = try obligation.link(url: url, by: actor.name, source: .cli, now: now)
            try await self.recordLink(tx: tx, from: obligation, to: linked, actor: actor.name, roles: actor.roles, origin: origin, now: now,
                                      details: [:])
            return linked
        }
        let linked: RetroObligation
        switch right {
        case .own:
            let now = clock.now()
            linked = try await database.transaction { try await link($0, now) }
        case .adminChange:
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
        let link = RetroLink(from: previous, to: linked, actor: actor, roles: roles, origin: origin, now: now, details: details)
        try await tx.retro.save(link.obligation)
        try await tx.outbox.enqueue(type: RetroLink.pageType, sessionId: linked.sessionId, payload: link.page, now: now)
        try await tx.audit.append(link.event)
    }

    /// What `actor` owes (open first), or everyone's for admin and compliance.
    public func retroObligations(actor: AuthUser, everyone: Bool) async throws -> [RetroView] {
        if everyone && !actor.seesEverything {
            throw BreakglassError.forbidden("only admin and compliance may list everyone's retro PRs")
        }
        let now = clock.now()
        return try await database.read { tx in
            try await tx.retro.obligations(userId: everyone ? nil : actor.id, openOnly: false, limit: 500).map { RetroView($0, now: now) }
        }
    }

    /// Fires every escalation rung that is due, each exactly once across all instances: obligations are
    /// claimed with SKIP LOCKED and each rung's row has a primary key. Rungs missed while no broker ran
    /// fire now, in ladder order, and their pages say how late they are. Returns how many obligations moved.
    public func fireDueEscalations(limit: Int = 25) async throws -> Int {
        let now = clock.now()
        return try await database.transaction { tx in
            let due = try await tx.retro.claimDue(now: now, limit: limit)
            for obligation in due {
                let (next, firings) = obligation.firing(now: now)
                for firing in firings {
                    guard try await tx.retro.recordRungFiring(sessionId: obligation.sessionId, firing: firing, now: now) else { continue }
                    try await self.announce(firing, of: obligation, tx: tx, now: now)
                }
                try await tx.retro.save(next)
            }
            return due.count
        }
    }

    private func announce(_ firing: RungFiring, of obligation: RetroObligation, tx: Tx, now: Date) async throws {
        let announcement = RungAnnouncement(firing, of: obligation, now: now)
        if let page = announcement.page {
            try await tx.outbox.enqueue(type: page.type, sessionId: obligation.sessionId, payload: page.payload, now: now)
        }
        try await tx.audit.append(announcement.event)
    }

    /// Targets whose retro deadline runs from the session's end move it when the session is extended or closes:
    /// load, decide (`RetroDeadlineMove`), save. Returns the session carrying its (possibly moved) deadline.
    func moveRetroDeadline(tx: Tx, session: EmergencySession, target: Target?, now: Date) async throws -> EmergencySession {
        var resolved = target
        if resolved == nil { resolved = try await tx.targets.find(named: session.target) }
        guard let target = resolved, RetroWindow.follows(session, on: target),
              let obligation = try await tx.retro.obligation(sessionId: session.id, forUpdate: true),
              let move = RetroDeadlineMove.decide(session: session, obligation: obligation, target: target, now: now) else { return session }
        try await tx.retro.save(move.obligation)
        try await tx.audit.append(move.event)
        return move.session
    }
}
