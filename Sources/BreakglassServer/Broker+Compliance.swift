import BreakglassCore
import BreakglassStore
import Foundation

/// How the engineer proved who they were, as the audit log recorded it.
public struct MFAFacts: Codable, Sendable {
    public var method: String
    public var outcome: String
    public var deniedAttempts: Int
    public var extensionsProven: Int
}

public struct CredentialFacts: Codable, Sendable {
    public var kind: CredentialKind
    public var keyId: String?
    public var tokenId: String?
    public var audience: String?
    public var expiresAt: Date
}

public struct AuditEventView: Codable, Sendable {
    public var id: Int64
    public var seq: Int64
    public var hash: String
    public var event: AuditEvent
}

/// Everything known about one emergency session, from request to retro review.
public struct SessionStory: Codable, Sendable {
    public var session: EmergencySession
    public var clientAddress: String?
    public var userAgent: String?
    public var mfa: MFAFacts
    public var credential: CredentialFacts
    public var retro: RetroView
    public var obligation: RetroObligation
    public var escalations: [EscalationRecord]
    public var reviews: [ReviewRecord]
    public var pages: [DeliveryLogEntry]
    public var events: [AuditEventView]
    /// PRs that named the session but could not link themselves; compliance may accept one.
    public var candidates: [RetroCandidate]
}

extension Broker {
    /// What compliance must act on; drills (`drills: true`) are a queue of their own, never mixed with real sessions.
    public func complianceQueue(actor: AuthUser, drills: Bool = false) async throws -> [RetroView] {
        try actor.require(.compliance, to: "see the compliance queue")
        let now = clock.now()
        return try await database.read { try await $0.retro.complianceQueue(now: now, limit: 1000, drills: drills).map { RetroView($0, now: now) } }
    }

    /// The session's story includes its audit rows with their hashes: a read of the audit log, so audited.
    public func sessionStory(sessionId: String, actor: AuthUser, origin: RequestOrigin) async throws -> SessionStory {
        try actor.require(.compliance, to: "review emergency sessions")
        let now = clock.now()
        return try await database.transaction { tx in
            let story = try await self.story(sessionId: sessionId, tx: tx, now: now)
            try await tx.audit.append(AuditEvent(type: .sessionViewed, at: now, actor: actor.name, actorRoles: actor.roles, origin: origin,
                                                 target: story.session.target, sessionId: sessionId))
            return story
        }
    }

    func story(sessionId: String, tx: Tx, now: Date) async throws -> SessionStory {
        guard let record = try await tx.sessions.find(id: sessionId), let obligation = try await tx.retro.obligation(sessionId: sessionId) else {
            throw BreakglassError.sessionUnknown(sessionId)
        }
        // A story with the newest events cut off would look complete: refuse instead, naming what to use.
        let limit = 1_000_000
        let rows = try await tx.audit.rows(sessionId: sessionId, limit: limit + 1)
        guard rows.count <= limit else {
            throw BreakglassError(.invalidInput, "session_too_large",
                                  "session \(sessionId) has more than \(limit) audit events; export them with `breakglass audit export` and verify offline")
        }
        // An event this build cannot read would otherwise drop out of the story unseen.
        let events = try rows.map { row in
            guard let event = AuditChain.decode(body: row.body) else { throw BreakglassError.corruptRow("audit event \(row.id) (audit_events.body)") }
            return AuditEventView(id: row.id, seq: row.seq, hash: row.hash, event: event)
        }
        let activation = events.first { $0.event.type == .sessionActivated }?.event
        let mfa = MFAFacts(method: "totp", outcome: activation?.details["mfa_outcome"] ?? "unknown",
                           deniedAttempts: events.filter { $0.event.type == .sessionDenied }.count,
                           extensionsProven: events.filter { $0.event.type == .sessionExtended }.count)
        let session = record.session.asSeen(at: now)
        return SessionStory(
            session: session, clientAddress: record.clientAddress, userAgent: activation?.userAgent, mfa: mfa,
            credential: CredentialFacts(kind: record.credential.kind, keyId: record.credential.keyId, tokenId: record.credential.tokenId,
                                        audience: record.credential.audience, expiresAt: session.expiresAt),
            retro: RetroView(obligation, now: now), obligation: obligation,
            escalations: try await tx.retro.escalations(sessionId: sessionId), reviews: try await tx.retro.reviews(sessionId: sessionId),
            pages: try await tx.deliveries.log(sessionId: sessionId, deadOnly: false, limit: 1000), events: events,
            candidates: try await tx.github.candidates(sessionId: sessionId))
    }

