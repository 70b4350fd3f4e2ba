import BreakglassCore
import BreakglassTestSupport
import Foundation
import XCTest

final class TokenLifetimeTests: BrokerTestCase {
    func testTokensExpireAndLoginWithATOTPCodeIssuesTheNextOne() async throws {
        let bob = try await enrolledUser("bob", roles: [.engineer])
        let listed = try await http.send(.GET, "/v1/tokens", token: bob.token)
        XCTAssertEqual(listed.status, 200, listed.text)
        XCTAssertFalse(listed.text.contains(bob.token), "a listing never shows a token")

        clock.advance(by: 31 * 86400)
        let expired = try await http.send(.GET, "/v1/me", token: bob.token)
        XCTAssertEqual(expired.status, 401)
        XCTAssertEqual(expired.errorCode, "token_expired")
        XCTAssertTrue(expired.errorMessage?.contains("breakglass login") ?? false, expired.text)

        let wrong = try await http.send(.POST, "/v1/login", json: ["user": "bob", "totp": "000000"])
        XCTAssertEqual(wrong.errorCode, "login_failed", wrong.text)
        let unknown = try await http.send(.POST, "/v1/login", json: ["user": "nobody", "totp": try code(bob.secret)])
        XCTAssertEqual(unknown.errorCode, "login_failed", "an unknown user reads like a wrong code")

        // The CLI: login saves the new token where enroll did.
        let login = try await cli(["login", "bob", "--totp", try code(bob.secret)], as: "bob")
        XCTAssertEqual(login.status, 0, login.stderr)
        let whoami = try await cli(["whoami"], as: "bob")
        XCTAssertEqual(whoami.stdout, "bob (engineer)\n", whoami.stderr)
        nextStep()

        let tokens = try await cli(["tokens", "list", "--json"], as: "bob")
        XCTAssertEqual(tokens.status, 0, tokens.stderr)
        let entries = try JSONSerialization.jsonObject(with: Data(tokens.stdout.utf8)) as? [[String: Any]] ?? []
        XCTAssertEqual(entries.count, 2)
        let current = try XCTUnwrap(entries.first { $0["issued_via"] as? String == "login" }?["id"] as? String)

        // Revoking the token (a lost laptop) ends it at once.
        let revoke = try await cli(["tokens", "revoke", current], as: "bob")
        XCTAssertEqual(revoke.status, 0, revoke.stderr)
        let after = try await cli(["whoami"], as: "bob")
        XCTAssertEqual(after.status, 77, after.stdout)
        let revokedEvents = try await database.count("SELECT count(*)::bigint FROM audit_events WHERE event_type = 'user.token_revoked'")
        XCTAssertEqual(revokedEvents, 1)
        let paged = try await database.count("SELECT count(*)::bigint FROM outbox WHERE event_type = 'user.token_revoked'")
        XCTAssertEqual(paged, 1, "an owner's revocation is paged: a thief with the old token could revoke the new one")
    }

    func testAnAdminRevokesSomeoneElsesTokenOnlyWithAFreshCode() async throws {
        let alice = try await enrolledUser("alice", roles: [.admin])
        let bob = try await enrolledUser("bob", roles: [.engineer])
        let listing = try await http.send(.GET, "/v1/tokens?user=bob", token: alice.token)
        let id = try XCTUnwrap((try JSONSerialization.jsonObject(with: listing.body) as? [[String: Any]])?.first?["id"] as? String)
        let bobLists = try await http.send(.GET, "/v1/tokens?user=alice", token: bob.token)
        XCTAssertEqual(bobLists.status, 403, "engineers see only their own tokens")

        let tokenOnly = try await http.send(.POST, "/v1/tokens/\(id)/revoke", token: alice.token, json: [:])
        XCTAssertEqual(tokenOnly.errorCode, "totp_required")
        let revoked = try await adminSend(.POST, "/v1/tokens/\(id)/revoke", as: alice)
        XCTAssertEqual(revoked.status, 200, revoked.text)
        let me = try await http.send(.GET, "/v1/me", token: bob.token)
        XCTAssertEqual(me.status, 401)
        let paged = try await database.count("SELECT count(*)::bigint FROM outbox WHERE event_type = 'admin.token_revoked'")
        XCTAssertEqual(paged, 1)
    }

    func testAnyoneGuessingAtLoginCannotLockTheEngineerOut() async throws {
        let alice = try await enrolledUser("alice", roles: [.admin, .engineer])
        try await makeTarget("payments-db", admin: alice)
        // Someone on the network, with no token, guesses codes for alice.
        for _ in 0..<5 {
            let guess = try await http.send(.POST, "/v1/login", json: ["user": "alice", "totp": "000000"])
            XCTAssertEqual(guess.errorCode, "login_failed", guess.text)
        }
        let throttled = try await http.send(.POST, "/v1/login", json: ["user": "alice", "totp": try code(alice.secret)])
        XCTAssertEqual(throttled.status, 423, throttled.text)
        XCTAssertEqual(throttled.errorCode, "login_throttled", "further logins wait, even with the right code")
        // The account is not locked: alice breaks glass with her token and a fresh code.
        nextStep()
        let session = try await requestSession(target: "payments-db", token: alice.token, secret: alice.secret)
        XCTAssertEqual(session.status, 201, session.text)
        let locks = try await database.count("SELECT count(*)::bigint FROM audit_events WHERE event_type = 'user.locked'")
        XCTAssertEqual(locks, 0)
        let audited = try await database.count("""
            SELECT count(*)::bigint FROM audit_events WHERE event_type = 'user.token_issued' AND (body::jsonb -> 'event' ->> 'outcome') = 'failure'
            """)
        XCTAssertEqual(audited, 6, "every refused login is audited")
        let stranger = try await http.send(.POST, "/v1/login", json: ["user": "nobody", "totp": "000000"])
        XCTAssertEqual(stranger.errorCode, "login_failed")
        let unknownAudited = try await database.count("""
            SELECT count(*)::bigint FROM audit_events WHERE event_type = 'user.token_issued' AND (body::jsonb -> 'event' -> 'details' ->> 'failure') = 'unknown_user'
            """)
        XCTAssertEqual(unknownAudited, 1)
    }
}
