import BreakglassCore
import BreakglassCredentials
import BreakglassProxy
import BreakglassStore
import Foundation
import Logging
import NIOConcurrencyHelpers

/// Where clients reach a broker's recording proxy.
public struct ProxyEndpoint: Codable, Sendable, Equatable {
    /// Nil when the proxy listens on every address: the client then uses its broker URL's host.
    public var host: String?
    public var port: Int
    /// Whether the proxy offers TLS (the broker's certificate); the client then insists on it.
    public var tls: Bool

    public init(host: String?, port: Int, tls: Bool) {
        self.host = host
        self.port = port
        self.tls = tls
    }
}

/// How the engineer logs in to the recording proxy for a `recorded` session: the session id as user name and
/// a proxy token as password (shown once, at activation). The target's role and its password stay in the broker.
public struct ProxyLogin: Codable, Sendable, Equatable {
    public var user: String
    /// Nil after an extension: the token shown at activation keeps working.
    public var password: String?
    public var host: String?
    public var port: Int
    public var database: String
    public var tls: Bool
}

/// This instance's recording proxy as the rest of the broker sees it: whether and where it listens, the
/// live client connections (cut when their session closes), and the journal that commits statements in groups.
public final class RecordingProxy: Sendable {
    public let connections = ProxyConnections()
    let journal: AuditBatcher
    /// Failed logins per client address: past the budget an address is refused before any database read.
    let failedLogins = RateLimiter()
    private let listening = NIOLockedValueBox<ProxyEndpoint?>(nil)

    init(database: Database, logger: Logger) {
        journal = AuditBatcher(database: database) { error, count in
            logger.error("statement results could not be recorded", metadata: ["audit.events": "\(count)", "error": "\(error)"])
        }
    }

    /// Nil until a proxy listens here; `recorded` sessions are refused before anything is committed until then.
    public var endpoint: ProxyEndpoint? { listening.withLockedValue { $0 } }

    public func listening(at endpoint: ProxyEndpoint?) {
        listening.withLockedValue { $0 = endpoint }
    }
}

extension Broker {
    /// Fail closed before the activation commits: a `recorded` target needs a proxy on this instance, or the
    /// engineer would get a session with no way in (and a role nobody records).
    func checkRecordedAccessAvailable(_ target: Target) throws {
        guard target.postgres?.access == .recorded, recordingProxy.endpoint == nil else { return }
        throw BreakglassError(.unavailable, "proxy_not_listening",
                              "\(target.name) is a recorded target, but this broker's PostgreSQL proxy is not listening (start breakglassd with --proxy-port); nothing was issued")
    }

    /// For a `recorded` session: keeps the role's password sealed to the session and the hash of a new proxy
    /// token, and returns the login the engineer is shown once. Called after the role was made.
    func storeProxyCredential(for session: EmergencySession, target: Target, secret: IssuedSecret, now: Date) async throws -> ProxyLogin {
        guard let rolePassword = secret.postgres?.password, let settings = target.postgres else {
            throw CredentialStepFailure(done: secret.steps, failedStep: "store_proxy_credential", message: "the role was made without a password")
        }
        guard let endpoint = recordingProxy.endpoint else {
            throw CredentialStepFailure(done: secret.steps, failedStep: "store_proxy_credential", message: "the proxy stopped listening")
        }
        let token = ProxyToken.generate()
        do {
            let sealed = try box.seal(Array(rolePassword.utf8), context: PostgresTarget.rolePasswordContext(sessionId: session.id))
            try await database.transaction { tx in
                try await tx.proxyCredentials.insert(sessionId: session.id, tokenHash: ProxyToken.hash(token), rolePasswordEnc: sealed, now: now)
            }
        } catch {
            throw CredentialStepFailure(done: secret.steps, failedStep: "store_proxy_credential", message: "the broker's database refused it")
        }
        return ProxyLogin(user: session.id, password: token, host: endpoint.host, port: endpoint.port, database: settings.database, tls: endpoint.tls)
    }

    /// The proxy login after an extension: the same token keeps working, so none is shown.
    func proxyLoginAfterExtension(for session: EmergencySession, target: Target) -> ProxyLogin? {
        guard let settings = target.postgres, settings.access == .recorded, let endpoint = recordingProxy.endpoint else { return nil }
        return ProxyLogin(user: session.id, password: nil, host: endpoint.host, port: endpoint.port, database: settings.database, tls: endpoint.tls)
    }

    /// The proxy's questions, answered from the store: who may connect, and where their records go.
    public func proxyHooks() -> ProxyHooks {
        ProxyHooks(
            authenticate: { user, password, client in await admitProxyClient(user: user, token: password, client: client) },
            record: { connection, records in try await journalStatements(connection, records) },
            recordOutcomes: { connection, records in await queueOutcomes(connection, records) },
            opened: { connection in
                let parameters = connection.parameters.map { "\($0.name)=\($0.value)" }.joined(separator: " ")
                try await journalConnection(connection, type: .proxyConnected, details: ["parameters": parameters])
            },
            closed: { connection, reason in
                try? await journalConnection(connection, type: .proxyDisconnected, details: ["reason": reason])
            },
            stillActive: { session in await sessionStillActive(session) })
    }

