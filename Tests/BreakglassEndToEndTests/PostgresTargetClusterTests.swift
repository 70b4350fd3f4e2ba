import BreakglassCore
import BreakglassStore
import BreakglassTestSupport
import Foundation
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// The `postgres` kind in `direct` mode against a second, real PostgreSQL cluster of the test's own (a
/// `TargetCluster`), whose server configuration and server log the test controls: what the target records
/// of a session role's statements, and a broker killed with SIGKILL cleaning up after restart.
final class PostgresTargetClusterTests: BrokerTestCase {
    override var serverDelivers: Bool { false }
    var cluster: TargetCluster?
    let managerPassword = "mgr-" + Secrets.base64url(Secrets.randomBytes(12))

    override func tearDown() async throws {
        await cluster?.stop()
        try await super.tearDown()
    }

    /// Starts the target cluster and makes, as its superuser, the database, the role to grant and the
    /// managing role the runbook describes.
    func startTarget(pgaudit: Bool) async throws -> TargetCluster {
        let target = try await TargetCluster(preload: pgaudit ? ["pgaudit"] : [])
        cluster = target
        try await target.makeRunbookRoles(managerPassword: managerPassword, pgaudit: pgaudit)
        try await target.run(database: "payments", """
            CREATE TABLE ledger (id int PRIMARY KEY, amount int);
            INSERT INTO ledger VALUES (1, 4521);
            GRANT SELECT ON ledger TO payments_oncall_rw
            """)
        return target
    }

    func registerTarget(_ target: TargetCluster, as admin: (secret: String, token: String), maxTTL: String = "1h") async throws {
        let reply = try await adminSend(.PUT, "/v1/targets/payments-pg", as: admin, json: [
            "kind": "postgres", "max_ttl": maxTTL, "max_total": "2h", "retro_deadline": "24h", "pg_host": target.host, "pg_port": target.port,
            "pg_database": "payments", "managing_role": "breakglass_manager", "managing_password": managerPassword,
            "grant_role": "payments_oncall_rw", "connection_limit": 3, "access": "direct",
        ])
        XCTAssertEqual(reply.status, 201, reply.text)
    }

    func psql(_ login: [String: Any], _ sql: String) async throws -> CommandResult {
        try await Tools.run("/usr/bin/psql", ["-X", "-At", "-v", "ON_ERROR_STOP=1", "-c", sql], environment: environment(login))
    }

    func environment(_ login: [String: Any]) -> [String: String] {
        ["PGUSER": login["user"] as! String, "PGPASSWORD": login["password"] as! String, "PGHOST": login["host"] as! String,
         "PGPORT": String(login["port"] as! Int), "PGDATABASE": login["database"] as! String, "PGSSLMODE": login["sslmode"] as! String]
    }

    /// Breaks glass on the in-process server; returns the session id and the login shown once.
    func breakGlass(_ engineer: (secret: String, token: String)) async throws -> (id: String, login: [String: Any]) {
        let reply = try await requestSession(target: "payments-pg", token: engineer.token, secret: engineer.secret)
        XCTAssertEqual(reply.status, 201, reply.text)
        nextStep()
        let session = try XCTUnwrap(reply.json["session"] as? [String: Any])
        let credential = try XCTUnwrap(reply.json["credential"] as? [String: Any], reply.text)
        return (try XCTUnwrap(session["id"] as? String), try XCTUnwrap(credential["postgres"] as? [String: Any], reply.text))
    }

    /// The server log's lines written for `role`'s own backends (the prefix names the user).
    func logLines(of role: String, in target: TargetCluster) -> [Substring] {
        target.log().split(separator: "\n").filter { $0.contains(" user=\(role) ") }
    }

    // MARK: What the target records