    /// Compliance approves, rejects (back to owed, with the reason) or waives a retro PR. The engineer who
    /// broke glass can never decide on their own; the attempt is refused and audited.
    public func reviewRetro(sessionId: String, decision: RetroDecision, note: String, actor: AuthUser,
                            origin: RequestOrigin) async throws -> RetroView {
        try actor.require(.compliance, to: "review retro PRs")
        try Role.requireSeparated(actor.roles, allowAdminCompliance: settings.allowAdminCompliance)
        let note = try Validation.reason(note, field: decision.noteField)
        let now = clock.now()
        let review = try await database.transactionCommittingRefusal { tx -> Outcome<RetroReview> in
            guard let obligation = try await tx.retro.obligation(sessionId: sessionId, forUpdate: true) else {
                throw BreakglassError.sessionUnknown(sessionId)
            }
            let creator = try await tx.users.find(named: obligation.requester)?.createdBy
            switch try RetroReview.decide(decision, on: obligation, by: actor.name, roles: actor.roles, note: note, requesterCreatedBy: creator,
                                          origin: origin, now: now) {
            case .refused(let error, let event):
                try await tx.audit.append(event)
                return .refused(error)
            case .decided(let review):
                try await tx.retro.save(review.obligation)
                try await tx.retro.insertReview(sessionId: sessionId, decision: review.decision, reviewer: actor.name, note: note,
                                                prURL: obligation.prURL, now: now)
                try await tx.outbox.enqueue(type: review.decision.pageType, sessionId: sessionId, payload: review.page, now: now)
                try await tx.audit.append(review.event)
                return .done(review)
            }
        }
        logger.notice("retro PR reviewed", metadata: ["session.id": "\(sessionId)", "retro.decision": "\(review.decision.rawValue)"])
        return RetroView(review.obligation, now: now)
    }

    /// Compliance accepts a candidate PR (one that named the session but could not link itself) as the
    /// session's retro PR. Separation of duties as for a review.
    public func acceptCandidate(sessionId: String, url: String, actor: AuthUser, origin: RequestOrigin) async throws -> RetroView {
        try actor.require(.compliance, to: "accept candidate retro PRs")
        try Role.requireSeparated(actor.roles, allowAdminCompliance: settings.allowAdminCompliance)
        let url = try PullRequestLink.validate(url)
        let now = clock.now()
        let linked = try await database.transactionCommittingRefusal { tx -> Outcome<RetroObligation> in
            guard let obligation = try await tx.retro.obligation(sessionId: sessionId, forUpdate: true) else { throw BreakglassError.sessionUnknown(sessionId) }
            if let (error, event) = SeparationOfDuties.refusal(
                reviewer: actor.name, roles: actor.roles, of: obligation, requesterCreatedBy: try await tx.users.find(named: obligation.requester)?.createdBy,
                decision: "accept_candidate", origin: origin, now: now, details: ["pr_url": url]) {
                try await tx.audit.append(event)
                return .refused(error)
            }
            guard try await tx.github.acceptCandidate(sessionId: sessionId, prURL: url, by: actor.name, now: now) else {
                throw BreakglassError(.notFound, "candidate_unknown", "\(url) is not an unaccepted candidate PR of \(sessionId)")
            }
            let linked = try obligation.link(url: url, by: actor.name, source: .github, now: now)
            try await tx.audit.append(AuditEvent(type: .retroCandidateAccepted, at: now, actor: actor.name, actorRoles: actor.roles, origin: origin,
                                                 target: obligation.target, sessionId: sessionId, details: ["pr_url": url]))
            try await self.recordLink(tx: tx, from: obligation, to: linked, actor: actor.name, roles: actor.roles, origin: origin, now: now,
                                      details: ["accepted_candidate": "true"])
            return .done(linked)
        }
        return RetroView(linked, now: now)
    }