    /// Lets a client in when its user name is an active `recorded` session and its password that session's
    /// proxy token; every other case is the same refusal (logged, never detailed to the client).
    func admitProxyClient(user: String, token: String, client: String?) async -> ProxyGrant? {
        let key = "proxy_login_failures|" + RateLimiter.clientKey(client)
        if await recordingProxy.failedLogins.wait(key, budget: settings.rateLimits.authFailures) != nil {
            logger.notice("proxy refused a client: too many failed logins from its address", metadata: ["client.address": "\(client ?? "-")"])
            return nil
        }
        let grant = await checkProxyClient(user: user, token: token, client: client)
        if grant == nil { _ = await recordingProxy.failedLogins.admit(key, budget: settings.rateLimits.authFailures) }
        return grant
    }

    private func checkProxyClient(user: String, token: String, client: String?) async -> ProxyGrant? {
        do {
            // Session ids are short; anything longer is no session of ours and costs no query.
            guard user.count <= 64, token.count <= 128 else { return nil }
            let (record, stored, target) = try await database.read { tx in
                let record = try await tx.sessions.find(id: user)
                let stored = record == nil ? nil : try await tx.proxyCredentials.find(sessionId: user)
                let target = record == nil ? nil : try await tx.targets.find(named: record!.session.target)
                return (record, stored, target)
            }
            let now = clock.now()
            switch ProxyAdmission.decide(session: record?.session, storedTokenHash: stored?.tokenHash, presentedToken: token, now: now) {
            case .refuse(let refusal):
                logger.notice("proxy refused a client", metadata: ["proxy.refusal": "\(refusal.rawValue)", "client.address": "\(client ?? "-")"])
                return nil
            case .admit:
                break
            }
            guard let record, let stored, let target, let settings = target.postgres else { return nil }
            let password = try box.open(stored.rolePasswordEnc, context: PostgresTarget.rolePasswordContext(sessionId: record.session.id))
            return ProxyGrant(session: record.session.id, targetName: target.name, requester: record.session.requester,
                              target: .init(host: settings.host, port: settings.port, database: settings.database, tls: settings.tls),
                              role: PostgresTarget.roleName(sessionId: record.session.id), password: String(decoding: password, as: UTF8.self),
                              redaction: settings.redactParameters == true ? .redactValues : .recordValues)
        } catch {
            logger.error("proxy could not check a client; refused", metadata: ["error": "\(error)"])
            return nil
        }
    }

    /// A database that cannot answer keeps the connection (the target's own VALID UNTIL and the revoke still apply).
    func sessionStillActive(_ id: String) async -> Bool {
        do {
            let record = try await database.read { try await $0.sessions.find(id: id) }
            return record?.session.state(at: clock.now()) == .active
        } catch {
            return true
        }
    }

    func journalStatements(_ connection: ProxyConnection, _ records: [StatementRecord]) async throws {
        try await recordingProxy.journal.append(statementEvents(connection, records))
    }

    /// Results follow their statements into the chain; the client does not wait for their commit.
    func queueOutcomes(_ connection: ProxyConnection, _ records: [StatementRecord]) async {
        await recordingProxy.journal.submit(statementEvents(connection, records))
    }

    private func statementEvents(_ connection: ProxyConnection, _ records: [StatementRecord]) -> [AuditEvent] {
        let now = clock.now()
        let grant = connection.grant
        return records.map {
            $0.auditEvent(session: grant.session, connection: connection.id, target: grant.targetName, actor: grant.requester, at: now)
        }
    }

    private func journalConnection(_ connection: ProxyConnection, type: AuditEventType, details: [String: String]) async throws {
        let grant = connection.grant
        let event = AuditEvent(type: type, at: clock.now(), actor: grant.requester, origin: RequestOrigin(address: connection.client, userAgent: nil),
                               target: grant.targetName, sessionId: grant.session,
                               details: details.merging(["connection": connection.id, "role": grant.role]) { $1 })
        try await recordingProxy.journal.append([event])
    }
}

extension Broker {
    static let statementLogTypes: Set<AuditEventType> = [.proxyConnected, .sessionStatement, .sessionStatementResult, .proxyDisconnected]

    /// What was run through the proxy in a session, in the order it was committed (each statement's intent
    /// before it ran, then its result), with the chain position of every row. Seen by the engineer who broke
    /// glass, admins and compliance; a read of the audit log, so audited.
    public func statementLog(sessionId: String, actor: AuthUser, origin: RequestOrigin) async throws -> [AuditEventView] {
        let now = clock.now()
        return try await database.transaction { tx in
            guard let record = try await tx.sessions.find(id: sessionId), record.userId == actor.id || actor.seesEverything else {
                throw BreakglassError.sessionUnknown(sessionId)
            }
            let rows = try await tx.audit.rows(sessionId: sessionId, limit: 1_000_000)
            let events = try rows.compactMap { row -> AuditEventView? in
                guard let event = AuditChain.decode(body: row.body) else { throw BreakglassError.corruptRow("audit event \(row.id)") }
                return Self.statementLogTypes.contains(event.type) ? AuditEventView(id: row.id, seq: row.seq, hash: row.hash, event: event) : nil
            }
            try await tx.audit.append(AuditEvent(type: .sessionViewed, at: now, actor: actor.name, actorRoles: actor.roles, origin: origin,
                                                 target: record.session.target, sessionId: sessionId,
                                                 details: ["view": "statement_log", "events": String(events.count)]))
            return events
        }
    }
}