    func testWithPgauditTheTargetsServerLogHasTheSessionRolesStatementsAsAuditLines() async throws {
        let target = try await startTarget(pgaudit: true)
        let admin = try await enrolledUser("alice", roles: [.admin])
        let engineer = try await enrolledUser("bob", roles: [.engineer])
        try await registerTarget(target, as: admin)
        let (id, login) = try await breakGlass(engineer)
        let role = id.lowercased()
        let config = try await target.rows("SELECT array_to_string(rolconfig, ',') FROM pg_roles WHERE rolname = '\(role)'")
        XCTAssertEqual(config.count, 1)
        XCTAssertTrue(config.first?.contains("pgaudit.log=all") ?? false, "\(config)")
        XCTAssertTrue(config.first?.contains("pgaudit.log_parameter=on") ?? false, "\(config)")
        XCTAssertFalse(config.first?.contains("log_statement") ?? true, "pgaudit replaces log_statement: \(config)")

        let ran = try await psql(login, "SELECT amount * 2 AS doubled_4521 FROM ledger WHERE id = 1")
        XCTAssertEqual(ran.status, 0, ran.stderr)
        XCTAssertEqual(ran.stdout.trimmingCharacters(in: .whitespacesAndNewlines), "9042")
        let ended = try await http.send(.POST, "/v1/sessions/\(id)/end", token: engineer.token, json: [:])
        XCTAssertEqual(ended.status, 200, ended.text)

        // The logging collector writes through a pipe: the line may take a moment.
        try await waitUntil { self.logLines(of: role, in: target).contains { $0.contains("AUDIT: SESSION,") } }
        let lines = logLines(of: role, in: target)
        let audit = lines.filter { $0.contains("AUDIT: SESSION,") && $0.contains("SELECT amount * 2 AS doubled_4521 FROM ledger WHERE id = 1") }
        XCTAssertEqual(audit.count, 1, lines.joined(separator: "\n"))
        XCTAssertTrue(audit.first?.contains(",READ,SELECT,") ?? false, "\(audit)")
        // The role's own application_name is only a default: psql sends its own. The role name is the session's.
        XCTAssertTrue(audit.first?.contains(" app=psql ") ?? false, "\(audit)")
        XCTAssertFalse(lines.contains { $0.contains("LOG:  statement:") }, "no log_statement duplicate: \(lines)")
    }

    func testWithoutPgauditTheTargetsServerLogHasTheSessionRolesStatementsThroughLogStatement() async throws {
        let target = try await startTarget(pgaudit: false)
        let admin = try await enrolledUser("alice", roles: [.admin])
        let engineer = try await enrolledUser("bob", roles: [.engineer])
        try await registerTarget(target, as: admin)
        let (id, login) = try await breakGlass(engineer)
        let role = id.lowercased()
        let config = try await target.rows("SELECT array_to_string(rolconfig, ',') FROM pg_roles WHERE rolname = '\(role)'")
        XCTAssertTrue(config.first?.contains("log_statement=all") ?? false, "\(config)")
        XCTAssertFalse(config.first?.contains("pgaudit") ?? true, "\(config)")

        let ran = try await psql(login, "SELECT amount + 1 AS next_4522 FROM ledger WHERE id = 1")
        XCTAssertEqual(ran.status, 0, ran.stderr)
        let ended = try await http.send(.POST, "/v1/sessions/\(id)/end", token: engineer.token, json: [:])
        XCTAssertEqual(ended.status, 200, ended.text)
        try await waitUntil { self.logLines(of: role, in: target).contains { $0.contains("next_4522") } }
        let lines = logLines(of: role, in: target)
        XCTAssertTrue(lines.contains { $0.contains("LOG:  statement: SELECT amount + 1 AS next_4522 FROM ledger WHERE id = 1") },
                      lines.joined(separator: "\n"))
        XCTAssertFalse(lines.contains { $0.contains("AUDIT:") })
    }

    // MARK: A broker killed with SIGKILL

