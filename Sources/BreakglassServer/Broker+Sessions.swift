import BreakglassCore
import BreakglassCredentials
import BreakglassStore
import Foundation

/// A credential handed out once, with the session it belongs to.
public struct IssuedCredential: Codable, Sendable {
    public var kind: CredentialKind
    /// `token`: the signed bearer token, its audience and signing key.
    public var token: String?
    public var audience: String?
    public var keyId: String?
    /// `postgres` in direct mode: the login role; its password only at activation.
    public var postgres: PostgresLogin?
    /// `postgres` in recorded mode: the proxy login; its token only at activation.
    public var proxy: ProxyLogin?
    public var expiresAt: Date
}

public struct SessionGrant: Codable, Sendable {
    public var session: EmergencySession
    public var credential: IssuedCredential
    public var pagesQueued: [String]
}

public struct SessionRequest: Sendable {
    public var target: String
    public var reason: String
    public var incident: String
    public var ttl: TimeInterval?
    public var totp: String
    /// A rehearsal: the same path, with a compressed retro deadline and ladder and every page marked DRILL.
    public var drill: Bool

    public init(target: String, reason: String, incident: String, ttl: TimeInterval?, totp: String, drill: Bool = false) {
        self.target = target
        self.reason = reason
        self.incident = incident
        self.ttl = ttl
        self.totp = totp
        self.drill = drill
    }
}

extension Broker {
    /// Breaks glass for the holder of `bearer`: authenticates them (refusing as `authenticate` does), checks the
    /// target's policy, proves a fresh TOTP code, records the activation with its audit event and pages in one
    /// transaction, and only after that commit signs the credential.
    public func request(_ request: SessionRequest, bearer: String, origin: RequestOrigin) async throws -> SessionGrant {
        let now = clock.now()
        let tokenHash = try Self.apiTokenHash(bearer)
        let id = Secrets.sessionId()
        let activated: (session: EmergencySession, target: Target, actor: AuthUser)
        if let done = try await activateOnGlance(request, tokenHash: tokenHash, id: id, origin: origin, now: now) {
            activated = done
        } else {
            activated = try await activateUnderLocks(request, tokenHash: tokenHash, id: id, origin: origin, now: now)
        }
        let (session, target, actor) = activated
        logger.notice(session.drill ? "drill session activated" : "session activated",
                      metadata: ["session.id": "\(session.id)", "session.target": "\(target.name)", "user.name": "\(actor.name)"])
        return SessionGrant(session: session, credential: try await issueCredential(for: session, target: target, actor: actor, now: now),
                            pagesQueued: [AuditEventType.sessionActivated.rawValue])
    }

    /// The common case in two round trips, with no lock held across the decision: the requester, their token and the
    /// target are read unlocked, the activation is decided, and one statement writes it all only if none of the three
    /// rows changed since and the step is unspent (`recordIfUnchanged`). Anything else (a refusal, which must be
    /// recorded, a changed row, a spent step) returns nil having written nothing, and `activateUnderLocks` decides
    /// again from the start.
    private func activateOnGlance(_ request: SessionRequest, tokenHash: [UInt8], id: String, origin: RequestOrigin,
                                  now: Date) async throws -> (EmergencySession, Target, AuthUser)? {
        // Both statements on one connection lease: no lock is held between them, and the decision is a few microseconds.
        try await database.autocommit { tx in
            guard let glance = try await tx.activations.glance(apiTokenHash: tokenHash, target: request.target), let target = glance.target,
                  let actor = try? Self.admit(glance.user, tokenHash: tokenHash, tokenExpiresAt: glance.tokenExpiresAt, now: now),
                  let activation = try? decideActivation(request, id: id, user: glance.user, target: target, origin: origin, now: now),
                  activation.isAllowed, let step = acceptedStep(totp: request.totp, user: glance.user, now: now) else { return nil }
            let record = activationRecord(activation, user: glance.user, step: step, target: target, origin: origin, now: now)
            guard try await tx.activations.recordIfUnchanged(record, tokenHash: tokenHash, glance: glance) else { return nil }
            return (activation.session, target, actor)
        }
    }