    /// One JSON document for an auditor: the session's whole story, its audit events with the chain segment
    /// proving them, the controls they evidence, and the pack's own SHA-256. The export itself is audited
    /// first, so the pack proves it too.
    public func evidencePack(sessionId: String, actor: AuthUser, origin: RequestOrigin) async throws -> SealedDocument<EvidencePackDocument> {
        try actor.require(.compliance, to: "export evidence")
        let now = clock.now()
        try await database.transaction { tx in
            guard try await tx.sessions.find(id: sessionId) != nil else { throw BreakglassError.sessionUnknown(sessionId) }
            try await tx.audit.append(AuditEvent(type: .evidenceExported, at: now, actor: actor.name, actorRoles: actor.roles, origin: origin,
                                                 sessionId: sessionId, details: ["format": "breakglass-evidence/1"]))
        }
        let (story, proof) = try await database.transaction { tx in
            try await tx.beginSnapshot()
            let story = try await self.story(sessionId: sessionId, tx: tx, now: now)
            let segment = try await tx.audit.chainSegment(sessionId: sessionId)
            return (story, ChainProof.make(sessionId: sessionId, shard: segment.shard, rows: segment.rows, head: segment.head))
        }
        let request = EvidencePackDocument.Request(reason: story.session.reason, incident: story.session.incident,
                                                   clientAddress: story.clientAddress, userAgent: story.userAgent)
        return try SealedDocument(EvidencePackDocument(
            drill: story.session.drill,
            notice: story.session.drill ? "DRILL: a rehearsal of the break-glass path, not a real activation (PCI DSS 12.10.2 test)" : nil,
            generatedAt: now, generatedBy: actor.name, issuer: settings.issuerName, session: story.session, request: request, mfa: story.mfa,
            credential: story.credential, retro: story.obligation, escalations: story.escalations, reviews: story.reviews,
            pages: story.pages, audit: .init(events: story.events, proof: proof),
            controls: ChainProof.controls(of: proof.verify(sessionId: sessionId).events),
            verification: "pack_sha256 is SHA-256 of the RFC 8785 canonical JSON of this document without pack_sha256; each audit.proof link with a body hashes as sha256(prev_hash + \"\\n\" + body); `breakglass compliance verify-evidence FILE` checks both"))
    }

    public func retroMetrics() async throws -> RetroMetrics {
        let now = clock.now()
        return try await database.read { try await $0.retro.metrics(now: now) }
    }

    // MARK: browser sign-in for the compliance pages

    /// A one-time link (two minutes) that signs a browser in to the read-only compliance pages.
    public func issueWebTicket(actor: AuthUser) async throws -> String {
        try actor.require(.compliance, to: "open the compliance pages")
        let ticket = "bgw_" + Secrets.base64url(Secrets.randomBytes(32))
        let now = clock.now()
        try await database.transaction { tx in
            try await tx.webLogins.insert(tokenHash: Secrets.hash(ticket), userId: actor.id, kind: .ticket, now: now, expiresAt: now + 120,
                                          apiTokenHash: actor.tokenHash)
        }
        return ticket
    }

    /// Spends a ticket and returns the browser session cookie value.
    public func redeemWebTicket(_ ticket: String, origin: RequestOrigin) async throws -> String {
        let now = clock.now()
        let cookie = "bgs_" + Secrets.base64url(Secrets.randomBytes(32))
        let lifetime = settings.webSessionLifetime
        try await database.transaction { tx in
            guard ticket.hasPrefix("bgw_"), ticket.count < 100,
                  let (userId, apiTokenHash) = try await tx.webLogins.spendTicket(tokenHash: Secrets.hash(ticket), now: now),
                  let user = try await tx.users.find(id: userId) else {
                throw BreakglassError(.unauthenticated, "ticket_invalid",
                                      "this sign-in link is unknown, used or expired; run `breakglass compliance web` for a new one")
            }
            try await tx.webLogins.insert(tokenHash: Secrets.hash(cookie), userId: userId, kind: .session, now: now, expiresAt: now + lifetime,
                                          apiTokenHash: apiTokenHash)
            try await tx.audit.append(AuditEvent(type: .webLogin, at: now, actor: user.name, actorRoles: user.roles, origin: origin,
                                                 details: ["expires_at": Timestamp.format(now + lifetime)]))
        }
        return cookie
    }

    public func authenticateWeb(cookie: String) async throws -> AuthUser {
        guard cookie.hasPrefix("bgs_"), cookie.count < 100 else { throw BreakglassError.unauthenticated }
        let now = clock.now()
        guard let user = try await database.read({ try await $0.webLogins.sessionUser(tokenHash: Secrets.hash(cookie), now: now) }),
              user.confirmed, !user.isLocked(at: now) else {
            throw BreakglassError.unauthenticated
        }
        return AuthUser(id: user.id, name: user.name, roles: user.roles)
    }

    /// Signs a browser out (the cookie stops working at once, on every instance). Returns the user signed out;
    /// an unknown or ended cookie is `unauthenticated`.
    @discardableResult
    public func endWebSession(cookie: String, origin: RequestOrigin) async throws -> AuthUser {
        guard cookie.hasPrefix("bgs_"), cookie.count < 100 else { throw BreakglassError.unauthenticated }
        let now = clock.now()
        return try await database.transaction { tx in
            guard let userId = try await tx.webLogins.endSession(tokenHash: Secrets.hash(cookie), now: now), let user = try await tx.users.find(id: userId) else {
                throw BreakglassError.unauthenticated
            }
            try await tx.audit.append(AuditEvent(type: .webLogout, at: now, actor: user.name, actorRoles: user.roles, origin: origin))
            return AuthUser(id: user.id, name: user.name, roles: user.roles)
        }
    }
}