    /// Two roles left behind by a killed broker: one whose session expired while no broker ran (the real
    /// clock passes its 1m TTL), and one whose session a dying broker closed in its store before it could
    /// revoke. Meanwhile VALID UNTIL refuses the expired role's new logins, but its open connection stays;
    /// the restarted broker removes both roles, and cuts that connection, within seconds.
    func testRolesLeftByABrokerKilledWithSIGKILLAreRemovedOnRestart() async throws {
        let target = try await startTarget(pgaudit: false)
        let admin = try await enrolledUser("alice", roles: [.admin])
        let bob = try await enrolledUser("bob", roles: [.engineer])
        let carol = try await enrolledUser("carol", roles: [.engineer])
        try await registerTarget(target, as: admin, maxTTL: "1m")
        await server.stop()

        let env = try processEnvironment(["BREAKGLASS_LOG_LEVEL": "critical"])
        let first = try await BrokerProcess.start(env)
        var killed = false
        defer {
            if !killed { first.process.stop(SIGKILL) }
        }
        func activate(_ user: (secret: String, token: String)) async throws -> (id: String, login: [String: Any]) {
            let otp = OneTimePassword(secret: Base32.decode(user.secret)!)
            let reply = try await HTTPTestClient(baseURL: first.url).send(.POST, "/v1/sessions", token: user.token, json: [
                "target": "payments-pg", "reason": "INC-4521 lock pile-up, kill blockers", "incident": "INC-4521", "ttl": "1m",
                "totp": otp.code(at: Date()),
            ])
            XCTAssertEqual(reply.status, 201, reply.text)
            let session = try XCTUnwrap(reply.json["session"] as? [String: Any], reply.text)
            let credential = try XCTUnwrap(reply.json["credential"] as? [String: Any], reply.text)
            return (try XCTUnwrap(session["id"] as? String), try XCTUnwrap(credential["postgres"] as? [String: Any]))
        }
        let expiring = try await activate(bob)
        let ending = try await activate(carol)
        let activatedAt = Date()
        let open = try await Tools.start("/usr/bin/psql", ["-X", "-At", "-c", "SELECT pg_sleep(300)"], environment: environment(expiring.login))
        defer { open.stop(SIGKILL) }
        try await waitUntil {
            try await !target.rows("SELECT usename::text FROM pg_stat_activity WHERE usename = '\(expiring.id.lowercased())'").isEmpty
        }

        first.process.signal(SIGKILL)
        _ = try await first.process.finish()
        killed = true
        // The second broker died after closing carol's session in its store, before revoking.
        try await database.asSuperuser("""
            UPDATE sessions SET state = 'ended', closed_at = now() - interval '1 minute', closed_by = 'carol' WHERE id = '\(ending.id)'
            """)
        // Bob's session expires on the real clock while no broker runs.
        let wait = activatedAt.addingTimeInterval(62).timeIntervalSinceNow
        if wait > 0 { try await Task.sleep(for: .seconds(wait)) }
        for session in [expiring, ending] {
            let exists = try await target.rows("SELECT rolname::text FROM pg_roles WHERE rolname = '\(session.id.lowercased())'")
            XCTAssertEqual(exists.count, 1, "nothing ran to remove it yet")
        }
        let refused = try await psql(expiring.login, "SELECT 1")
        XCTAssertNotEqual(refused.status, 0, "VALID UNTIL refuses a new login after expiry with no broker running")
        let stillOpen = try await open.exited() == nil
        XCTAssertTrue(stillOpen, "but VALID UNTIL alone does not end an open connection")

        let second = try await BrokerProcess.start(env)
        defer { second.process.stop(SIGTERM) }
        try await waitUntil(timeout: 20) {
            try await target.rows("SELECT rolname::text FROM pg_roles WHERE rolname IN ('\(expiring.id.lowercased())', '\(ending.id.lowercased())')").isEmpty
        }
        var cut: CommandResult?
        try await waitUntil { cut = try await open.exited(); return cut != nil }
        XCTAssertTrue(cut?.stderr.contains("terminat") ?? false, cut?.stderr ?? "")
        for session in [expiring, ending] {
            let after = try await psql(session.login, "SELECT 1")
            XCTAssertNotEqual(after.status, 0)
            XCTAssertTrue(after.stderr.contains("authentication failed") || after.stderr.contains("does not exist"), after.stderr)
        }
        let expiredAudit = try await database.lines("""
            SELECT event_type || ' ' || coalesce((body::jsonb) -> 'event' -> 'details' ->> 'recorded_late_by', '') || ' ' || coalesce((body::jsonb) -> 'event' -> 'details' ->> 'by', '')
            FROM audit_events WHERE session_id = '\(expiring.id)' ORDER BY id
            """)
        XCTAssertTrue(expiredAudit.contains { $0.hasPrefix("session.expired ") && !$0.hasPrefix("session.expired 0s") }, "\(expiredAudit)")
        XCTAssertEqual(expiredAudit.last, "credential.revoked  expired", "\(expiredAudit)")
        let endedAudit = try await database.lines("""
            SELECT event_type || ' ' || coalesce((body::jsonb) -> 'event' -> 'details' ->> 'by', '') FROM audit_events WHERE session_id = '\(ending.id)' ORDER BY id
            """)
        XCTAssertEqual(endedAudit.last, "credential.revoked reconcile", "\(endedAudit)")
    }
}