    /// The requester's row and the shard's head locked from the first statement to the commit: every refusal is
    /// recorded here, with the failure counts and lockout `prove` keeps.
    private func activateUnderLocks(_ request: SessionRequest, tokenHash: [UInt8], id: String, origin: RequestOrigin,
                                    now: Date) async throws -> (EmergencySession, Target, AuthUser) {
        try await database.transactionCommittingRefusal { tx -> Outcome<(EmergencySession, Target, AuthUser)> in
            // The activation's event is the session's, so its shard is known before anything is read: the first
            // statement locks that shard's head with the requester, and the write links to it.
            guard let subject = try await tx.activations.subject(apiTokenHash: tokenHash, target: request.target,
                                                               auditShard: AuditChain.shard(for: id)) else {
                throw BreakglassError.unauthenticated
            }
            let user = subject.user
            let actor = try Self.admit(user, tokenHash: tokenHash, tokenExpiresAt: subject.tokenExpiresAt, now: now)
            guard let target = subject.target else { throw BreakglassError.targetUnknown(try Validation.targetName(request.target)) }
            let activation = try decideActivation(request, id: id, user: user, target: target, origin: origin, now: now)
            guard activation.isAllowed else {
                try await tx.audit.append(activation.denial("not_allowed"))
                return .refused(.forbidden("you are not allowed to request \(target.name); ask an admin to add you to its requesters"))
            }
            let step: Int64
            switch try await prove(totp: request.totp, user: user, tx: tx, now: now, spending: false, denial: activation.denial) {
            case .refused(let error, let event):
                try await tx.outbox.enqueue(type: AuditEventType.sessionDenied.rawValue, sessionId: id, payload: activation.denialPage(error.code),
                                            now: now)
                try await tx.audit.append(event)
                return .refused(error)
            case .proven(let proven):
                step = proven
            }
            // The spend, the session, its obligation, its page and its audit event commit together.
            try await tx.activations.record(activationRecord(activation, user: user, step: step, target: target, origin: origin, now: now),
                                            extending: subject)
            return .done((activation.session, target, actor))
        }
    }

    /// The policy's decision on an activation of `target` (which exists) by `user`.
    private func decideActivation(_ request: SessionRequest, id: String, user: UserRecord, target: Target, origin: RequestOrigin,
                                  now: Date) throws -> Activation {
        _ = try Validation.targetName(request.target)
        try checkRecordedAccessAvailable(target)
        return try Activation.decide(id: id, requester: user.name, roles: user.roles, target: target, reason: request.reason,
                                     incident: request.incident, ttl: request.ttl, drill: request.drill, ladder: settings.retroLadder,
                                     origin: origin, now: now)
    }

    /// Everything a proven, allowed activation writes.
    private func activationRecord(_ activation: Activation, user: UserRecord, step: Int64, target: Target, origin: RequestOrigin,
                                  now: Date) -> ActivationRecord {
        let session = activation.session
        let credential = CredentialRef(kind: target.kind, keyId: issuer.signingKid, tokenId: session.id, audience: target.audience,
                                       role: target.kind == .postgres ? PostgresTarget.roleName(sessionId: session.id) : nil)
        return ActivationRecord(session: session, userId: user.id, step: step, credential: credential, origin: origin, obligation: activation.obligation,
                                pageType: Activation.pageType, page: session.pagePayload, event: activation.activated(keyId: issuer.signingKid), now: now)
    }

    /// Extends an active session by `ttl` after a fresh TOTP proof, within the target's caps, and issues a
    /// new credential carrying the new expiry.
    public func extend(sessionId: String, ttl: TimeInterval, totp: String, actor: AuthUser, origin: RequestOrigin) async throws -> SessionGrant {
        let now = clock.now()
        let (session, target) = try await database.transactionCommittingRefusal { tx -> Outcome<(EmergencySession, Target)> in
            guard let user = try await tx.users.find(id: actor.id, forUpdate: true) else { throw BreakglassError.unauthenticated }
            guard let record = try await tx.sessions.find(id: sessionId, forUpdate: true) else { throw BreakglassError.sessionUnknown(sessionId) }
            guard record.userId == user.id else {
                throw BreakglassError.forbidden("only the engineer who opened session \(sessionId) may extend it")
            }
            guard let target = try await tx.targets.find(named: record.session.target) else { throw BreakglassError.targetUnknown(record.session.target) }
            let extended = try record.session.extend(by: ttl, target: target, now: now)
            func denial(_ failure: String) -> AuditEvent {
                AuditEvent(type: .extensionDenied, outcome: .failure, at: now, actor: user.name, actorRoles: user.roles, origin: origin,
                           target: target.name, sessionId: sessionId, details: ["failure": failure, "mfa": "totp"])
            }
            if case .refused(let error, let event) = try await prove(totp: totp, user: user, tx: tx, now: now, denial: denial) {
                try await tx.audit.append(event)
                return .refused(error)
            }
            try await tx.sessions.update(extended, from: .active)
            let moved = try await moveRetroDeadline(tx: tx, session: extended, target: target, now: now)
            try await tx.outbox.enqueue(type: AuditEventType.sessionExtended.rawValue, sessionId: sessionId, payload: moved.pagePayload, now: now)
            try await tx.audit.append(AuditEvent(
                type: .sessionExtended, at: now, actor: user.name, actorRoles: user.roles, origin: origin, target: target.name,
                sessionId: sessionId, details: ["mfa": "totp", "mfa_outcome": "success", "added": TTL.format(ttl),
                                                "previous_expires_at": Timestamp.format(record.session.expiresAt),
                                                "expires_at": Timestamp.format(extended.expiresAt), "key_id": issuer.signingKid]))
            return .done((moved, target))
        }
        return SessionGrant(session: session, credential: try await extendCredential(for: session, target: target, actor: actor, now: now),
                            pagesQueued: [AuditEventType.sessionExtended.rawValue])
    }

