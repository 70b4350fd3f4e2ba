import BreakglassCore
import BreakglassServer
import BreakglassStore
import BreakglassTestSupport
import Foundation
import PostgresNIO
import XCTest

/// The `postgres` kind in `direct` mode against a real target (see `PostgresTargetTestCase`).
final class PostgresCredentialTests: PostgresTargetTestCase {
    func testShownCredentialsWorkDuringTheSessionAndAreRefusedAfterEnd() async throws {
        try await makePostgresTarget()
        let (id, login) = try await breakGlass()
        let role = id.lowercased()
        XCTAssertEqual(login["user"] as? String, role)
        XCTAssertGreaterThanOrEqual((login["password"] as? String)?.count ?? 0, 22, "at least 128 bits")

        let during = try await psql(login, "SELECT current_user || ' ' || amount FROM payments")
        XCTAssertEqual(during.status, 0, during.stderr)
        XCTAssertEqual(during.stdout.trimmingCharacters(in: .whitespacesAndNewlines), "\(role) 4521")

        // Per-role logging, the session's limits, and the comment that ties the role to the session.
        let config = try await rows(database: "postgres", "SELECT array_to_string(rolconfig, ',') FROM pg_roles WHERE rolname = '\(role)'")
        XCTAssertEqual(config.count, 1)
        XCTAssertTrue(config[0].contains("log_statement=all"), config[0])
        XCTAssertTrue(config[0].contains("statement_timeout=300s"), config[0])
        let limits = try await rows(database: "postgres", """
            SELECT rolconnlimit || ' ' || shobj_description(oid, 'pg_authid') FROM pg_roles WHERE rolname = '\(role)'
            """)
        XCTAssertEqual(limits, ["3 breakglass session \(id)"])
        // The broker stored what it needs to revoke, never the password.
        let stored = try await server.broker.database.read { try await $0.sessions.find(id: id) }
        XCTAssertEqual(stored?.credential.role, role)

        let ended = try await http.send(.POST, "/v1/sessions/\(id)/end", token: engineer.token, json: [:])
        XCTAssertEqual(ended.status, 200, ended.text)
        let after = try await psql(login, "SELECT 1")
        XCTAssertNotEqual(after.status, 0)
        XCTAssertTrue(after.stderr.contains("authentication failed") || after.stderr.contains("does not exist"), after.stderr)
        let exists = try await roleExists(role)
        XCTAssertFalse(exists)
        let audit = try await auditTypes(session: id)
        XCTAssertTrue(audit.contains("credential.issued"), "\(audit)")
        XCTAssertTrue(audit.contains("credential.revoked"), "\(audit)")
    }

    func testAnOpenConnectionIsTerminatedAtRevoke() async throws {
        try await makePostgresTarget()
        let (id, login) = try await breakGlass()
        let open = try await Tools.start("/usr/bin/psql", ["-X", "-At", "-c", "SELECT pg_sleep(60)"],
                                         environment: psqlEnvironment(login))
        defer { open.stop(SIGKILL) }
        try await waitUntil {
            try await !self.rows(database: "postgres", "SELECT usename::text FROM pg_stat_activity WHERE usename = '\(id.lowercased())'").isEmpty
        }
        let revoked = try await adminSend(.POST, "/v1/sessions/\(id)/revoke", as: admin, json: ["reason": "INC-4521 access no longer needed"])
        XCTAssertEqual(revoked.status, 200, revoked.text)
        var result: CommandResult?
        try await waitUntil { result = try await open.exited(); return result != nil }
        XCTAssertNotEqual(result?.status, 0)
        XCTAssertTrue(result?.stderr.contains("terminat") ?? false, result?.stderr ?? "")
        let exists = try await roleExists(id.lowercased())
        XCTAssertFalse(exists)
    }

