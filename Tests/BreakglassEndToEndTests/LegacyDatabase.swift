import BreakglassCore
import BreakglassCredentials
import BreakglassStore
import BreakglassTestSupport
import Foundation
import Logging
import PostgresNIO

/// A database as an older build left it: its history replayed migration by migration up to `level`, each
/// step followed by the rows a build at that step wrote, in the columns that schema had. Written in SQL
/// here, not through today's repositories, because today's code writes columns the older schemas lack.
struct LegacyDatabase {
    let database: TestDatabase
    let level: Int
    let masterKey: [UInt8]
    let box: SecretBox
    /// The broker clock's "now" when the test upgrades.
    let now: Date

    let engineer = Account(name: "erin", roles: ["engineer"])
    let reviewer = Account(name: "cora", roles: ["admin", "compliance"])
    /// Ended three days ago; its retro PR is overdue (in the compliance queue once 0005 gives it an obligation).
    let endedSession = Secrets.sessionId()
    /// Active now, with its page not yet routed.
    let activeSession = Secrets.sessionId()
    /// Activated after migration 0005 (level 5 only): its obligation carries a real ladder, escalations and a review.
    let newerSession = Secrets.sessionId()
    let hookURL: String

    struct Account {
        let id = UUID()
        let name: String
        let roles: [String]
        let seed = Secrets.randomBytes(20)
        let token = Secrets.apiToken()
        var secret: String { Base32.encode(seed) }
    }

    /// Replays the history up to `level` on a fresh database.
    static func create(level: Int, masterKey: [UInt8], now: Date, hookURL: String) async throws -> LegacyDatabase {
        let legacy = LegacyDatabase(database: try await TestDatabase.create(migrate: false), level: level,
                                    masterKey: masterKey, box: try SecretBox(keyBytes: masterKey), now: now, hookURL: hookURL)
        let all = try Migrator.load(directory: TestDatabase.sqlDirectory)
        for version in 1...level {
            try await legacy.owner { try await all.upTo(version).migrate($0, logger: TestDatabase.logger) }
            try await legacy.owner { database in try await database.transaction { tx in try await legacy.seed(after: version, tx) } }
        }
        return legacy
    }

    /// Applies every migration of this build, as `breakglassd` does on start.
    func upgrade() async throws {
        let migrator = try Migrator.load(directory: TestDatabase.sqlDirectory)
        try await owner { try await migrator.migrate($0, logger: TestDatabase.logger) }
    }

    /// What a build whose newest migration was `version` added to the data.
    private func seed(after version: Int, _ tx: Tx) async throws {
        switch version {
        case 1: try await seedAccountsTargetsSessions(tx)
        case 2: try await seedAuditLog(tx)
        case 4: try await seedChannelAndDeliveries(tx)
        case 5: try await seedRetroObligation(tx)
        default: break  // 0003 added the runtime role only
        }
    }

    @discardableResult
    private func owner<T: Sendable>(_ body: @Sendable (Database) async throws -> T) async throws -> T {
        try await Database.withDatabase(database.owner, logger: TestDatabase.logger, body)
    }

    private func run(_ tx: Tx, _ query: PostgresQuery) async throws {
        _ = try await tx.connection.query(query, logger: TestDatabase.logger).collect()
    }

    private func credentialRef(_ sessionId: String, kid: String) -> String {
        #"{"kind": "token", "keyId": "\#(kid)", "tokenId": "\#(sessionId)", "audience": "payments-api"}"#
    }

    private func pagePayload(_ sessionId: String, expiresAt: Date, retroDueAt: Date) -> String {
        let payload = ["user": engineer.name, "target": "payments-db", "reason": "INC-88 replica lag, promote standby", "incident": "INC-88",
                       "session_id": sessionId, "expires_at": Timestamp.format(expiresAt), "retro_due_at": Timestamp.format(retroDueAt)]
        return String(decoding: try! JSONSerialization.data(withJSONObject: payload, options: [.sortedKeys]), as: UTF8.self)
    }

    // MARK: 0001 accounts, targets, sessions, outbox

