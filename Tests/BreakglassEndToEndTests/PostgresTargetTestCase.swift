import BreakglassCore
import BreakglassServer
import BreakglassStore
import BreakglassTestSupport
import Foundation
import PostgresNIO
import XCTest

/// The world of the `postgres` kind's tests: the throwaway cluster serves as the target too, with a database, a managing role and a role to grant of this test's own (roles are cluster-wide, so
/// every name carries a random suffix and everything is dropped at the end).
class PostgresTargetTestCase: BrokerTestCase {
    var suffix = ""
    var targetDatabase: String { "bgtarget_\(suffix)" }
    var manager: String { "bgmgr_\(suffix)" }
    var oncall: String { "oncall_\(suffix)" }
    var otherDatabase: String { "bgother_\(suffix)" }
    let managerPassword = "mgr-" + Secrets.base64url(Secrets.randomBytes(12))
    var admin: (secret: String, token: String)!
    var engineer: (secret: String, token: String)!

    override func setUp() async throws {
        try await super.setUp()
        suffix = Base32.encode(Secrets.randomBytes(5)).lowercased()
        try await onTarget(database: "postgres", """
            CREATE DATABASE \(targetDatabase);
            """)
        try await onTarget(database: "postgres", """
            CREATE ROLE \(oncall) NOLOGIN;
            CREATE ROLE \(manager) LOGIN CREATEROLE PASSWORD '\(managerPassword)';
            GRANT \(oncall) TO \(manager) WITH ADMIN OPTION;
            GRANT SET ON PARAMETER log_statement TO \(manager);
            """)
        try await onTarget("""
            CREATE TABLE payments (id int PRIMARY KEY, amount int);
            INSERT INTO payments VALUES (1, 4521);
            GRANT SELECT ON payments TO \(oncall);
            """)
        admin = try await enrolledUser("alice", roles: [.admin])
        engineer = try await enrolledUser("bob", roles: [.engineer])
    }

    override func tearDown() async throws {
        await server?.stop()
        // Whatever the test left (a role it meant to leave behind, a role a failing test never revoked).
        let leftovers = (try? await rows(database: "postgres", """
            SELECT rolname FROM pg_roles WHERE rolname LIKE 'bg\\_%' AND pg_has_role(rolname, '\(oncall)', 'MEMBER') AND rolname <> '\(oncall)'
            """)) ?? []
        for role in leftovers {
            try? await onTarget("DROP OWNED BY \"\(role)\"")
            try? await onTarget(database: "postgres", "DROP ROLE IF EXISTS \"\(role)\"")
        }
        try? await onTarget(database: "postgres", "DROP DATABASE IF EXISTS \(targetDatabase) WITH (FORCE)")
        try? await onTarget(database: "postgres", "DROP DATABASE IF EXISTS \(otherDatabase) WITH (FORCE)")
        try? await onTarget(database: "postgres", """
            REVOKE SET ON PARAMETER log_statement FROM \(manager);
            DROP OWNED BY \(manager);
            DROP ROLE IF EXISTS \(manager);
            DROP ROLE IF EXISTS \(oncall);
            """)
        try await super.tearDown()
    }

    // MARK: The world

    func onTarget(database: String? = nil, _ sql: String) async throws {
        let config = try TestDatabase.superuser()
        try await Database.withDatabase(config.with(user: config.user, password: config.password, database: database ?? targetDatabase),
                                        logger: TestDatabase.logger) { db in
            try await db.read { tx in
                for statement in sql.split(separator: ";").map({ $0.trimmingCharacters(in: .whitespacesAndNewlines) }) where !statement.isEmpty {
                    _ = try await tx.connection.query(PostgresQuery(unsafeSQL: statement), logger: TestDatabase.logger).collect()
                }
            }
        }
    }

    func rows(database: String? = nil, _ sql: String) async throws -> [String] {
        let config = try TestDatabase.superuser()
        return try await Database.withDatabase(config.with(user: config.user, password: config.password, database: database ?? targetDatabase),
                                               logger: TestDatabase.logger) { db in
            try await db.read { tx in
                var out: [String] = []
                for try await value in try await tx.connection.query(PostgresQuery(unsafeSQL: sql), logger: TestDatabase.logger).decode(String.self) {
                    out.append(value)
                }
                return out
            }
        }
    }

    func roleExists(_ role: String) async throws -> Bool {
        try await !rows(database: "postgres", "SELECT rolname::text FROM pg_roles WHERE rolname = '\(role)'").isEmpty
    }

    /// The target's access mode in this test class.
    var access: String { "direct" }

    var targetBody: [String: Any] {
        let config = try! TestDatabase.superuser()
        return ["kind": "postgres", "max_ttl": "1h", "max_total": "2h", "retro_deadline": "24h", "pg_host": config.host, "pg_port": config.port,
                "pg_database": targetDatabase, "managing_role": manager, "managing_password": managerPassword, "grant_role": oncall,
                "connection_limit": 3, "statement_timeout": "5m", "access": access]
    }

    func makePostgresTarget(_ name: String = "payments-db") async throws {
        let reply = try await adminSend(.PUT, "/v1/targets/\(name)", as: admin, json: targetBody)
        XCTAssertEqual(reply.status, 201, reply.text)
    }

    /// Breaks glass and returns the session id and the login shown once.
    func breakGlass(_ target: String = "payments-db") async throws -> (id: String, login: [String: Any]) {
        let reply = try await requestSession(target: target, token: engineer.token, secret: engineer.secret)
        XCTAssertEqual(reply.status, 201, reply.text)
        nextStep()
        let session = try XCTUnwrap(reply.json["session"] as? [String: Any])
        let credential = try XCTUnwrap(reply.json["credential"] as? [String: Any])
        return (try XCTUnwrap(session["id"] as? String), try XCTUnwrap(credential["postgres"] as? [String: Any], reply.text))
    }

    func psqlEnvironment(_ login: [String: Any]) -> [String: String] {
        ["PGUSER": login["user"] as! String, "PGPASSWORD": login["password"] as! String, "PGHOST": login["host"] as! String,
         "PGPORT": String(login["port"] as! Int), "PGDATABASE": login["database"] as! String, "PGSSLMODE": login["sslmode"] as! String]
    }

    func psql(_ login: [String: Any], _ sql: String) async throws -> CommandResult {
        try await Tools.run("/usr/bin/psql", ["-X", "-At", "-v", "ON_ERROR_STOP=1", "-c", sql], environment: psqlEnvironment(login))
    }

    func outboxTypes(session id: String) async throws -> [String] {
        try await server.broker.database.read { tx in
            var out: [String] = []
            for try await type in try await tx.connection.query("SELECT event_type FROM outbox WHERE session_id = \(id) ORDER BY created_at",
                                                                logger: TestDatabase.logger).decode(String.self) {
                out.append(type)
            }
            return out
        }
    }

    func auditTypes(session id: String) async throws -> [String] {
        try await server.broker.database.read { tx in
            var out: [String] = []
            for try await type in try await tx.connection.query("SELECT event_type FROM audit_events WHERE session_id = \(id) ORDER BY id",
                                                                logger: TestDatabase.logger).decode(String.self) {
                out.append(type)
            }
            return out
        }
    }
}