    func testAfterExpiryTheRoleIsGone() async throws {
        try await makePostgresTarget()
        let (id, login) = try await breakGlass()
        clock.advance(by: 31 * 60)
        try await waitUntil {
            let record = try await self.server.broker.database.read { try await $0.sessions.find(id: id) }
            return record?.session.state == .expired
        }
        try await waitUntil { try await !self.roleExists(id.lowercased()) }
        let after = try await psql(login, "SELECT 1")
        XCTAssertNotEqual(after.status, 0)
    }

    func testExtensionMovesValidUntil() async throws {
        try await makePostgresTarget()
        let (id, _) = try await breakGlass()
        let before = try await rows(database: "postgres", "SELECT rolvaliduntil::text FROM pg_roles WHERE rolname = '\(id.lowercased())'")
        let extended = try await http.send(.POST, "/v1/sessions/\(id)/extend", token: engineer.token,
                                           json: ["ttl": "30m", "totp": try code(engineer.secret)])
        XCTAssertEqual(extended.status, 200, extended.text)
        let credential = try XCTUnwrap(extended.json["credential"] as? [String: Any])
        XCTAssertNil((credential["postgres"] as? [String: Any])?["password"], "the password is shown once")
        let after = try await rows(database: "postgres", "SELECT rolvaliduntil::text FROM pg_roles WHERE rolname = '\(id.lowercased())'")
        let session = try XCTUnwrap(extended.json["session"] as? [String: Any])
        let expected = try await rows(database: "postgres", "SELECT '\(session["expires_at"] as! String)'::timestamptz::text")
        XCTAssertNotEqual(before, after)
        XCTAssertEqual(after, expected)
    }

    func testAnUnreachableTargetAtActivationClosesTheSessionAndLeavesNoRole() async throws {
        try await makePostgresTarget()
        // The target goes away after set-up: nothing listens on port 1.
        try await database.asSuperuser("UPDATE targets SET postgres = jsonb_set(postgres, '{port}', '1') WHERE name = 'payments-db'")
        let reply = try await requestSession(target: "payments-db", token: engineer.token, secret: engineer.secret)
        XCTAssertEqual(reply.status, 503, reply.text)
        let error = try XCTUnwrap(reply.json["error"] as? [String: Any])
        XCTAssertEqual(error["code"] as? String, "credential_failed")
        XCTAssertTrue((error["message"] as? String ?? "").contains("cannot connect"), reply.text)
        let sessions = try await server.broker.database.read { try await $0.sessions.list(userId: nil, limit: 10) }
        XCTAssertEqual(sessions.count, 1)
        XCTAssertEqual(sessions.first?.session.state, .failed)
        XCTAssertEqual(sessions.first?.session.closeReason, "credential could not be issued: connect failed")
        let leftovers = try await rows(database: "postgres", "SELECT rolname::text FROM pg_roles WHERE pg_has_role(rolname, '\(oncall)', 'MEMBER') AND rolname LIKE 'bg\\_%'")
        XCTAssertEqual(leftovers, [])
        let audit = try await auditTypes(session: try XCTUnwrap(sessions.first).session.id)
        XCTAssertTrue(audit.contains("credential.issue_failed"), "\(audit)")
    }

    func testARoleLeftBehindIsRemovedByReconcile() async throws {
        try await makePostgresTarget()
        let (id, login) = try await breakGlass()
        // A broker that died before revoking: the session is closed in the store, the role still on the target.
        try await database.asSuperuser("""
            UPDATE sessions SET state = 'ended', closed_at = now() - interval '1 hour', closed_by = 'bob' WHERE id = '\(id)'
            """)
        let stillThere = try await roleExists(id.lowercased())
        XCTAssertTrue(stillThere)
        let removed = try await server.broker.reconcileCredentials()
        XCTAssertEqual(removed, 1)
        let exists = try await roleExists(id.lowercased())
        XCTAssertFalse(exists)
        let refused = try await psql(login, "SELECT 1")
        XCTAssertNotEqual(refused.status, 0)
        // An active session's role is left alone.
        let (active, _) = try await breakGlass()
        clock.advance(by: 60)
        let second = try await server.broker.reconcileCredentials()
        XCTAssertEqual(second, 0)
        let activeExists = try await roleExists(active.lowercased())
        XCTAssertTrue(activeExists)
    }

