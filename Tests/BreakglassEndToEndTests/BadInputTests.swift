import BreakglassCore
import BreakglassTestSupport
import Foundation
import NIOHTTP1
import XCTest

/// Every kind of bad input gets a precise 4xx JSON error (or CLI message and exit code) and writes nothing.
final class BadInputTests: BrokerTestCase {
    func testBadSessionRequestsAreRefusedWithAPreciseErrorAndNothingWritten() async throws {
        let alice = try await enrolledUser("alice", roles: [.admin, .engineer])
        try await makeTarget("payments-db", admin: alice, maxTTL: "1h")
        let valid: [String: Any] = ["target": "payments-db", "reason": "INC-4 clear the replication slot", "incident": "INC-4", "ttl": "30m",
                                    "totp": try code(alice.secret)]
        let cases: [(String, [String: Any], Int, String, String)] = [
            ("ttl over max", ["ttl": "2h"], 400, "invalid_ttl", "exceeds the maximum of 1h for target payments-db"),
            ("ttl garbage", ["ttl": "soon"], 400, "invalid_ttl", "'soon' is not a duration"),
            ("trivial reason", ["reason": "fix"], 400, "invalid_reason", "reason must say what you will do and why"),
            ("bad incident", ["incident": "no spaces allowed"], 400, "invalid_incident", "incident id"),
            ("unknown target", ["target": "nope"], 404, "target_unknown", "no target named 'nope'"),
            ("bad target name", ["target": "Bad Name!"], 400, "invalid_target", "not a valid target name"),
            ("totp wrong type", ["totp": 123456], 400, "invalid_totp", "the field 'totp' has the wrong type"),
        ]
        for (name, change, status, code, message) in cases {
            let body = valid.merging(change) { $1 }
            let reply = try await http.send(.POST, "/v1/sessions", token: alice.token, json: body)
            XCTAssertEqual(reply.status, status, "\(name): \(reply.text)")
            XCTAssertEqual(reply.errorCode, code, name)
            XCTAssertTrue(reply.errorMessage?.contains(message) ?? false, "\(name): \(reply.text)")
        }
        var missing = valid
        missing.removeValue(forKey: "reason")
        let noReason = try await http.send(.POST, "/v1/sessions", token: alice.token, json: missing)
        XCTAssertEqual(noReason.errorCode, "invalid_reason")
        XCTAssertEqual(noReason.errorMessage, "the field 'reason' is required")

        let sessions = try await database.count("SELECT count(*)::bigint FROM sessions")
        XCTAssertEqual(sessions, 0)
        let failures = try await database.count("SELECT count(*)::bigint FROM totp_failures")
        XCTAssertEqual(failures, 0, "bad input is refused before the code is checked, so it neither spends nor counts it")
        let good = try await http.send(.POST, "/v1/sessions", token: alice.token, json: valid)
        XCTAssertEqual(good.status, 201, "the same code still works after the refusals: \(good.text)")
    }

