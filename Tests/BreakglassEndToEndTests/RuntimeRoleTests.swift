import BreakglassCore
import BreakglassStore
import BreakglassTestSupport
import Foundation
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// The server's database role must not be able to rewrite the audit log: `breakglassd serve` refuses a role
/// that owns the tables, and the runtime group role holds only what the code uses.
final class RuntimeRoleTests: BrokerTestCase {
    func environment(databaseURL: String, migrationURL: String? = nil) throws -> [String: String] {
        var env = ["DATABASE_URL": databaseURL, "BREAKGLASS_MASTER_KEY_FILE": try server.writeMasterKeyFile(in: scratch),
                   "BREAKGLASS_LOG_LEVEL": "critical"]
        env["BREAKGLASS_MIGRATION_DATABASE_URL"] = migrationURL
        return env
    }

    func testOneDatabaseURLForTheSchemaOwnerIsRefused() async throws {
        let run = try await BrokerProcess.run(try environment(databaseURL: database.owner.urlWithPassword))
        guard case .exited(let result) = run else {
            if case .serving(let process, _) = run { process.signal(SIGTERM); _ = try await process.finish() }
            return XCTFail("breakglassd served as the schema owner")
        }
        XCTAssertEqual(result.status, 64, result.stderr)
        let lines = result.stderr.split(separator: "\n").filter { $0.hasPrefix("breakglassd: ") }
        XCTAssertEqual(lines.count, 1, result.stderr)
        let message = String(lines.first ?? "")
        XCTAssertTrue(message.contains("refusing to serve: the database role '\(database.owner.user)'"), message)
        XCTAssertTrue(message.contains("is a superuser") && message.contains("may UPDATE, DELETE, TRUNCATE audit_events"), message)
        XCTAssertTrue(message.contains("BREAKGLASS_MIGRATION_DATABASE_URL as the schema owner") && message.contains("granted breakglass_app"), message)
        XCTAssertFalse(message.contains(database.owner.password ?? "no password"), "no secret in the message")
    }

    func testTheOptOutServesAsTheSchemaOwner() async throws {
        for (extra, arguments) in [(["BREAKGLASS_ALLOW_PRIVILEGED_ROLE": "1"], [String]()), ([:], ["--allow-privileged-role"])] {
            let env = try environment(databaseURL: database.owner.urlWithPassword).merging(extra) { $1 }
            let broker = try await BrokerProcess.start(env, arguments: arguments)
            let health = try await HTTPTestClient(baseURL: broker.url).send(.GET, "/healthz")
            broker.process.signal(SIGTERM)
            _ = try await broker.process.finish()
            XCTAssertEqual(health.status, 200, "\(extra) \(arguments)")
        }
    }

    func testTheUnprivilegedRuntimeRoleServes() async throws {
        let env = try environment(databaseURL: database.runtime.urlWithPassword, migrationURL: database.owner.urlWithPassword)
        let broker = try await BrokerProcess.start(env)
        let ready = try await HTTPTestClient(baseURL: broker.url).send(.GET, "/readyz")
        broker.process.signal(SIGTERM)
        _ = try await broker.process.finish()
        XCTAssertEqual(ready.status, 200, ready.text)
    }

    func testRuntimeRoleDeletesOnlyWhereTheServerDeletes() async throws {
        _ = try await enrolledUser("alice", roles: [.engineer])
        for sql in ["DELETE FROM sessions", "DELETE FROM users", "DELETE FROM outbox", "DELETE FROM retro_obligations",
                    "DELETE FROM deliveries", "DELETE FROM delivery_attempts", "DELETE FROM api_tokens", "DELETE FROM signing_keys",
                    "UPDATE audit_events SET body = body", "CREATE TABLE public.shadow (x int)"] {
            let error = await database.asServerRole(sql)
            XCTAssertTrue(error?.contains("permission denied") == true, "\(sql) must be refused: \(error ?? "it succeeded")")
        }
        for sql in ["DELETE FROM enrollment_codes WHERE false", "DELETE FROM totp_failures WHERE false"] {
            let error = await database.asServerRole(sql)
            XCTAssertNil(error, "the server deletes here: \(sql)")
        }
    }

    func testFindingsNameWhatMakesARolePrivileged() async throws {
        let logger = TestDatabase.logger
        let runtime = try await Database.withDatabase(database.runtime, logger: logger) { try await $0.read { try await RuntimeRoleFindings.examine($0) } }
        XCTAssertTrue(runtime.isUnprivileged, "\(runtime)")
        let owner = try await Database.withDatabase(database.owner, logger: logger) { try await $0.read { try await RuntimeRoleFindings.examine($0) } }
        XCTAssertTrue(owner.superuser)
        XCTAssertTrue(owner.ownedTables.contains("audit_events"), "\(owner.ownedTables)")
        XCTAssertEqual(owner.auditPrivileges, ["UPDATE", "DELETE", "TRUNCATE"])

        // Not a superuser, but a member of a role that owns one table: it could disable that table's triggers.
        for sql in ["DO $$ BEGIN CREATE ROLE bg_test_table_owner NOLOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$",
                    "ALTER TABLE web_logins OWNER TO bg_test_table_owner", "GRANT bg_test_table_owner TO \(TestDatabase.runtimeUser)"] {
            try await database.asSuperuser(sql)
        }
        let member = try await Database.withDatabase(database.runtime, logger: logger) { try await $0.read { try await RuntimeRoleFindings.examine($0) } }
        try await database.asSuperuser("REVOKE bg_test_table_owner FROM \(TestDatabase.runtimeUser)")
        XCTAssertFalse(member.superuser)
        XCTAssertEqual(member.ownedTables, ["web_logins"])
        XCTAssertEqual(member.problems, ["owns (or is a member of the owner of) tables web_logins"])

        // Owns nothing and holds no audit privilege, but CREATEROLE: it could grant itself the owner's role.
        try await database.asSuperuser("ALTER ROLE \(TestDatabase.runtimeUser) CREATEROLE")
        let creator = try await Database.withDatabase(database.runtime, logger: logger) { try await $0.read { try await RuntimeRoleFindings.examine($0) } }
        try await database.asSuperuser("ALTER ROLE \(TestDatabase.runtimeUser) NOCREATEROLE")
        XCTAssertFalse(creator.isUnprivileged)
        XCTAssertTrue(creator.canBecomeOwner)
    }
}
