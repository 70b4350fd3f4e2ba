import BreakglassCore
import BreakglassStore
import BreakglassTestSupport
import Foundation
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// `runbooks/set-up-an-external-database.md`, done as written: its SQL as a superuser, its shell lines for the
/// master key and the settings, `breakglassd migrate` as the owner, `serve` as the server role.
final class ExternalDatabaseTests: XCTestCase {
    func testTheRunbooksStepsGiveAServingBrokerWithSeparateRoles() async throws {
        let runbook = try String(contentsOf: TestDatabase.repositoryRoot.appendingPathComponent("runbooks/set-up-an-external-database.md"),
                                 encoding: .utf8)
        func block(_ language: String, containing marker: String) throws -> String {
            let blocks = runbook.components(separatedBy: "```\(language)\n").dropFirst().map { $0.components(separatedBy: "```").first ?? "" }
            return try XCTUnwrap(blocks.first { $0.contains(marker) }, "no \(language) block with \(marker)")
        }
        let superuser = try TestDatabase.superuser()
        let suffix = Base32.encode(Secrets.randomBytes(5)).lowercased()
        let ownerPassword = Base32.encode(Secrets.randomBytes(15)), serverPassword = Base32.encode(Secrets.randomBytes(15))
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("bg-external-\(suffix)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: scratch) }
        // Names made unique on this shared test cluster; everything else as written.
        func adapt(_ text: String) -> String {
            text.replacingOccurrences(of: "breakglass_owner", with: "bgx_owner_\(suffix)")
                .replacingOccurrences(of: "breakglass_server", with: "bgx_server_\(suffix)")
                .replacingOccurrences(of: "DATABASE breakglass OWNER", with: "DATABASE bgx_\(suffix) OWNER")
                .replacingOccurrences(of: "/breakglass'", with: "/bgx_\(suffix)'")
                .replacingOccurrences(of: "OWNER_PASSWORD", with: ownerPassword)
                .replacingOccurrences(of: "SERVER_PASSWORD", with: serverPassword)
                .replacingOccurrences(of: "DB_HOST:5432", with: "\(superuser.host):\(superuser.port)")
                .replacingOccurrences(of: "/etc/breakglass", with: scratch.appendingPathComponent("etc").path)
        }

        // 1. As a superuser. The group role is shared by every database of a cluster and the test fixtures
        // make it (a database provisioned and dropped here guarantees it): that one statement is left out.
        let sql = adapt(try block("sql", containing: "CREATE ROLE")).replacingOccurrences(of: "CREATE ROLE breakglass_app NOLOGIN;\n", with: "")
        await (try await TestDatabase.create(migrate: false)).drop()
        // Statement by statement, as psql runs a script (CREATE DATABASE cannot share a transaction).
        let psql = try await Tools.run("/usr/bin/psql", [superuser.urlWithPassword, "-v", "ON_ERROR_STOP=1", "-f", "-"], stdin: sql)
        XCTAssertEqual(psql.status, 0, psql.stderr)
        defer {
            Task {
                _ = try? await Tools.run("/usr/bin/psql", [superuser.urlWithPassword, "-c", "DROP DATABASE IF EXISTS bgx_\(suffix) WITH (FORCE)"])
                _ = try? await Tools.run("/usr/bin/psql", [superuser.urlWithPassword, "-c", "DROP ROLE IF EXISTS bgx_server_\(suffix), bgx_owner_\(suffix)"])
            }
        }

        // 2 and 3, line by line as a shell would: the master key, the settings, `migrate` with the owner's URL,
        // `serve` without it.
        var environment: [String: String] = ["BREAKGLASS_LOG_LEVEL": "notice"]
        let breakglassd = Tools.binDirectory.appendingPathComponent("breakglassd").path
        var served = false
        let settingsBlock = try block("sh", containing: "master.key"), migrateBlock = try block("sh", containing: "breakglassd migrate")
        for line in adapt(settingsBlock + migrateBlock).split(separator: "\n").map(String.init) {
            if line.hasPrefix("export "), let equals = line.firstIndex(of: "=") {
                let key = String(line[line.index(line.startIndex, offsetBy: 7)..<equals])
                environment[key] = String(line[line.index(after: equals)...]).trimmingCharacters(in: CharacterSet(charactersIn: "'\""))
            } else if line.hasPrefix("unset ") {
                environment.removeValue(forKey: String(line.dropFirst(6)))
            } else if line == "breakglassd migrate" {
                // Before it: a broker with only the server role neither migrates nor serves an old schema.
                var serverOnly = environment
                serverOnly.removeValue(forKey: "BREAKGLASS_MIGRATION_DATABASE_URL")
                if case .exited(let early) = try await BrokerProcess.run(serverOnly) {
                    XCTAssertTrue(early.stderr.contains("migrations pending"), early.stderr)
                } else {
                    XCTFail("serve must refuse an unmigrated database when it may not migrate it")
                }
                let migrate = try await Tools.run(breakglassd, ["migrate"], environment: environment)
                XCTAssertEqual(migrate.status, 0, migrate.stderr)
                XCTAssertTrue(migrate.stdout.contains("applied:"), migrate.stdout)
            } else if line == "breakglassd serve" {
                XCTAssertNil(environment["BREAKGLASS_MIGRATION_DATABASE_URL"], "the serving broker never holds the owner's password")
                let (process, url) = try await BrokerProcess.start(environment)
                let ready = try await HTTPTestClient(baseURL: url).send(.GET, "/readyz")
                process.signal(SIGTERM)
                let result = try await process.finish()
                XCTAssertEqual(ready.status, 200)
                XCTAssertEqual(result.status, 0, result.stderr)
                XCTAssertFalse(result.stderr.contains("privileged"), "the server role passes the privilege check: \(result.stderr)")
                served = true
            } else if !line.isEmpty {
                let shell = try await Tools.run("/bin/sh", ["-c", line])
                XCTAssertEqual(shell.status, 0, "\(line): \(shell.stderr)")
            }
        }
        XCTAssertTrue(served, "the runbook serves")
        let keyFile = try XCTUnwrap(environment["BREAKGLASS_MASTER_KEY_FILE"])
        let mode = try FileManager.default.attributesOfItem(atPath: keyFile)[.posixPermissions] as! Int
        XCTAssertEqual(mode & 0o777, 0o600, "the umask makes the key 0600 from the start")

        // 4. The first administrator.
        let admin = try await Tools.run(breakglassd, ["admin", "create", "alice", "--role", "admin", "--role", "engineer"], environment: environment)
        XCTAssertEqual(admin.status, 0, admin.stderr)

        // The server role owns nothing and cannot rewrite the audit log.
        let owned = try await Tools.run("/usr/bin/psql", [superuser.with(user: superuser.user, password: superuser.password, database: "bgx_\(suffix)").urlWithPassword,
                                                          "-At", "-c", "SELECT count(*) FROM pg_tables WHERE tableowner = 'bgx_server_\(suffix)'"])
        XCTAssertEqual(owned.stdout.trimmingCharacters(in: .whitespacesAndNewlines), "0", owned.stderr)
    }

    /// 0003 was amended (a DBA-made group role); databases that applied the original still start, any other
    /// change to an applied file is still refused.
    func testAnAmendedMigrationAcceptsOnlyTheChecksumItDeclaresToReplace() async throws {
        let database = try await TestDatabase.create()
        addTeardownBlock { await database.drop() }
        let migrator = try Migrator.load(directory: TestDatabase.sqlDirectory)
        try await database.asSuperuser("""
            UPDATE schema_migrations SET checksum = '30d58abb92dab4bc0a0ac1dade2ea63737034f70ebf281ce3eed030306c7a1e6' WHERE version = 3
            """)
        let logger = TestDatabase.logger
        try await Database.withDatabase(database.owner, logger: logger) { try await migrator.migrate($0, logger: logger) }
        try await database.asSuperuser("UPDATE schema_migrations SET checksum = repeat('0', 64) WHERE version = 3")
        do {
            try await Database.withDatabase(database.owner, logger: logger) { try await migrator.migrate($0, logger: logger) }
            XCTFail("a changed applied migration must be refused")
        } catch let error as BreakglassError {
            XCTAssertEqual(error.code, "migration_changed")
        }
    }
}