    /// PostgreSQL text cannot hold a NUL character: a name, id or code carrying one (as the fuzzer sends) is bad
    /// input, refused with a 4xx before it reaches the database, never a 500.
    func testNulCharactersInNamesAndIdsAreBadInputNotServerErrors() async throws {
        let alice = try await enrolledUser("alice", roles: [.admin, .engineer])
        let carol = try await enrolledUser("carol", roles: [.compliance])
        let nul = "%00"
        let reads: [(String, String)] = [
            ("token owner", "/v1/tokens?user=al\(nul)ice"), ("delivery log session", "/v1/notify/log?session=bg_\(nul)x"),
            ("session", "/v1/sessions/bg_\(nul)x"), ("statements", "/v1/sessions/bg_\(nul)x/statements"),
            ("story", "/v1/compliance/sessions/bg_\(nul)x"), ("evidence", "/v1/compliance/sessions/bg_\(nul)x/evidence"),
            ("drill report", "/v1/drills/bg_\(nul)x/report"),
        ]
        for (name, path) in reads {
            for token in [alice.token, carol.token] {
                let reply = try await http.send(.GET, path, token: token)
                XCTAssertTrue((400..<500).contains(reply.status), "\(name): \(reply.status) \(reply.text)")
            }
        }
        let writes: [(String, String, [String: Any])] = [
            ("end", "/v1/sessions/bg_\(nul)x/end", [:]), ("revoke", "/v1/sessions/bg_\(nul)x/revoke", ["reason": "INC-1 stop it now"]),
            ("extend", "/v1/sessions/bg_\(nul)x/extend", ["ttl": "5m", "totp": "123456"]),
            ("link", "/v1/retro/bg_\(nul)x/link", ["url": "https://github.com/acme/payments/pull/1"]),
            ("approve", "/v1/compliance/sessions/bg_\(nul)x/approve", ["note": "fine"]),
            ("accept candidate", "/v1/compliance/sessions/bg_\(nul)x/accept-candidate", ["url": "https://github.com/acme/payments/pull/1"]),
            ("token revoke", "/v1/tokens/ab\(nul)cd/revoke", [:]), ("channel test", "/v1/notify/channels/si\(nul)em/test", [:]),
            ("login", "/v1/login", ["user": "al\u{0}ice", "totp": "123456"]),
            ("enrolment", "/v1/enrollment/start", ["code": "AB\u{0}CD"]),
            ("session target", "/v1/sessions", ["target": "pay\u{0}", "reason": "INC-1 clear the lock pile-up", "incident": "INC-1",
                                                "totp": "123456"]),
        ]
        for (name, path, body) in writes {
            for token in [alice.token, carol.token] {
                let reply = try await http.send(.POST, path, token: token, json: body)
                XCTAssertTrue((400..<500).contains(reply.status), "\(name): \(reply.status) \(reply.text)")
            }
        }
        // Admin changes read their names only after the step-up: a valid code each.
        let adminWrites: [(String, HTTPMethod, String, [String: Any])] = [
            ("unlock", .POST, "/v1/users/al\(nul)ice/unlock", [:]), ("enrolment code", .POST, "/v1/users/al\(nul)ice/enrollment", [:]),
            ("github login", .PUT, "/v1/users/al\(nul)ice/github", ["login": "alice"]),
            ("enable channel", .POST, "/v1/notify/channels/si\(nul)em/enable", [:]),
        ]
        for (name, method, path, body) in adminWrites {
            let reply = try await adminSend(method, path, as: alice, json: body)
            XCTAssertTrue((400..<500).contains(reply.status), "\(name): \(reply.status) \(reply.text)")
        }
    }

    func testMalformedAndOversizedBodiesAndUnknownRoutes() async throws {
        let alice = try await enrolledUser("alice", roles: [.engineer])
        let notJSON = try await http.send(.POST, "/v1/sessions", token: alice.token, rawBody: Data("{not json".utf8),
                                          headers: ["Content-Type": "application/json"])
        XCTAssertEqual(notJSON.status, 400)
        XCTAssertEqual(notJSON.errorCode, "invalid_json")
        let huge = try await http.send(.POST, "/v1/sessions", token: alice.token, json: ["reason": String(repeating: "x", count: 100_000)])
        XCTAssertEqual(huge.status, 413)
        XCTAssertEqual(huge.errorCode, "body_too_large")
        let unknown = try await http.send(.GET, "/v1/nothing-here", token: alice.token)
        XCTAssertEqual(unknown.status, 404)
        XCTAssertNotNil(unknown.errorCode)
        let noToken = try await http.send(.GET, "/v1/sessions")
        XCTAssertEqual(noToken.status, 401)
        XCTAssertEqual(noToken.errorCode, "unauthenticated")
        let badToken = try await http.send(.GET, "/v1/sessions", token: "bgt_forged")
        XCTAssertEqual(badToken.status, 401)
        let unknownSession = try await http.send(.GET, "/v1/sessions/bg_NOPE", token: alice.token)
        XCTAssertEqual(unknownSession.status, 404)
        XCTAssertEqual(unknownSession.errorCode, "session_unknown")
    }