    private func seedAccountsTargetsSessions(_ tx: Tx) async throws {
        let created = now - 30 * 86400
        // Codes of the last hour are spent, as an account in use would have them.
        let lastStep = Int64((now.timeIntervalSince1970 - 3600) / 30)
        for account in [engineer, reviewer] {
            let sealed = Data(try box.seal(account.seed, context: UserRecord.seedContext(account.id)))
            try await run(tx, """
                INSERT INTO users (id, name, roles, created_at, created_by, totp_seed_enc, totp_confirmed, totp_last_step)
                VALUES (\(account.id), \(account.name), \(account.roles), \(created), 'server', \(sealed), true, \(lastStep))
                """)
            try await run(tx, "INSERT INTO api_tokens (token_hash, user_id, created_at) VALUES (\(Data(Secrets.hash(account.token))), \(account.id), \(created))")
            try await run(tx, """
                INSERT INTO enrollment_codes (code_hash, user_id, created_at, expires_at, used_at)
                VALUES (\(Data(Secrets.hash(Secrets.enrollmentCode()))), \(account.id), \(created), \(created + 86400), \(created + 60))
                """)
        }
        try await run(tx, "INSERT INTO totp_failures (user_id, failed_at) VALUES (\(engineer.id), \(now - 7200))")
        try await run(tx, """
            INSERT INTO targets (name, kind, audience, max_ttl_seconds, max_total_seconds, retro_deadline_seconds, requesters,
                                 created_at, updated_at, updated_by)
            VALUES ('payments-db', 'token', 'payments-api', 3600, 7200, 86400, ARRAY['role:engineer'], \(created), \(created), \(reviewer.name))
            """)
        let key = try TokenIssuer.generateKey(box: box, now: created)
        try await run(tx, """
            INSERT INTO signing_keys (kid, algorithm, public_key, private_key_enc, created_at)
            VALUES (\(key.kid), \(key.algorithm), \(Data(key.publicKey)), \(Data(key.privateKeyEnc)), \(created))
            """)
        for (id, activated, ended) in [(endedSession, now - 3 * 86400, true), (activeSession, now - 600, false)] {
            let expires = activated + 1800, retroDue = activated + 86400
            try await run(tx, """
                INSERT INTO sessions (id, user_id, target, credential_kind, reason, incident, state, activated_at, expires_at, hard_limit,
                                      retro_due_at, extensions, closed_at, closed_by, close_reason, credential_ref, client_address, user_agent)
                VALUES (\(id), \(engineer.id), 'payments-db', 'token', 'INC-88 replica lag, promote standby', 'INC-88',
                        \(ended ? "ended" : "active"), \(activated), \(expires), \(activated + 7200), \(retroDue), 0,
                        \(ended ? activated + 1200 : nil), \(ended ? engineer.name : nil), \(ended ? "standby promoted" : nil),
                        \(credentialRef(id, kid: key.kid))::jsonb, '10.0.0.7', 'breakglass-cli/0.9')
                """)
            try await run(tx, """
                INSERT INTO outbox (id, event_type, session_id, target, payload, created_at, fanned_out_at)
                VALUES (\(UUID()), 'session.activated', \(id), 'payments-db', \(pagePayload(id, expiresAt: expires, retroDueAt: retroDue))::jsonb,
                        \(activated), \(ended ? activated : nil))
                """)
        }
    }

    // MARK: 0002 audit log

    private func seedAuditLog(_ tx: Tx) async throws {
        let activated = now - 3 * 86400
        let engineerRoles = engineer.roles.compactMap(Role.init(rawValue:))
        let cli = RequestOrigin(address: "10.0.0.7", userAgent: "breakglass-cli/0.9")
        // The store's own append: it is what keeps the chain heads in step, and it writes only 0002's columns.
        try await tx.audit.append(AuditEvent(type: .userEnrolled, at: now - 30 * 86400, actor: engineer.name, actorRoles: engineerRoles, origin: cli))
        try await tx.audit.append(AuditEvent(type: .targetSaved, at: now - 30 * 86400, actor: reviewer.name, actorRoles: [.admin], origin: cli,
                                             target: "payments-db", details: ["audience": "payments-api"]))
        for (id, at) in [(endedSession, activated), (activeSession, now - 600)] {
            try await tx.audit.append(AuditEvent(type: .sessionActivated, at: at, actor: engineer.name, actorRoles: engineerRoles, origin: cli,
                                                 target: "payments-db", sessionId: id, reason: "INC-88 replica lag, promote standby",
                                                 incident: "INC-88", details: ["mfa": "totp", "mfa_outcome": "success", "credential_kind": "token"]))
        }
        try await tx.audit.append(AuditEvent(type: .sessionEnded, at: activated + 1200, actor: engineer.name, actorRoles: engineerRoles,
                                             origin: cli, target: "payments-db", sessionId: endedSession, reason: "standby promoted",
                                             incident: "INC-88", details: ["requester": engineer.name, "token_id": endedSession]))
    }