    func testAFailedRevocationIsPagedAndRetriedByReconcile() async throws {
        try await makePostgresTarget()
        let (id, _) = try await breakGlass()
        // The managing role cannot log in at the moment the session ends.
        try await onTarget(database: "postgres", "ALTER ROLE \(manager) NOLOGIN")
        let ended = try await http.send(.POST, "/v1/sessions/\(id)/end", token: engineer.token, json: [:])
        XCTAssertEqual(ended.status, 200, ended.text)
        let audit = try await auditTypes(session: id)
        XCTAssertTrue(audit.contains("credential.revoke_failed"), "\(audit)")
        let pages = try await outboxTypes(session: id)
        XCTAssertTrue(pages.contains("credential.revoke_failed"), "\(pages)")
        let stillThere = try await roleExists(id.lowercased())
        XCTAssertTrue(stillThere)

        try await onTarget(database: "postgres", "ALTER ROLE \(manager) LOGIN")
        clock.advance(by: 60)
        let removed = try await server.broker.reconcileCredentials()
        XCTAssertEqual(removed, 1)
        let exists = try await roleExists(id.lowercased())
        XCTAssertFalse(exists)
        let after = try await auditTypes(session: id)
        XCTAssertEqual(after.last, "credential.revoked")
    }

    /// A role's objects live per database: what it made in another database of the target (one where the
    /// granted role may create) is taken over there too, so the role can be dropped at end.
    func testWhatTheRoleOwnsInAnotherDatabaseIsTakenOverAndTheRoleDropped() async throws {
        try await onTarget(database: "postgres", "CREATE DATABASE \(otherDatabase)")
        try await onTarget(database: otherDatabase, "GRANT CREATE ON SCHEMA public TO \(oncall)")
        try await makePostgresTarget()
        let (id, login) = try await breakGlass()
        var elsewhere = login
        elsewhere["database"] = otherDatabase
        let made = try await psql(elsewhere, "CREATE TABLE scratch_copy AS SELECT 4521 AS amount")
        XCTAssertEqual(made.status, 0, made.stderr)
        let here = try await psql(login, "CREATE TEMP TABLE t AS SELECT 1")
        XCTAssertEqual(here.status, 0, here.stderr)

        let ended = try await http.send(.POST, "/v1/sessions/\(id)/end", token: engineer.token, json: [:])
        XCTAssertEqual(ended.status, 200, ended.text)
        let audit = try await auditTypes(session: id)
        XCTAssertEqual(audit.last, "credential.revoked", "\(audit)")
        let exists = try await roleExists(id.lowercased())
        XCTAssertFalse(exists)
        let owner = try await rows(database: otherDatabase, "SELECT tableowner::text FROM pg_tables WHERE tablename = 'scratch_copy'")
        XCTAssertEqual(owner, [manager], "kept, owned by the managing role")
    }

    func testTheCLIShowsTheLoginOnceAsExports() async throws {
        try await makePostgresTarget()
        let result = try await Tools.cli(["request", "payments-db", "--reason", "INC-4521 lock pile-up, kill blockers", "--incident", "INC-4521",
                                          "--ttl", "30m", "--totp", try code(engineer.secret)],
                                         server: server, credentials: credentialsPath("bob"), extra: ["BREAKGLASS_TOKEN": engineer.token])
        XCTAssertEqual(result.status, 0, result.stderr + result.stdout)
        let exports = try XCTUnwrap(result.stdout.split(separator: "\n").first { $0.hasPrefix("export PGUSER=bg_") }, result.stdout)
        let shell = try await Tools.run("/bin/sh", ["-c", "\(exports); /usr/bin/psql -X -At -c 'SELECT count(*) FROM payments'"])
        XCTAssertEqual(shell.stdout.trimmingCharacters(in: .whitespacesAndNewlines), "1", shell.stderr)
    }

