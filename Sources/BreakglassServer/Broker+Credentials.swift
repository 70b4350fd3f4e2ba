import BreakglassCore
import BreakglassCredentials
import BreakglassStore
import Foundation

/// The credential's life around the session's: issued after the activation commits, moved after an
/// extension commits, taken away after a close commits, and what was left behind reconciled. Every call to
/// a backend that acts on a target is audited with its steps.
extension Broker {
    /// The broker's own name in the audit log when it acts on a target by itself.
    static let serverActor = "breakglassd"
    /// A closed session's leftovers are reconciled only after this long, so reconcile does not race the close's own revoke.
    static let reconcileGrace: TimeInterval = 30

    func backend(for kind: CredentialKind) throws -> any CredentialBackend {
        guard let backend = backends[kind] else {
            throw BreakglassError(.internalFailure, "credential_kind_unavailable", "this broker has no backend for \(kind.rawValue) credentials")
        }
        return backend
    }

    /// The target with its managing secret opened for one call.
    func credentialTarget(_ target: Target) async throws -> CredentialTarget {
        guard target.kind == .postgres else { return CredentialTarget(target: target) }
        guard let sealed = try await database.read({ try await $0.targets.managingPasswordEnc(named: target.name) }) else {
            throw BreakglassError.corruptRow("the managing password of target \(target.name)")
        }
        let password = try box.open(sealed, context: PostgresTarget.passwordContext(target.name))
        return CredentialTarget(target: target, managingPassword: String(decoding: password, as: UTF8.self))
    }

    /// Issues the credential of a committed activation. On failure the session is closed (audited and paged),
    /// anything the backend may have left is taken away, and the engineer is told why.
    func issueCredential(for session: EmergencySession, target: Target, actor: AuthUser, now: Date) async throws -> IssuedCredential {
        var secret: IssuedSecret
        var proxy: ProxyLogin?
        do {
            secret = try await backend(for: target.kind).issue(session: session, on: try await credentialTarget(target), now: now)
            if target.postgres?.access == .recorded {
                // The engineer gets a proxy token, never the role's password: only the proxy logs in as the role.
                proxy = try await storeProxyCredential(for: session, target: target, secret: secret, now: now)
                secret.postgres = nil
            }
        } catch {
            let failure = Self.stepFailure(error)
            logger.error("credential could not be issued; closing the session",
                         metadata: ["session.id": "\(session.id)", "session.target": "\(target.name)", "credential.step": "\(failure.failedStep)",
                                    "error": "\(failure.message)"])
            try await failActivation(session, failure: failure, now: now)
            await revokeCredential(of: session, target: target)
            throw BreakglassError(.unavailable, "credential_failed",
                                  "the \(target.kind.rawValue) credential on \(target.name) could not be issued (\(failure)); session \(session.id) was closed and nothing usable was left on the target")
        }
        var details = ["credential_kind": target.kind.rawValue, "steps": secret.steps.joined(separator: ","),
                       "role": target.kind == .postgres ? PostgresTarget.roleName(sessionId: session.id) : ""]
        if let access = target.postgres?.access { details["access"] = access.rawValue }
        try await auditTargetStep(.credentialIssued, session: session, target: target, now: now, details: details)
        return IssuedCredential(kind: secret.kind, token: secret.token, audience: secret.audience, keyId: secret.keyId,
                                postgres: secret.postgres, proxy: proxy, expiresAt: session.expiresAt)
    }

    /// What a credential backend did on a target, audited for kinds that act on one (a JWT is only signed).
    private func auditTargetStep(_ type: AuditEventType, session: EmergencySession, target: Target, now: Date,
                                 details: [String: String]) async throws {
        guard target.kind != .token else { return }
        _ = try await database.transaction { tx in
            try await tx.audit.append(AuditEvent(type: type, at: now, actor: Self.serverActor, target: target.name, sessionId: session.id,
                                                 details: details.merging(["valid_until": Timestamp.format(session.expiresAt)]) { $1 }))
        }
    }

