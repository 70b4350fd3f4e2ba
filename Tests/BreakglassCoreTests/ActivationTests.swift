import BreakglassCore
import Foundation
import XCTest

/// Breaking glass decided in one place: the session and its obligation agree on the retro deadline from the start.
final class ActivationTests: XCTestCase {
    let now = Date(timeIntervalSince1970: 1_800_000_000)
    let day: TimeInterval = 24 * 3600

    func target(from basis: RetroDeadlineBasis = .activation, drillDeadline: TimeInterval? = nil) -> Target {
        Target(name: "ledger", kind: .token, audience: "ledger-api", maxTTL: 3600, maxTotal: 7200, retroDeadline: 2 * 3600, retroFrom: basis,
               requesters: ["role:engineer"], drillDeadline: drillDeadline)
    }

    func activate(_ target: Target, ttl: TimeInterval = 1800, drill: Bool = false, roles: [Role] = [.engineer]) throws -> Activation {
        try Activation.decide(id: "bg_ABCDEFGHIJKLMNOPQRST", requester: "alice", roles: roles, target: target, reason: "INC-4521 lock pile-up",
                              incident: "INC-4521", ttl: ttl, drill: drill, ladder: .standard, origin: .server, now: now)
    }

    func testTheSessionCarriesItsObligationsDeadlineForEveryBasis() throws {
        let fromActivation = try activate(target())
        XCTAssertEqual(fromActivation.session.retroDueAt, now + 2 * 3600)
        let fromEnd = try activate(target(from: .end))
        XCTAssertEqual(fromEnd.obligation.dueAt, now + 1800 + 2 * 3600)
        XCTAssertEqual(fromEnd.session.retroDueAt, fromEnd.obligation.dueAt)
        let drill = try activate(target(from: .end, drillDeadline: 120), ttl: 300, drill: true)
        XCTAssertEqual(drill.obligation.dueAt, now + 120, "a drill runs from activation on its compressed deadline")
        XCTAssertEqual(drill.session.retroDueAt, drill.obligation.dueAt)
    }

    func testAnExtensionMovesADeadlineFromTheEndAndTheSessionWithIt() throws {
        let activation = try activate(target(from: .end))
        let extended = try activation.session.extend(by: 1800, target: activation.target, now: now + 600)
        XCTAssertTrue(RetroWindow.follows(extended, on: activation.target))
        let move = try XCTUnwrap(RetroDeadlineMove.decide(session: extended, obligation: activation.obligation, target: activation.target,
                                                          now: now + 600))
        XCTAssertEqual(move.obligation.dueAt, now + 3600 + 2 * 3600)
        XCTAssertEqual(move.session.retroDueAt, move.obligation.dueAt)
        XCTAssertEqual(move.event.type, .retroDeadlineMoved)
        XCTAssertEqual(move.event.details["previous_due_at"], Timestamp.format(activation.obligation.dueAt))

        var settled = activation.obligation
        settled.status = .waived
        XCTAssertNil(RetroDeadlineMove.decide(session: extended, obligation: settled, target: activation.target, now: now + 600),
                     "a settled obligation keeps its deadline")
        XCTAssertFalse(RetroWindow.follows(extended, on: target()))
    }

    func testTheActivationsEventAndPageSayWhatWasGranted() throws {
        let activation = try activate(target())
        let event = activation.activated(keyId: "kid-1")
        XCTAssertEqual(event.type, .sessionActivated)
        XCTAssertEqual(event.details["retro_due_at"], Timestamp.format(now + 2 * 3600))
        XCTAssertEqual(event.details["ttl"], "30m")
        XCTAssertEqual(event.details["key_id"], "kid-1")
        XCTAssertNil(event.details["drill"])
        XCTAssertEqual(activation.session.pagePayload["retro_due_at"], Timestamp.format(now + 2 * 3600))
        XCTAssertNil(activation.session.pagePayload["drill"])
    }

    func testADrillIsMarkedEverywhereAndEvidencesTheTestedPlan() throws {
        let drill = try activate(target(drillDeadline: 120), ttl: 300, drill: true)
        XCTAssertEqual(drill.session.pagePayload["drill"], "true")
        XCTAssertEqual(drill.denialPage("totp_wrong")["drill"], "true")
        XCTAssertTrue(Set(DrillPlan.controls).isSubset(of: drill.activated(keyId: "k").controls))
    }

    func testARequesterNotOnTheListIsDeniedAndTheDenialNamesWhy() throws {
        let activation = try activate(target(), roles: [.compliance])
        XCTAssertFalse(activation.isAllowed)
        let denial = activation.denial("not_allowed")
        XCTAssertEqual(denial.type, .sessionDenied)
        XCTAssertEqual(denial.outcome, .failure)
        XCTAssertEqual(denial.details["failure"], "not_allowed")
        XCTAssertEqual(denial.actorRoles, ["compliance"])
    }
}