    func testSetTargetTakesThePasswordFromAFileAndKeepsItWhenNotGiven() async throws {
        let config = try TestDatabase.superuser()
        let passwordFile = scratch.appendingPathComponent("managing-password").path
        try (managerPassword + "\n").write(toFile: passwordFile, atomically: true, encoding: .utf8)
        func setTarget(_ extra: [String]) async throws -> CommandResult {
            defer { nextStep() }
            return try await Tools.cli(["admin", "set-target", "payments-db", "--totp", try code(admin.secret)] + extra, server: server,
                                       credentials: credentialsPath("alice"), extra: ["BREAKGLASS_TOKEN": admin.token])
        }
        let created = try await setTarget(["--kind", "postgres", "--max-ttl", "1h", "--pg-host", config.host, "--pg-port", String(config.port),
                                           "--pg-database", targetDatabase, "--managing-role", manager, "--managing-password-file", passwordFile,
                                           "--grant-role", oncall, "--access", "direct"])
        XCTAssertEqual(created.status, 0, created.stderr + created.stdout)
        XCTAssertTrue(created.stdout.contains("postgres=\(manager)@\(config.host):\(config.port)/\(targetDatabase)"), created.stdout)
        XCTAssertFalse(created.stdout.contains(managerPassword))
        // One setting changed: the others and the stored password stay, and the check passes again with it.
        let changed = try await setTarget(["--connection-limit", "4"])
        XCTAssertEqual(changed.status, 0, changed.stderr + changed.stdout)
        XCTAssertTrue(changed.stdout.contains("grant=\(oncall) limit=4"), changed.stdout)
    }

    func testTheManagingRoleIsCheckedBeforeTheTargetIsSaved() async throws {
        try await onTarget(database: "postgres", "ALTER ROLE \(manager) NOCREATEROLE")
        let refused = try await adminSend(.PUT, "/v1/targets/payments-db", as: admin, json: targetBody)
        XCTAssertEqual(refused.status, 400, refused.text)
        XCTAssertEqual((refused.json["error"] as? [String: Any])?["code"] as? String, "target_check_failed")
        XCTAssertTrue(refused.text.contains("CREATEROLE"), refused.text)
        var wrongPassword = targetBody
        wrongPassword["managing_password"] = "not-the-password"
        try await onTarget(database: "postgres", "ALTER ROLE \(manager) CREATEROLE")
        let badLogin = try await adminSend(.PUT, "/v1/targets/payments-db", as: admin, json: wrongPassword)
        XCTAssertEqual(badLogin.status, 400, badLogin.text)
        XCTAssertTrue(badLogin.text.contains("cannot connect"), badLogin.text)
        XCTAssertFalse(badLogin.text.contains("not-the-password"))
        // Per-role statement logging needs the right to set it (PostgreSQL 15: GRANT SET ON PARAMETER).
        try await onTarget(database: "postgres", "REVOKE SET ON PARAMETER log_statement FROM \(manager)")
        let noLogging = try await adminSend(.PUT, "/v1/targets/payments-db", as: admin, json: targetBody)
        XCTAssertEqual(noLogging.status, 400, noLogging.text)
        XCTAssertTrue(noLogging.text.contains("set_log_statement failed"), noLogging.text)
        try await onTarget(database: "postgres", "GRANT SET ON PARAMETER log_statement TO \(manager)")
        let targets = try await server.broker.targets()
        XCTAssertEqual(targets.map(\.name), [], "nothing saved")
        // The password is stored sealed, never as given.
        try await makePostgresTarget()
        let raw = try await server.broker.database.read { try await $0.targets.managingPasswordEnc(named: "payments-db") }
        XCTAssertFalse(String(decoding: raw ?? [], as: UTF8.self).contains(managerPassword))
    }
}