    /// The session stays extended (its record committed); a target that did not move the credential's end is
    /// audited and the engineer told, since their login will stop at the old expiry.
    func extendCredential(for session: EmergencySession, target: Target, actor: AuthUser, now: Date) async throws -> IssuedCredential {
        let secret: IssuedSecret
        do {
            secret = try await backend(for: target.kind).extend(session: session, on: try await credentialTarget(target), now: now)
        } catch {
            let failure = Self.stepFailure(error)
            _ = try await database.transaction { tx in
                try await tx.audit.append(AuditEvent(
                    type: .credentialExtendFailed, outcome: .failure, at: now, actor: Self.serverActor, target: target.name, sessionId: session.id,
                    details: ["failed_step": failure.failedStep, "steps": failure.done.joined(separator: ","), "error": failure.message]))
            }
            throw BreakglassError(.unavailable, "credential_extend_failed",
                                  "session \(session.id) was extended to \(Timestamp.format(session.expiresAt)), but the credential on \(target.name) was not (\(failure)); it stops working at the previous expiry")
        }
        try await auditTargetStep(.credentialExtended, session: session, target: target, now: now,
                                  details: ["steps": secret.steps.joined(separator: ",")])
        let proxy = proxyLoginAfterExtension(for: session, target: target)
        return IssuedCredential(kind: secret.kind, token: secret.token, audience: secret.audience, keyId: secret.keyId,
                                postgres: proxy == nil ? secret.postgres : nil, proxy: proxy, expiresAt: session.expiresAt)
    }

    /// Closes a session whose credential could not be issued as `failed`, with the step that failed as its reason.
    private func failActivation(_ session: EmergencySession, failure: CredentialStepFailure, now: Date) async throws {
        _ = try await database.transaction { tx in
            guard let record = try await tx.sessions.find(id: session.id, forUpdate: true), record.session.state == .active else { return }
            let failed = try record.session.fail(step: failure.failedStep, now: now)
            try await tx.sessions.update(failed, from: .active)
            let closed = try await moveRetroDeadline(tx: tx, session: failed, target: nil, now: now)
            let details = ["failed_step": failure.failedStep, "steps": failure.done.joined(separator: ","), "error": String(failure.message.prefix(500)),
                           "state": closed.state.rawValue, "requester": closed.requester]
            try await tx.audit.append(AuditEvent(
                type: .credentialIssueFailed, outcome: .failure, at: now, actor: Self.serverActor, target: closed.target, sessionId: closed.id,
                reason: closed.closeReason, incident: closed.incident, details: details))
            try await tx.outbox.enqueue(type: AuditEventType.credentialIssueFailed.rawValue, sessionId: closed.id,
                                        payload: closed.pagePayload.merging(details) { $1 }, now: now)
        }
    }

    /// Takes away what a closed session has on its target. A failure is audited and paged
    /// (`credential.revoke_failed`); the reconcile pass retries until it is done.
    func revokeCredential(of session: EmergencySession, target known: Target? = nil) async {
        let now = clock.now()
        // This instance's proxy connections end first (the target's revoke ends those of other instances,
        // whose connections to the target are the role's backends), then the proxy secrets are forgotten.
        await recordingProxy.connections.cut(session: session.id)
        do {
            guard let target = try await resolve(known, name: session.target), target.kind != .token else { return }
            if target.postgres?.access == .recorded {
                _ = try await database.transaction { tx in try await tx.proxyCredentials.delete(sessionId: session.id) }
            }
            do {
                let steps = try await backend(for: target.kind).revoke(sessionId: session.id, on: try await credentialTarget(target))
                try await recordRevoked(session: session, target: target, steps: steps, reconciled: false, now: now)
            } catch {
                let failure = Self.stepFailure(error)
                logger.error("credential could not be revoked; the reconcile pass retries",
                             metadata: ["session.id": "\(session.id)", "session.target": "\(target.name)",
                                        "credential.step": "\(failure.failedStep)", "error": "\(failure.message)"])
                let details = ["failed_step": failure.failedStep, "steps": failure.done.joined(separator: ","), "error": String(failure.message.prefix(500))]
                _ = try await database.transaction { tx in
                    try await tx.audit.append(AuditEvent(
                        type: .credentialRevokeFailed, outcome: .failure, at: now, actor: Self.serverActor, target: target.name,
                        sessionId: session.id, incident: session.incident, details: details))
                    try await tx.outbox.enqueue(type: AuditEventType.credentialRevokeFailed.rawValue, sessionId: session.id,
                                                payload: session.pagePayload.merging(details) { $1 }, now: now)
                }
            }
        } catch {
            // Not even the failure could be recorded (the database is away): reconcile finds the role later.
            logger.error("credential revocation could not be recorded", metadata: ["session.id": "\(session.id)", "error": "\(error)"])
        }
    }

