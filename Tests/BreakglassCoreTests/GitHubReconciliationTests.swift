import BreakglassCore
import Foundation
import XCTest

/// How a verified GitHub event changes retro obligations: who may link by a PR, what a review and a merge record.
final class GitHubReconciliationTests: XCTestCase {
    let now = Date(timeIntervalSince1970: 1_800_000_000)
    let id = "bg_ABCDEFGHIJKLMNOPQRST"
    let url = "https://github.com/acme/payments/pull/7"
    let policy = GitHubLinkPolicy(repositories: ["acme/payments"])

    func obligation(_ status: RetroStatus = .owed, prURL: String? = nil) -> RetroObligation {
        var o = RetroObligation(sessionId: id, requester: "alice", target: "payments-db", status: status, windowStart: now - 3600,
                                dueAt: now + 86400, ladder: .standard)
        o.prURL = prURL
        return o
    }

    func event(_ kind: GitHubEventKind = .pullRequest, action: String = "opened", author: String = "alice-gh", sender: String? = nil,
               state: String = "open", merged: Bool = false, headRepository: String = "acme/payments", review: String? = nil) throws -> GitHubReconciliation {
        var pr: [String: Any] = [
            "html_url": url, "number": 7, "title": "Retro for \(id)", "body": "what changed", "state": state,
            "head": ["ref": "retro", "repo": ["full_name": headRepository]], "base": ["ref": "main", "repo": ["full_name": "acme/payments"]],
            "user": ["login": author], "merged": merged,
        ]
        if merged {
            pr["merged_at"] = "2027-01-15T08:00:00Z"
            pr["merge_commit_sha"] = "abc123"
            pr["merged_by"] = ["login": "carol"]
        }
        var payload: [String: Any] = ["action": action, "pull_request": pr, "repository": ["full_name": "acme/payments"],
                                      "sender": ["login": sender ?? author]]
        if let review { payload["review"] = ["id": 99, "state": review, "user": ["login": "dave"], "submitted_at": "2027-01-15T07:00:00Z"] }
        let decoded = try GitHubWebhook.decode(Array(try JSONSerialization.data(withJSONObject: payload)))
        return try XCTUnwrap(GitHubReconciliation(event: kind, payload: decoded, deliveryId: "d-1", origin: .server, now: now))
    }

    func testThePullRequestOfTheEngineerInATrustedRepositoryLinksItself() throws {
        let github = try event()
        XCTAssertEqual(github.sessionIdsToLink, [id])
        XCTAssertTrue(github.needsRequesterLogin(obligation()))
        guard case .link(let linked, let details) = try github.step(for: obligation(), policy: policy, requesterLogin: "alice-gh") else {
            return XCTFail("expected a link")
        }
        XCTAssertEqual(linked.status, .linked)
        XCTAssertEqual(linked.prURL, url)
        XCTAssertEqual(linked.prSource, .github)
        XCTAssertEqual(linked.linkedBy, "github:alice-gh")
        XCTAssertEqual(linked.prAuthor, "alice-gh")
        XCTAssertEqual(details["pr_number"], "7")
        XCTAssertEqual(details["github_delivery"], "d-1")
    }

    func testAStrangersPullRequestIsOnlyACandidateAndSaysWhy() throws {
        let github = try event(author: "mallory")
        guard case .candidate(let candidate, let audit) = try github.step(for: obligation(), policy: policy, requesterLogin: "alice-gh") else {
            return XCTFail("expected a candidate")
        }
        XCTAssertEqual(candidate.prAuthor, "mallory")
        XCTAssertTrue(candidate.reason.contains("not by the engineer who broke glass"), candidate.reason)
        XCTAssertEqual(audit.type, .retroCandidateRecorded)
        XCTAssertEqual(audit.outcome, .failure)
        XCTAssertEqual(audit.details["reason"], candidate.reason)
    }