    // MARK: 0004 channels and deliveries

    private func seedChannelAndDeliveries(_ tx: Tx) async throws {
        let id = UUID(), at = now - 3 * 86400
        let config = try JSONEncoder().encode(ChannelConfig(url: hookURL, secrets: [StandardWebhook.generateSecret()]))
        let sealed = Data(try box.seal(Array(config), context: ChannelRecord.context(id)))
        try await run(tx, """
            INSERT INTO channels (id, name, kind, config_enc, host, events, targets, created_at, updated_at, updated_by)
            VALUES (\(id), 'sec-hook', 'webhook', \(sealed), '127.0.0.1', ARRAY['session.*'], ARRAY[]::text[], \(at), \(at), \(reviewer.name))
            """)
        let delivery = UUID()
        try await run(tx, """
            INSERT INTO deliveries (id, outbox_id, channel_id, state, attempts, next_attempt_at, created_at, finished_at)
            SELECT \(delivery), o.id, \(id), 'delivered', 1, o.created_at, o.created_at, o.created_at + interval '1 second'
            FROM outbox o WHERE o.session_id = \(endedSession)
            """)
        try await run(tx, """
            INSERT INTO delivery_attempts (delivery_id, attempted_at, latency_ms, status_code, outcome, instance)
            VALUES (\(delivery), \(at + 1), 41, 200, 'delivered', 'bg-legacy1')
            """)
    }

    // MARK: 0005 retro obligations

    private func seedRetroObligation(_ tx: Tx) async throws {
        let activated = now - 2 * 86400, due = activated + 86400
        try await run(tx, "UPDATE users SET github_login = 'cora-gh' WHERE id = \(reviewer.id)")
        try await run(tx, """
            INSERT INTO sessions (id, user_id, target, credential_kind, reason, incident, state, activated_at, expires_at, hard_limit,
                                  retro_due_at, closed_at, closed_by, close_reason, credential_ref)
            SELECT \(newerSession), \(engineer.id), 'payments-db', 'token', 'INC-91 disk full on primary', 'INC-91', 'expired', \(activated),
                   \(activated + 1800), \(activated + 7200), \(due), \(activated + 1800), 'server', 'expired',
                   jsonb_set(credential_ref, '{tokenId}', to_jsonb(\(newerSession)::text))
            FROM sessions WHERE id = \(endedSession)
            """)
        let ladder = String(decoding: try JSONEncoder().encode(EscalationLadder.standard), as: UTF8.self)
        let pr = "https://github.com/acme/payments/pull/17"
        try await run(tx, """
            INSERT INTO retro_obligations (session_id, status, window_start, due_at, ladder, next_level, next_due_at, pr_url, pr_source,
                                           linked_at, linked_by, first_linked_at, last_rejection)
            VALUES (\(newerSession), 'linked', \(activated), \(due), \(ladder)::jsonb, 2, NULL, \(pr), 'cli', \(activated + 60000),
                    \(engineer.name), \(activated + 30000), 'describe the rollback')
            """)
        for (level, fraction) in [(0, 0.5), (1, 0.9)] {
            let at = activated + 86400 * fraction
            try await run(tx, """
                INSERT INTO retro_escalations (session_id, level, rung, scheduled_at, fired_at, outcome)
                VALUES (\(newerSession), \(level), 'reminder', \(at), \(at + 1), 'paged')
                """)
        }
        try await run(tx, """
            INSERT INTO retro_reviews (session_id, decision, reviewer, note, pr_url, decided_at)
            VALUES (\(newerSession), 'rejected', \(reviewer.name), 'describe the rollback', \(pr), \(activated + 40000))
            """)
        try await run(tx, """
            INSERT INTO outbox (id, event_type, session_id, target, payload, created_at, fanned_out_at)
            VALUES (\(UUID()), 'retro.linked', \(newerSession), 'payments-db', \(pagePayload(newerSession, expiresAt: activated + 1800, retroDueAt: due))::jsonb,
                    \(activated + 60000), \(activated + 60000))
            """)
        try await tx.audit.append(AuditEvent(type: .retroLinked, at: activated + 60000, actor: engineer.name, actorRoles: [.engineer],
                                             target: "payments-db", sessionId: newerSession, details: ["pr_url": pr, "source": "cli"]))
    }
}
