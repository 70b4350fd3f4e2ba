import BreakglassCore
import Foundation
import XCTest

final class ProxyAdmissionTests: XCTestCase {
    let target = Target(name: "prod-db", kind: .token, audience: "prod-db", maxTTL: 3600, maxTotal: 7200, retroDeadline: 86400,
                        requesters: ["role:engineer"])
    let now = Date(timeIntervalSince1970: 1_800_000_000)
    let token = ProxyToken.generate()

    func session() throws -> EmergencySession {
        try EmergencySession.activate(id: "bg_TEST", requester: "alice", target: target, reason: "INC-1 kill blocking queries",
                                      incident: "INC-1", ttl: 1800, now: now)
    }

    func testTheSessionTokenAdmitsDuringTheWindow() throws {
        XCTAssertEqual(ProxyAdmission.decide(session: try session(), storedTokenHash: ProxyToken.hash(token), presentedToken: token, now: now + 60),
                       .admit)
    }

    func testAWrongTokenAnUnknownSessionAndADirectSessionGetTheSameRefusal() throws {
        let s = try session()
        XCTAssertEqual(ProxyAdmission.decide(session: s, storedTokenHash: ProxyToken.hash(token), presentedToken: token + "x", now: now),
                       .refuse(.badCredentials))
        XCTAssertEqual(ProxyAdmission.decide(session: nil, storedTokenHash: nil, presentedToken: token, now: now), .refuse(.badCredentials))
        XCTAssertEqual(ProxyAdmission.decide(session: s, storedTokenHash: nil, presentedToken: token, now: now), .refuse(.badCredentials))
    }

    func testTheTokenIsRefusedAfterExpiryAndAfterRevocation() throws {
        let s = try session()
        let hash = ProxyToken.hash(token)
        XCTAssertEqual(ProxyAdmission.decide(session: s, storedTokenHash: hash, presentedToken: token, now: now + 1800),
                       .refuse(.sessionNotActive))
        let revoked = try s.revoke(by: "bob", reason: "incident over, access no longer needed", now: now + 10)
        XCTAssertEqual(ProxyAdmission.decide(session: revoked, storedTokenHash: hash, presentedToken: token, now: now + 20),
                       .refuse(.sessionNotActive))
    }

    func testTokensAreDistinctAndPrefixed() {
        let other = ProxyToken.generate()
        XCTAssertNotEqual(token, other)
        XCTAssertTrue(token.hasPrefix("bgp_"))
        XCTAssertEqual(ProxyToken.hash(token).count, 32)
    }
}