    func testAnObligationLinkedAlreadyOnlyLearnsItsAuthorAndASettledOneNothing() throws {
        let github = try event()
        XCTAssertFalse(github.needsRequesterLogin(obligation(.linked, prURL: url)))
        guard case .recordAuthor(let updated) = try github.step(for: obligation(.linked, prURL: url), policy: policy, requesterLogin: nil) else {
            return XCTFail("expected the author to be recorded")
        }
        XCTAssertEqual(updated.prAuthor, "alice-gh")
        XCTAssertEqual(updated.status, .linked)
        XCTAssertNil(try github.step(for: obligation(.linked, prURL: "https://github.com/acme/payments/pull/8"), policy: policy, requesterLogin: nil))
        XCTAssertNil(try github.step(for: obligation(.approved, prURL: url), policy: policy, requesterLogin: nil))
    }

    func testAPullRequestClosedWithoutAMergeLinksNothing() throws {
        XCTAssertEqual(try event(action: "closed", state: "closed").sessionIdsToLink, [])
        XCTAssertEqual(try event(action: "closed", state: "closed", merged: true).sessionIdsToLink, [id])
        XCTAssertEqual(try event(.pullRequestReview, action: "submitted", review: "approved").sessionIdsToLink, [], "a review links nothing")
    }

    func testAMergeRecordsItsCommitAndWhetherSomeoneElseApproved() throws {
        let github = try event(action: "closed", state: "closed", merged: true)
        XCTAssertTrue(github.isMerge)
        let (merged, audit) = github.merged(obligation(.linked, prURL: url), approvers: ["Alice-GH", "dave"], requesterLogin: "alice-gh")
        XCTAssertEqual(merged.mergeCommit, "abc123")
        XCTAssertEqual(merged.mergedBy, "carol")
        XCTAssertEqual(merged.prApprovers, ["Alice-GH", "dave"])
        XCTAssertEqual(merged.independentApproval, true)
        XCTAssertEqual(audit.type, .retroMerged)
        XCTAssertEqual(audit.actor, "github:carol")
        XCTAssertEqual(audit.details["independent_approvers"], "dave")
        XCTAssertEqual(audit.details["separation_of_duties"], "satisfied")

        let (alone, selfApproved) = github.merged(obligation(.linked, prURL: url), approvers: ["alice-gh"], requesterLogin: "alice-gh")
        XCTAssertEqual(alone.independentApproval, false)
        XCTAssertEqual(selfApproved.details["separation_of_duties"], "not satisfied: approved only by the engineer who broke glass")
    }

    func testADismissalIsKeptAsSuchAndAnUncountedReviewSaysSo() throws {
        let dismissed = try XCTUnwrap(try event(.pullRequestReview, action: "dismissed", review: "APPROVED").review)
        XCTAssertEqual(dismissed.state, "dismissed")
        let github = try event(.pullRequestReview, action: "submitted", review: "APPROVED")
        let review = try XCTUnwrap(github.review)
        XCTAssertEqual(review.state, "approved")
        XCTAssertEqual(review.id, 99)
        XCTAssertEqual(review.submittedAt, Timestamp.parse("2027-01-15T07:00:00Z"))
        let (updated, audit) = github.reviewed(obligation(.linked, prURL: url), review: review, counted: false, approvers: [],
                                               requesterLogin: "alice-gh")
        XCTAssertEqual(updated.independentApproval, false)
        XCTAssertEqual(audit.type, .retroPRReviewed)
        XCTAssertEqual(audit.actor, "github:dave")
        XCTAssertEqual(audit.details["review_id"], "99")
        XCTAssertNotNil(audit.details["ignored"])
    }

    func testTheAnswerNamesEachSessionOnce() {
        XCTAssertEqual(GitHubReconciliation.outcome(touched: []).0, .ignored)
        let (status, sessions) = GitHubReconciliation.outcome(touched: ["bg_B", "bg_A", "bg_B"])
        XCTAssertEqual(status, .processed)
        XCTAssertEqual(sessions, ["bg_B", "bg_A"])
    }
}