    func testRolesAreEnforced() async throws {
        let admin = try await enrolledUser("root", roles: [.admin])
        let bob = try await enrolledUser("bob", roles: [.engineer])
        let carol = try await enrolledUser("carol", roles: [.compliance])
        try await makeTarget("payments-db", admin: admin)
        let createUser = try await http.send(.POST, "/v1/users", token: bob.token, json: ["name": "mallory", "roles": ["admin"]])
        XCTAssertEqual(createUser.status, 403)
        XCTAssertEqual(createUser.errorMessage, "only the admin role may create users")
        let target = try await http.send(.PUT, "/v1/targets/other", token: bob.token, json: ["max_ttl": "1h"])
        XCTAssertEqual(target.status, 403)
        // Compliance is not a requester of the default target.
        let denied = try await requestSession(target: "payments-db", token: carol.token, secret: carol.secret)
        XCTAssertEqual(denied.status, 403)
        let deniedEvents = try await database.count("SELECT count(*)::bigint FROM audit_events WHERE event_type = 'session.denied'")
        XCTAssertEqual(deniedEvents, 1)

        let session = try await requestSession(target: "payments-db", token: bob.token, secret: bob.secret)
        XCTAssertEqual(session.status, 201, session.text)
        let id = (session.json["session"] as! [String: Any])["id"] as! String
        // Engineers see their own sessions only; compliance sees all.
        let hidden = try await http.send(.GET, "/v1/sessions/\(id)", token: try await enrolledUser("dave", roles: [.engineer]).token)
        XCTAssertEqual(hidden.status, 404)
        let all = try await http.send(.GET, "/v1/sessions/\(id)", token: carol.token)
        XCTAssertEqual(all.status, 200)
        let bobRevokes = try await http.send(.POST, "/v1/sessions/\(id)/revoke", token: bob.token, json: ["reason": "want to stop it now"])
        XCTAssertEqual(bobRevokes.status, 403)
        let shortReason = try await http.send(.POST, "/v1/sessions/\(id)/revoke", token: admin.token, json: ["reason": "no"])
        XCTAssertEqual(shortReason.status, 400)
        let listedBefore = try await http.send(.GET, "/.well-known/breakglass-revoked.json")
        XCTAssertEqual((listedBefore.json["revoked"] as? [Any])?.count, 0)
        let revoked = try await http.send(.POST, "/v1/sessions/\(id)/revoke", token: admin.token, json: ["reason": "laptop reported stolen"])
        XCTAssertEqual(revoked.status, 200, revoked.text)
        XCTAssertEqual(revoked.json["state"] as? String, "revoked")
        // Downstream services learn that the still-unexpired token is revoked (the public list is rendered at
        // most every 2 s, well inside its own 15 s Cache-Control).
        let http = http
        func revokedList() async throws -> [[String: Any]] {
            try await http.send(.GET, "/.well-known/breakglass-revoked.json").json["revoked"] as? [[String: Any]] ?? []
        }
        try await waitUntil { try await revokedList().first?["jti"] as? String == id }
        let entries = try await revokedList()
        XCTAssertEqual(entries.first?["state"] as? String, "revoked")
        clock.advance(by: 3 * 3600)
        try await waitUntil { try await revokedList().isEmpty }
        let again = try await http.send(.POST, "/v1/sessions/\(id)/end", token: bob.token)
        XCTAssertEqual(again.status, 409)
        XCTAssertEqual(again.errorCode, "session_not_active")
    }

    func testCLIExitCodesDistinguishUsageRefusalAndUnavailability() async throws {
        let alice = try await enrolledUser("alice", roles: [.engineer])
        let env = ["BREAKGLASS_TOKEN": alice.token]
        let usage = try Tools.cli(["request", "payments-db", "--reason", "fix", "--incident", "INC-1", "--totp", "123456"], server: server,
                                  credentials: credentialsPath("none"), extra: env)
        XCTAssertEqual(usage.status, 64)
        XCTAssertTrue(usage.stderr.contains("reason must say what you will do and why"), usage.stderr)
        let refused = try Tools.cli(["request", "payments-db", "--reason", "INC-1 flush the stuck cache", "--incident", "INC-1", "--totp", "123456"],
                                    server: server, credentials: credentialsPath("none"), extra: env)
        XCTAssertEqual(refused.status, 77)
        XCTAssertEqual(refused.stderr, "breakglass: no target named 'payments-db'\n")
        let unavailable = try Tools.run(Tools.binDirectory.appendingPathComponent("breakglass").path, ["list"],
                                        environment: ["BREAKGLASS_URL": "http://127.0.0.1:1", "BREAKGLASS_TOKEN": alice.token,
                                                      "BREAKGLASS_CREDENTIALS": credentialsPath("none")])
        XCTAssertEqual(unavailable.status, 69)
        XCTAssertTrue(unavailable.stderr.contains("cannot reach the broker"), unavailable.stderr)
        let json = try Tools.cli(["whoami", "--json"], server: server, credentials: credentialsPath("none"), extra: ["BREAKGLASS_TOKEN": "bgt_x"])
        XCTAssertEqual(json.status, 77)
        XCTAssertTrue(json.stderr.contains("\"code\":\"unauthenticated\""), json.stderr)
    }
}
