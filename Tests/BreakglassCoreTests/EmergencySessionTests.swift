import BreakglassCore
import Foundation
import XCTest

final class EmergencySessionTests: XCTestCase {
    let target = Target(name: "prod-db", kind: .token, audience: "prod-db", maxTTL: 3600, maxTotal: 7200, retroDeadline: 86400,
                        requesters: ["role:engineer"])
    let now = Date(timeIntervalSince1970: 1_800_000_000)

    func activate(ttl: TimeInterval? = 1800) throws -> EmergencySession {
        try EmergencySession.activate(id: "bg_TEST", requester: "alice", target: target, reason: "INC-1 kill blocking queries",
                                      incident: "INC-1", ttl: ttl, now: now)
    }

    func testActivationRecordsExpiryHardLimitAndRetroDeadline() throws {
        let s = try activate()
        XCTAssertEqual(s.state, .active)
        XCTAssertEqual(s.expiresAt, now + 1800)
        XCTAssertEqual(s.hardLimit, now + 7200)
        XCTAssertEqual(s.retroDueAt, now + 86400)
        XCTAssertEqual(try activate(ttl: nil).expiresAt, now + 3600, "default TTL is the target's maximum")
    }

    func testTTLAboveTheTargetMaximumIsRefusedNamingTheMaximum() {
        XCTAssertThrowsError(try activate(ttl: 7200)) { error in
            let error = error as! BreakglassError
            XCTAssertEqual(error.code, "invalid_ttl")
            XCTAssertTrue(error.message.contains("maximum of 1h"), error.message)
        }
    }

    func testTrivialReasonsAndBadIncidentsAreRefused() {
        for reason in ["", "fix", "testing it", "   ", "emergency"] {
            XCTAssertThrowsError(try EmergencySession.activate(id: "x", requester: "a", target: target, reason: reason, incident: "INC-1", ttl: nil, now: now),
                                 reason)
        }
        XCTAssertThrowsError(try EmergencySession.activate(id: "x", requester: "a", target: target, reason: "kill the blocking queries",
                                                           incident: "has spaces", ttl: nil, now: now))
    }

    func testExtensionIsCappedByTheTotalAndRefusedBeyondIt() throws {
        let s = try activate(ttl: 3600)
        let extended = try s.extend(by: 1800, target: target, now: now + 60)
        XCTAssertEqual(extended.expiresAt, now + 5400)
        XCTAssertEqual(extended.extensions, 1)
        XCTAssertThrowsError(try extended.extend(by: 3600, target: target, now: now + 120)) { error in
            XCTAssertTrue((error as! BreakglassError).message.contains("at most 30m remains"), "\(error)")
        }
    }

    func testTerminalStatesAreFinal() throws {
        let ended = try activate().end(by: "alice", now: now + 10)
        XCTAssertEqual(ended.state, .ended)
        XCTAssertThrowsError(try ended.end(by: "alice", now: now + 20))
        XCTAssertThrowsError(try ended.extend(by: 60, target: target, now: now + 20))
        XCTAssertThrowsError(try ended.revoke(by: "root", reason: "compromised laptop reported", now: now + 20))
        XCTAssertNil(ended.expire(now: now + 99999))
    }

    func testExpiryIsStampedAtTheExpiryTimeAndAPastDueSessionCannotBeExtended() throws {
        let s = try activate()
        XCTAssertNil(s.expire(now: now + 1799))
        let expired = s.expire(now: now + 99999)
        XCTAssertEqual(expired?.state, .expired)
        XCTAssertEqual(expired?.closedAt, now + 1800)
        XCTAssertEqual(s.state(at: now + 1800), .expired)
        XCTAssertThrowsError(try s.extend(by: 60, target: target, now: now + 1801)) { error in
            XCTAssertEqual((error as! BreakglassError).code, "session_not_active")
        }
    }

    func testDurationsParseAndFormat() {
        XCTAssertEqual(TTL.parse("30m"), 1800)
        XCTAssertEqual(TTL.parse("1h30m"), 5400)
        XCTAssertEqual(TTL.parse("2d"), 172800)
        for bad in ["", "30", "m", "-5m", "1x", "1.5h"] { XCTAssertNil(TTL.parse(bad), bad) }
        XCTAssertEqual(TTL.format(5400), "1h30m")
    }

    func testTargetRequestersAreChecked() throws {
        XCTAssertTrue(target.allows(user: "alice", roles: [.engineer]))
        XCTAssertFalse(target.allows(user: "carol", roles: [.compliance]))
        var t = target
        t.requesters = ["user:carol"]
        XCTAssertTrue(t.allows(user: "carol", roles: []))
        t.requesters = ["group:x"]
        XCTAssertThrowsError(try t.validated())
    }
}