    /// Removes, on every `postgres` target, the roles of this broker's sessions that are no longer active:
    /// revocations that failed, and those a broker that died never made. Roles of sessions this broker does
    /// not know (another broker's) are left alone. Returns how many it removed.
    public func reconcileCredentials() async throws -> Int {
        let now = clock.now()
        var removed = 0
        for target in try await database.read({ try await $0.targets.postgres() }) {
            let access: CredentialTarget
            let leftovers: [String]
            do {
                access = try await credentialTarget(target)
                leftovers = try await backend(for: target.kind).leftovers(on: access)
            } catch {
                logger.warning("reconcile could not list roles on target", metadata: ["session.target": "\(target.name)", "error": "\(Self.stepFailure(error))"])
                continue
            }
            for id in leftovers {
                do {
                    // The session row stays locked while its role is removed, so two instances never do it twice.
                    let done = try await database.transaction { tx -> Bool in
                        guard let record = try await tx.sessions.claim(id: id), record.session.target == target.name,
                              record.session.state != .active,
                              now.timeIntervalSince(record.session.closedAt ?? record.session.expiresAt) >= Self.reconcileGrace else { return false }
                        let steps = try await backend(for: target.kind).revoke(sessionId: id, on: access)
                        // A broker that was down at the close never forgot the session's proxy secrets either.
                        try await tx.proxyCredentials.delete(sessionId: id)
                        try await tx.audit.append(Self.revokedEvent(session: record.session, target: target, steps: steps, reconciled: true, now: now))
                        return true
                    }
                    if done { removed += 1 }
                } catch {
                    logger.warning("reconcile could not revoke a leftover credential",
                                   metadata: ["session.id": "\(id)", "session.target": "\(target.name)", "error": "\(Self.stepFailure(error))"])
                }
            }
        }
        return removed
    }

    private func recordRevoked(session: EmergencySession, target: Target, steps: [String], reconciled: Bool, now: Date) async throws {
        _ = try await database.transaction { tx in
            try await tx.audit.append(Self.revokedEvent(session: session, target: target, steps: steps, reconciled: reconciled, now: now))
        }
    }

    static func revokedEvent(session: EmergencySession, target: Target, steps: [String], reconciled: Bool, now: Date) -> AuditEvent {
        AuditEvent(type: .credentialRevoked, at: now, actor: serverActor, target: target.name, sessionId: session.id, incident: session.incident,
                   details: ["steps": steps.joined(separator: ","), "role": PostgresTarget.roleName(sessionId: session.id),
                             "by": reconciled ? "reconcile" : session.state.rawValue])
    }

    private func resolve(_ known: Target?, name: String) async throws -> Target? {
        if let known { return known }
        return try await database.read { try await $0.targets.find(named: name) }
    }

    static func stepFailure(_ error: any Error) -> CredentialStepFailure {
        if let failure = error as? CredentialStepFailure { return failure }
        if let error = error as? BreakglassError { return CredentialStepFailure(done: [], failedStep: "prepare", message: error.message) }
        return CredentialStepFailure(done: [], failedStep: "prepare", message: "\(error)")
    }

    /// Checks at set-up that the managing role can do everything a session will need; nothing is saved otherwise.
    func checkCredentialTarget(_ target: CredentialTarget) async throws {
        do {
            try await backend(for: target.target.kind).check(target)
        } catch {
            let failure = Self.stepFailure(error)
            throw BreakglassError(.invalidInput, "target_check_failed",
                                  "the broker cannot manage roles on \(target.target.name): \(failure.failedStep) failed: \(failure.message); nothing was saved")
        }
    }
}