    /// The engineer ends their own session early (admins may end anyone's).
    public func end(sessionId: String, actor: AuthUser, origin: RequestOrigin) async throws -> EmergencySession {
        try await close(sessionId: sessionId, actor: actor, origin: origin, type: .sessionEnded) { record, now in
            guard record.userId == actor.id || actor.has(.admin) else {
                throw BreakglassError.forbidden("only the engineer who opened session \(sessionId), or an admin, may end it")
            }
            return try record.session.end(by: actor.name, now: now)
        }
    }

    public func revoke(sessionId: String, reason: String, actor: AuthUser, origin: RequestOrigin) async throws -> EmergencySession {
        try actor.require(.admin, to: "revoke sessions")
        return try await close(sessionId: sessionId, actor: actor, origin: origin, type: .sessionRevoked) { record, now in
            try record.session.revoke(by: actor.name, reason: reason, now: now)
        }
    }

    private func close(sessionId: String, actor: AuthUser, origin: RequestOrigin, type: AuditEventType,
                       decide: @escaping @Sendable (SessionRecord, Date) throws -> EmergencySession) async throws -> EmergencySession {
        let now = clock.now()
        let closed = try await database.transaction { tx in
            guard let record = try await tx.sessions.find(id: sessionId, forUpdate: true) else { throw BreakglassError.sessionUnknown(sessionId) }
            let decided = try decide(record, now)
            try await tx.sessions.update(decided, from: .active)
            let closed = try await moveRetroDeadline(tx: tx, session: decided, target: nil, now: now)
            try await tx.outbox.enqueue(type: type.rawValue, sessionId: sessionId, payload: closed.pagePayload, now: now)
            try await tx.audit.append(AuditEvent(
                type: type, at: now, actor: actor.name, actorRoles: actor.roles, origin: origin, target: closed.target,
                sessionId: sessionId, reason: closed.closeReason, incident: closed.incident,
                details: ["requester": closed.requester, "token_id": record.credential.tokenId ?? sessionId,
                          "scheduled_expiry": Timestamp.format(record.session.expiresAt)]))
            return closed
        }
        // The close is committed: from here the credential is taken away, and a failure is paged and retried.
        await revokeCredential(of: closed)
        return closed
    }

    /// Records expiry of every session past its end, as of the broker's clock. Several instances may run it
    /// at once: claimed rows are skipped by the others. Returns how many sessions it closed.
    public func expireDueSessions(limit: Int = 100) async throws -> Int {
        let now = clock.now()
        let expired = try await database.transaction { tx in
            var closed: [EmergencySession] = []
            for session in try await tx.sessions.claimExpired(now: now, limit: limit) {
                guard let recorded = session.expire(now: now) else { continue }
                try await tx.sessions.update(recorded, from: .active)
                let expired = try await moveRetroDeadline(tx: tx, session: recorded, target: nil, now: now)
                try await tx.outbox.enqueue(type: AuditEventType.sessionExpired.rawValue, sessionId: expired.id,
                                            payload: expired.pagePayload, now: now)
                try await tx.audit.append(AuditEvent(
                    type: .sessionExpired, at: now, actor: nil, origin: .server, target: expired.target, sessionId: expired.id,
                    incident: expired.incident,
                    details: ["requester": expired.requester, "expired_at": Timestamp.format(expired.expiresAt),
                              "recorded_late_by": TTL.format(max(0, now.timeIntervalSince(expired.expiresAt)))]))
                closed.append(expired)
            }
            return closed
        }
        for session in expired { await revokeCredential(of: session) }
        return expired.count
    }

    public func revokedTokens() async throws -> [RevokedToken] {
        let now = clock.now()
        return try await database.read { try await $0.sessions.revokedTokens(now: now) }
    }

    public func nextExpiry() async throws -> Date? {
        try await database.read { try await $0.sessions.nextExpiry() }
    }

    public func session(id: String, actor: AuthUser) async throws -> EmergencySession {
        guard let record = try await database.read({ try await $0.sessions.find(id: id) }) else { throw BreakglassError.sessionUnknown(id) }
        guard record.userId == actor.id || actor.seesEverything else { throw BreakglassError.sessionUnknown(id) }
        return record.session.asSeen(at: clock.now())
    }

    public func sessions(actor: AuthUser, everyone: Bool, limit: Int = 200) async throws -> [EmergencySession] {
        if everyone && !actor.seesEverything {
            throw BreakglassError.forbidden("only admin and compliance may list everyone's sessions")
        }
        let now = clock.now()
        return try await database.read { tx in
            try await tx.sessions.list(userId: everyone ? nil : actor.id, limit: limit).map { $0.session.asSeen(at: now) }
        }
    }
}

extension EmergencySession {
    /// A session past its expiry reads as expired even before the reaper has recorded it.
    func asSeen(at now: Date) -> EmergencySession {
        guard let expired = expire(now: now) else { return self }
        return expired
    }
}
