import BreakglassCore
import BreakglassStore
import BreakglassTestSupport
import Foundation
import XCTest

/// `breakglassd check`, the real binary, against a broker's database: a healthy one passes every check;
/// each kind of problem fails with a line saying what is wrong and what to do, and a non-zero exit.
final class CheckCommandTests: BrokerTestCase {
    func environment(database other: TestDatabase? = nil, keyFile: String? = nil) throws -> [String: String] {
        var env = try processEnvironment()
        if let other { env.merge(["DATABASE_URL": other.runtime.urlWithPassword, "BREAKGLASS_MIGRATION_DATABASE_URL": other.owner.urlWithPassword]) { $1 } }
        if let keyFile { env["BREAKGLASS_MASTER_KEY_FILE"] = keyFile }
        return env
    }

    func check(_ env: [String: String], _ arguments: [String] = []) async throws -> CommandResult {
        try await Tools.run(Tools.binDirectory.appendingPathComponent("breakglassd").path, ["check"] + arguments, environment: env)
    }

    func line(_ result: CommandResult, _ check: String) -> String? {
        result.stdout.split(separator: "\n").map(String.init).first { $0.dropFirst(6).hasPrefix(check + " ") }
    }

    /// A broker with an admin and a channel whose receiver answers.
    func healthyBroker() async throws -> LoopbackReceiver {
        let receiver = LoopbackReceiver()
        try await receiver.start()
        let alice = try await enrolledUser("alice", roles: [.admin, .engineer])
        let saved = try await adminSend(.PUT, "/v1/notify/channels/hook", as: alice, json: ["kind": "webhook", "url": receiver.url("/hook/secret-path")])
        XCTAssertEqual(saved.status, 200, saved.text)
        return receiver
    }

    func testHealthyBrokerPassesEveryCheckWithoutPaging() async throws {
        let receiver = try await healthyBroker()
        addTeardownBlock { await receiver.stop() }
        let result = try await check(try environment())
        XCTAssertEqual(result.status, 0, result.stdout + result.stderr)
        for check in ["configuration", "listen", "database", "migrations", "runtime role", "master key", "channel hook"] {
            XCTAssertTrue(line(result, check)?.hasPrefix("ok  ") == true, "\(check): \(result.stdout)")
        }
        XCTAssertTrue(line(result, "database")!.contains("external database because DATABASE_URL is set"), result.stdout)
        XCTAssertFalse(result.stdout.contains(TestDatabase.runtimePassword), "no password in the output")
        XCTAssertFalse(result.stdout.contains("secret-path"), "the channel's path is a secret")
        let pages = await receiver.received()
        XCTAssertTrue(pages.isEmpty, "a check sends no page without --send-test")

        let json = try await check(try environment(), ["--json"])
        XCTAssertEqual(json.status, 0)
        let parsed = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any]
        XCTAssertEqual(parsed?["ok"] as? Bool, true)
        XCTAssertEqual((parsed?["findings"] as? [[String: Any]])?.count, 7)
    }

    func testSendTestQueuesOneTestPagePerChannel() async throws {
        let receiver = try await healthyBroker()
        addTeardownBlock { await receiver.stop() }
        let result = try await check(try environment(), ["--send-test"])
        XCTAssertEqual(result.status, 0, result.stdout + result.stderr)
        XCTAssertTrue(line(result, "test pages")?.contains("queued notify.test for hook") == true, result.stdout)
        // The in-process broker delivers it, as any running broker would.
        try await waitUntil {
            await receiver.received("/hook/secret-path").contains { $0.json["type"] as? String == "notify.test" }
        }
    }

    func testMissingOrWrongMasterKeyFails() async throws {
        let receiver = try await healthyBroker()
        addTeardownBlock { await receiver.stop() }
        let missing = try await check(try environment(keyFile: scratch.appendingPathComponent("absent.key").path))
        XCTAssertEqual(missing.status, 1)
        XCTAssertTrue(line(missing, "master key")?.hasPrefix("FAIL") == true, missing.stdout)
        XCTAssertTrue(line(missing, "master key")!.contains("absent.key does not exist"), missing.stdout)

        let other = scratch.appendingPathComponent("other.key").path
        _ = FileManager.default.createFile(atPath: other, contents: Data(Data(SecretBox.generateKey()).base64EncodedString().utf8),
                                           attributes: [.posixPermissions: 0o600])
        let wrong = try await check(try environment(keyFile: other))
        XCTAssertEqual(wrong.status, 1)
        XCTAssertTrue(line(wrong, "master key")!.contains("does not decrypt signing key"), wrong.stdout)

        try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: other)
        let readable = try await check(try environment(keyFile: other))
        XCTAssertTrue(line(readable, "master key")!.contains("readable by other users"), readable.stdout)
    }

    func testPendingMigrationFails() async throws {
        let old = try await TestDatabase.create(migrate: false)
        addTeardownBlock { await old.drop() }
        let migrator = try Migrator.load(directory: TestDatabase.sqlDirectory)
        try await Database.withDatabase(old.owner, logger: TestDatabase.logger) { try await migrator.upTo(6).migrate($0, logger: TestDatabase.logger) }
        let result = try await check(try environment(database: old))
        XCTAssertEqual(result.status, 1)
        let migrations = try XCTUnwrap(line(result, "migrations"), result.stdout)
        XCTAssertTrue(migrations.hasPrefix("FAIL"), migrations)
        XCTAssertTrue(migrations.contains("pending: 0007_trust_hardening.sql") && migrations.contains("breakglassd migrate"), migrations)
    }

    func testPrivilegedRoleFails() async throws {
        var env = try environment()
        env["DATABASE_URL"] = database.owner.urlWithPassword
        let result = try await check(env)
        XCTAssertEqual(result.status, 1)
        let role = try XCTUnwrap(line(result, "runtime role"), result.stdout)
        XCTAssertTrue(role.hasPrefix("FAIL") && role.contains("superuser") && role.contains("breakglass_app"), role)
    }

    func testUnreachableChannelFails() async throws {
        let alice = try await enrolledUser("alice", roles: [.admin, .engineer])
        let port = try await LoopbackReceiver.unusedPort()
        let saved = try await adminSend(.PUT, "/v1/notify/channels/down", as: alice, json: ["kind": "webhook", "url": "http://127.0.0.1:\(port)/hook"])
        XCTAssertEqual(saved.status, 200, saved.text)
        let result = try await check(try environment())
        XCTAssertEqual(result.status, 1)
        let channel = try XCTUnwrap(line(result, "channel down"), result.stdout)
        XCTAssertTrue(channel.hasPrefix("FAIL") && channel.contains("unreachable (connect)"), channel)
        XCTAssertTrue(result.stdout.contains("checks failed"), result.stdout)
    }
}
