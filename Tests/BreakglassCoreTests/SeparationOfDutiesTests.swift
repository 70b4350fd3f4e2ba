import BreakglassCore
import Foundation
import XCTest

/// Nobody signs off their own emergency change: who may link, review and approve what.
final class SeparationOfDutiesTests: XCTestCase {
    let now = Date(timeIntervalSince1970: 1_800_000_000)
    let id = "bg_ABCDEFGHIJKLMNOPQRST"

    func linked() throws -> RetroObligation {
        let owed = RetroObligation(sessionId: id, requester: "alice", target: "payments-db", status: .owed, windowStart: now - 3600,
                                   dueAt: now + 86400, ladder: .standard)
        return try owed.link(url: "https://github.com/acme/payments/pull/7", by: "alice", source: .cli, now: now)
    }

    func testTheEngineerLinksTheirOwnAndOnlyAnAdminLinksSomeoneElses() throws {
        XCTAssertEqual(try SeparationOfDuties.linkRight(actor: "alice", roles: [.engineer], requester: "alice", sessionId: id), .own)
        XCTAssertEqual(try SeparationOfDuties.linkRight(actor: "root", roles: [.admin], requester: "alice", sessionId: id), .adminChange)
        XCTAssertThrowsError(try SeparationOfDuties.linkRight(actor: "bob", roles: [.compliance], requester: "alice", sessionId: id)) {
            XCTAssertEqual(($0 as? BreakglassError)?.code, "forbidden")
        }
        // Another engineer does not even learn that the session exists.
        XCTAssertThrowsError(try SeparationOfDuties.linkRight(actor: "eve", roles: [.engineer], requester: "alice", sessionId: id)) {
            XCTAssertEqual(($0 as? BreakglassError)?.code, "session_unknown")
        }
    }

    func testTheRequesterAndTheirAccountsCreatorAreRefusedAndTheRefusalIsAudited() throws {
        let obligation = try linked()
        let mine = try XCTUnwrap(SeparationOfDuties.refusal(reviewer: "alice", roles: [.compliance], of: obligation, requesterCreatedBy: "root",
                                                            decision: "approve", origin: .server, now: now))
        XCTAssertEqual(mine.0.code, "self_review")
        XCTAssertEqual(mine.1.type, .retroReviewRefused)
        XCTAssertEqual(mine.1.details["failure"], "self_review")
        XCTAssertEqual(mine.1.details["decision"], "approve")
        let creator = try XCTUnwrap(SeparationOfDuties.refusal(reviewer: "root", roles: [.compliance], of: obligation, requesterCreatedBy: "root",
                                                               decision: "accept_candidate", origin: .server, now: now, details: ["pr_url": "u"]))
        XCTAssertEqual(creator.0.code, "creator_review")
        XCTAssertEqual(creator.1.details["pr_url"], "u")
        XCTAssertNil(SeparationOfDuties.refusal(reviewer: "bob", roles: [.compliance], of: obligation, requesterCreatedBy: "root",
                                                decision: "approve", origin: .server, now: now))
    }

    func testOnlyAnotherPersonsApprovalIsIndependent() {
        XCTAssertEqual(SeparationOfDuties.independentApprovers(["ALICE-gh", "pr-author", "dave"], requesterLogin: "alice-gh", prAuthor: "PR-Author"),
                       ["dave"])
        XCTAssertEqual(SeparationOfDuties.mergeVerdict(approvers: [], independent: []), "not satisfied: no approving review")
    }

    func testAnApprovalIsRecordedPagedAndAudited() throws {
        guard case .decided(let review) = try RetroReview.decide(.approve, on: try linked(), by: "bob", roles: [.compliance], note: "diff matches",
                                                                 requesterCreatedBy: "root", origin: .server, now: now) else {
            return XCTFail("expected a decision")
        }
        XCTAssertEqual(review.obligation.status, .approved)
        XCTAssertEqual(review.decision, .approved)
        XCTAssertEqual(review.decision.pageType, "retro.approved")
        XCTAssertEqual(review.page["reviewer"], "bob")
        XCTAssertEqual(review.event.type, .retroApproved)
        XCTAssertEqual(review.event.details["previous_status"], "linked")
        XCTAssertTrue(review.event.controls.contains("NIST-800-53:AC-5"))
    }

    func testAReviewOfOnesOwnSessionIsRefusedBeforeAnythingElse() throws {
        // Even where the transition itself would be refused (nothing linked), separation of duties speaks first.
        let owed = RetroObligation(sessionId: id, requester: "alice", target: "payments-db", status: .owed, windowStart: now, dueAt: now + 3600,
                                   ladder: .standard)
        guard case .refused(let error, let event) = try RetroReview.decide(.reject, on: owed, by: "alice", roles: [.compliance], note: "n",
                                                                           requesterCreatedBy: nil, origin: .server, now: now) else {
            return XCTFail("expected a refusal")
        }
        XCTAssertEqual(error.code, "self_review")
        XCTAssertEqual(event.details["decision"], "reject")
        XCTAssertThrowsError(try RetroReview.decide(.approve, on: owed, by: "bob", roles: [.compliance], note: "n", requesterCreatedBy: nil,
                                                    origin: .server, now: now)) {
            XCTAssertEqual(($0 as? BreakglassError)?.code, "retro_not_linked")
        }
    }
}
