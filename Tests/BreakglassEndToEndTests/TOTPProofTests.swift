import BreakglassCore
import BreakglassTestSupport
import Foundation
import XCTest

final class TOTPProofTests: BrokerTestCase {
    func testTwentyConcurrentRequestsWithOneCodeYieldExactlyOneCredential() async throws {
        let alice = try await enrolledUser("alice", roles: [.admin, .engineer])
        try await makeTarget("payments-db", admin: alice)
        let code = try await code(alice.secret)
        let http = http
        let replies = try await withThrowingTaskGroup(of: HTTPTestClient.Reply.self) { group in
            for _ in 0..<20 {
                group.addTask {
                    try await http.send(.POST, "/v1/sessions", token: alice.token, json: [
                        "target": "payments-db", "reason": "INC-1 drain the stuck queue", "incident": "INC-1", "totp": code,
                    ])
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        XCTAssertEqual(replies.filter { $0.status == 201 }.count, 1, replies.map(\.text).joined(separator: "\n"))
        // Replays of the step just accepted are refused and audited, but a double submit during an incident
        // does not count toward the lockout: the engineer is not locked out by their own retries.
        XCTAssertEqual(replies.filter { $0.errorCode == "totp_reused" }.count, 19, replies.map(\.text).joined(separator: "\n"))
        let sessions = try await database.count("SELECT count(*)::bigint FROM sessions")
        XCTAssertEqual(sessions, 1)
        let denied = try await database.count("SELECT count(*)::bigint FROM audit_events WHERE event_type = 'session.denied'")
        XCTAssertEqual(denied, 19, "every refusal is audited")
        let failures = try await database.count("SELECT count(*)::bigint FROM totp_failures")
        XCTAssertEqual(failures, 0, "replays are not counted as failed codes")
        let locks = try await database.count("SELECT count(*)::bigint FROM audit_events WHERE event_type = 'user.locked'")
        XCTAssertEqual(locks, 0)
        nextStep()
        let next = try await requestSession(target: "payments-db", token: alice.token, secret: alice.secret)
        XCTAssertEqual(next.status, 201, "not locked out: \(next.text)")
    }

    func testOlderCodesAndWrongCodesStillCountTowardLockout() async throws {
        let alice = try await enrolledUser("alice", roles: [.admin, .engineer])
        try await makeTarget("payments-db", admin: alice)
        let first = try await requestSession(target: "payments-db", token: alice.token, secret: alice.secret)
        XCTAssertEqual(first.status, 201, first.text)
        let spent = try await code(alice.secret)
        nextStep()
        let second = try await requestSession(target: "payments-db", token: alice.token, secret: alice.secret)
        XCTAssertEqual(second.status, 201, second.text)
        // A code older than the one just accepted is not a double submit: it counts.
        let old = try await http.send(.POST, "/v1/sessions", token: alice.token, json: [
            "target": "payments-db", "reason": "INC-1 drain the stuck queue", "incident": "INC-1", "totp": spent,
        ])
        XCTAssertEqual(old.errorCode, "totp_reused")
        let failures = try await database.count("SELECT count(*)::bigint FROM totp_failures")
        XCTAssertEqual(failures, 1)
    }

    func testWrongCodesLockTheAccountUntilAnAdminUnlocksIt() async throws {
        let admin = try await enrolledUser("root", roles: [.admin])
        let bob = try await enrolledUser("bob", roles: [.engineer])
        try await makeTarget("payments-db", admin: admin)
        let good = try await code(bob.secret)
        let wrong = String(format: "%06d", (Int(good)! + 1) % 1_000_000)
        var last: HTTPTestClient.Reply?
        for attempt in 1...5 {
            last = try await http.send(.POST, "/v1/sessions", token: bob.token, json: [
                "target": "payments-db", "reason": "INC-2 restart the ledger writer", "incident": "INC-2", "totp": wrong,
            ])
            if attempt < 5 {
                XCTAssertEqual(last?.status, 403)
                XCTAssertEqual(last?.errorMessage, "the TOTP code is wrong")
            }
        }
        XCTAssertEqual(last?.status, 423)
        XCTAssertTrue(last?.errorMessage?.contains("locked until") ?? false, last?.text ?? "")
        // Even the right code is refused while locked, and says until when: the token itself is refused on
        // every route (a stolen token of a locked account is worth nothing).
        let locked = try await requestSession(target: "payments-db", token: bob.token, secret: bob.secret)
        XCTAssertEqual(locked.status, 403)
        XCTAssertEqual(locked.errorCode, "account_locked")
        for path in ["/v1/me", "/v1/sessions", "/v1/retro", "/v1/tokens"] {
            let refused = try await http.send(.GET, path, token: bob.token)
            XCTAssertEqual(refused.status, 403, path)
            XCTAssertEqual(refused.errorCode, "account_locked", path)
        }
        let lockEvents = try await database.count("SELECT count(*)::bigint FROM audit_events WHERE event_type = 'user.locked'")
        XCTAssertEqual(lockEvents, 1)

        let unlock = try await adminSend(.POST, "/v1/users/bob/unlock", as: admin)
        XCTAssertEqual(unlock.status, 200, unlock.text)
        nextStep()
        let granted = try await requestSession(target: "payments-db", token: bob.token, secret: bob.secret)
        XCTAssertEqual(granted.status, 201, granted.text)
    }

    func testLockoutWindowForgetsOldFailures() async throws {
        let admin = try await enrolledUser("root", roles: [.admin, .engineer])
        try await makeTarget("payments-db", admin: admin)
        for _ in 1...4 {
            let reply = try await http.send(.POST, "/v1/sessions", token: admin.token, json: [
                "target": "payments-db", "reason": "INC-3 rotate the leaked key", "incident": "INC-3", "totp": "000000",
            ])
            XCTAssertEqual(reply.status, 403)
        }
        clock.advance(by: 16 * 60)
        let reply = try await http.send(.POST, "/v1/sessions", token: admin.token, json: [
            "target": "payments-db", "reason": "INC-3 rotate the leaked key", "incident": "INC-3", "totp": "000000",
        ])
        XCTAssertEqual(reply.status, 403, "four old failures plus one new do not lock: " + reply.text)
    }

    func testEnrolmentCodeWorksOnceAndExpires() async throws {
        let grant = try await server.broker.createUser(name: "carol", roles: [.engineer], actor: nil, origin: .server)
        let start = try await http.send(.POST, "/v1/enrollment/start", json: ["code": grant.enrollmentCode.lowercased()])
        XCTAssertEqual(start.status, 200, "codes are accepted in any case: \(start.text)")
        let secret = start.json["secret"] as! String
        let confirm = try await http.send(.POST, "/v1/enrollment/confirm", json: ["code": grant.enrollmentCode, "totp": try code(secret)])
        XCTAssertEqual(confirm.status, 201)
        let again = try await http.send(.POST, "/v1/enrollment/start", json: ["code": grant.enrollmentCode])
        XCTAssertEqual(again.errorCode, "enrollment_code_invalid")

        let late = try await server.broker.createUser(name: "dave", roles: [.engineer], actor: nil, origin: .server)
        clock.advance(by: 25 * 3600)
        let expired = try await http.send(.POST, "/v1/enrollment/start", json: ["code": late.enrollmentCode])
        XCTAssertEqual(expired.status, 403)
        XCTAssertEqual(expired.errorCode, "enrollment_code_invalid")
    }

    func testUnconfirmedEnrolmentGivesNoToken() async throws {
        let grant = try await server.broker.createUser(name: "erin", roles: [.engineer], actor: nil, origin: .server)
        _ = try await http.send(.POST, "/v1/enrollment/start", json: ["code": grant.enrollmentCode])
        let wrong = try await http.send(.POST, "/v1/enrollment/confirm", json: ["code": grant.enrollmentCode, "totp": "123456"])
        XCTAssertEqual(wrong.status, 403)
        XCTAssertNil(wrong.json["api_token"])
        let tokens = try await database.count("SELECT count(*)::bigint FROM api_tokens")
        XCTAssertEqual(tokens, 0)
        let failed = try await database.count("SELECT count(*)::bigint FROM audit_events WHERE event_type = 'user.enrollment_failed'")
        XCTAssertEqual(failed, 1)
    }

    func testSeedsAreEncryptedInADatabaseDump() async throws {
        let alice = try await enrolledUser("alice", roles: [.engineer])
        let raw = Base32.decode(alice.secret)!
        let hex = raw.map { String(format: "%02x", $0) }.joined()
        let owner = database.owner
        let dump = try await Tools.run(pgBin("pg_dump"), ["-h", owner.host, "-p", String(owner.port), "-U", owner.user, "--inserts", owner.database],
                                       environment: ["PGPASSWORD": owner.password ?? ""])
        XCTAssertEqual(dump.status, 0, dump.stderr)
        XCTAssertTrue(dump.stdout.contains("totp_seed_enc"), "the dump contains the users table")
        XCTAssertFalse(dump.stdout.contains(alice.secret))
        XCTAssertFalse(dump.stdout.lowercased().contains(hex))
        XCTAssertFalse(dump.stdout.contains(alice.token), "API tokens are stored hashed")
    }

    func pgBin(_ name: String) -> String {
        let root = "/usr/lib/postgresql"
        let version = (try? FileManager.default.contentsOfDirectory(atPath: root))?.compactMap(Int.init).max() ?? 15
        return "\(root)/\(version)/bin/\(name)"
    }
}

final class FailClosedTests: BrokerTestCase {
    func testDatabaseUnreachableMeansNothingIsIssuedAndAClearError() async throws {
        let alice = try await enrolledUser("alice", roles: [.admin, .engineer])
        try await makeTarget("payments-db", admin: alice)
        // The server's role can no longer connect, and its open connections are cut.
        try await database.asSuperuser("ALTER DATABASE \(database.name) CONNECTION LIMIT 0")
        try await database.asSuperuser("""
            SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '\(database.name)' AND usename = '\(TestDatabase.runtimeUser)'
            """)
        let env = ["BREAKGLASS_TOKEN": alice.token]
        let result = try await Tools.cli(["request", "payments-db", "--reason", "INC-9 unblock the settlement batch", "--incident", "INC-9",
                                          "--totp", try code(alice.secret)], server: server, credentials: credentialsPath("x"), extra: env)
        XCTAssertEqual(result.status, 69, result.stderr)
        XCTAssertEqual(result.stderr, "breakglass: the audit database is unreachable; nothing was issued\n")
        XCTAssertFalse(result.stdout.contains("eyJ"), "no credential printed")
        try await database.asSuperuser("ALTER DATABASE \(database.name) CONNECTION LIMIT -1")
        let sessions = try await database.count("SELECT count(*)::bigint FROM sessions")
        XCTAssertEqual(sessions, 0)
        // Once the database is back, the same code (never spent) works.
        let retry = try await requestSession(target: "payments-db", token: alice.token, secret: alice.secret)
        XCTAssertEqual(retry.status, 201, retry.text)
    }
}
