import BreakglassCore
import BreakglassTestSupport
import Foundation
import XCTest

final class ExpiryTests: BrokerTestCase {
    func testSessionExpiresOnItsOwnAndTheExpiryIsAudited() async throws {
        let alice = try await enrolledUser("alice", roles: [.engineer, .admin])
        try await makeTarget("payments-db", admin: alice)
        let reply = try await requestSession(target: "payments-db", token: alice.token, secret: alice.secret, ttl: "10m")
        let id = (reply.json["session"] as! [String: Any])["id"] as! String
        clock.advance(by: 10 * 60 + 1)
        try await waitUntil { try await self.database.count("SELECT count(*)::bigint FROM sessions WHERE state = 'expired'") == 1 }
        let status = try await http.send(.GET, "/v1/sessions/\(id)", token: alice.token)
        XCTAssertEqual(status.json["state"] as? String, "expired")
        let expiredEvents = try await database.count("SELECT count(*)::bigint FROM audit_events WHERE event_type = 'session.expired'")
        XCTAssertEqual(expiredEvents, 1)
        let pages = try await database.count("SELECT count(*)::bigint FROM outbox WHERE event_type = 'session.expired'")
        XCTAssertEqual(pages, 1)
        nextStep()
        let extend = try await http.send(.POST, "/v1/sessions/\(id)/extend", token: alice.token, json: ["ttl": "5m", "totp": try code(alice.secret)])
        XCTAssertEqual(extend.status, 409, "an expired session is final")
    }

    func testExpiryMissedWhileTheBrokerWasDownIsShownAtOnceAndRecordedOnStart() async throws {
        let alice = try await enrolledUser("alice", roles: [.engineer, .admin])
        try await makeTarget("payments-db", admin: alice)
        let reply = try await requestSession(target: "payments-db", token: alice.token, secret: alice.secret, ttl: "10m")
        let id = (reply.json["session"] as! [String: Any])["id"] as! String
        await server.stop()
        clock.advance(by: 3 * 24 * 3600)

        // A broker that has not run its expiry pass yet already reports the session as expired.
        let reader = TestServer(database: database, clock: clock, masterKey: server.masterKey)
        try await reader.start()
        addTeardownBlock { await reader.stop() }
        let shown = try await HTTPTestClient(baseURL: reader.baseURL).send(.GET, "/v1/sessions/\(id)", token: alice.token)
        XCTAssertEqual(shown.json["state"] as? String, "expired")
        try await waitUntil { try await self.database.count("SELECT count(*)::bigint FROM sessions WHERE state = 'expired'") == 1 }
        let late = try await database.count("""
            SELECT count(*)::bigint FROM audit_events WHERE event_type = 'session.expired' AND body LIKE '%"recorded_late_by":"2d23h50m%'
            """)
        XCTAssertEqual(late, 1, "the catch-up says how late it recorded the expiry")
        let closedAt = try await database.count("SELECT extract(epoch FROM closed_at - expires_at)::bigint FROM sessions WHERE id = '\(id)'")
        XCTAssertEqual(closedAt, 0, "closed at its expiry time, not when the broker came back")
    }

}
