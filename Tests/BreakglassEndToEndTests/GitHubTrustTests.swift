import BreakglassCore
import BreakglassTestSupport
import Foundation
import XCTest

/// Anyone can open a pull request and write a session id in its title. That must not stop an escalation.
final class GitHubTrustTests: RetroTestCase {
    func candidates(_ id: String) async throws -> [RetroCandidate] {
        try await server.broker.database.read { try await $0.github.candidates(sessionId: id) }
    }

    func status(_ id: String) async throws -> RetroStatus? {
        try await server.broker.database.read { try await $0.retro.obligation(sessionId: id)?.status }
    }

    func testAPullRequestByAnotherAuthorFromAForkOrAnotherRepositoryIsOnlyACandidate() async throws {
        let (id, _) = try await activate()
        let strangers: [[String: Any]] = [
            pullRequest(action: "opened", number: 1, title: "Fix \(id)", branch: "x", author: "mallory"),
            pullRequest(action: "opened", number: 2, title: "Fix \(id)", branch: "x", author: "alice", headRepository: "mallory/payments"),
            pullRequest(action: "opened", number: 3, title: "Fix \(id)", branch: "x", author: "alice", repository: "evil/payments"),
        ]
        for (n, payload) in strangers.enumerated() {
            let reply = try await gitHub("pull_request", delivery: "s-\(n)", payload: payload)
            XCTAssertEqual(reply.status, 200, reply.text)
        }
        let stillOwed = try await status(id)
        XCTAssertEqual(stillOwed, .owed, "no stranger's PR stops the ladder")
        let recorded = try await candidates(id)
        XCTAssertEqual(recorded.count, 3)
        XCTAssertTrue(recorded[0].reason.contains("not by the engineer"), recorded[0].reason)
        XCTAssertTrue(recorded[1].reason.contains("fork"), recorded[1].reason)
        XCTAssertTrue(recorded[2].reason.contains("BREAKGLASS_GITHUB_REPOSITORIES"), recorded[2].reason)
        let audited = try await database.count("SELECT count(*)::bigint FROM audit_events WHERE event_type = 'retro.candidate_recorded'")
        XCTAssertEqual(audited, 3)

        // Compliance sees them and may accept one.
        let show = try await cli(["compliance", "show", id], as: "bob")
        XCTAssertTrue(show.stdout.contains("candidate:  https://github.com/acme/payments/pull/1 by mallory"), show.stdout)
        let accept = try await cli(["compliance", "accept-candidate", id, "https://github.com/acme/payments/pull/1"], as: "bob")
        XCTAssertEqual(accept.status, 0, accept.stderr)
        let linked = try await status(id)
        XCTAssertEqual(linked, .linked)

        // The engineer's own PR in an allowed repository still links itself.
        let (second, _) = try await activate()
        let own = try await gitHub("pull_request", delivery: "own", payload: pullRequest(action: "opened", number: 9, title: "Retro \(second)", branch: "x"))
        XCTAssertEqual(own.json["status"] as? String, "processed", own.text)
        let ownStatus = try await status(second)
        XCTAssertEqual(ownStatus, .linked)
    }

    func testADismissedReviewIsNotRevivedByALateCopyOfTheApproval() async throws {
        let (id, _) = try await activate()
        let opened = try await gitHub("pull_request", delivery: "o", payload: pullRequest(action: "opened", number: 7, title: "Retro \(id)", branch: "x"))
        XCTAssertEqual(opened.status, 200, opened.text)
        func approvers() async throws -> [String] {
            try await server.broker.database.read { try await $0.github.approvers(prURL: "https://github.com/acme/payments/pull/7") }
        }
        let approval = review(number: 7, reviewer: "dave", id: 777)
        _ = try await gitHub("pull_request_review", delivery: "r-1", payload: approval)
        let approved = try await approvers()
        XCTAssertEqual(approved, ["dave"])
        _ = try await gitHub("pull_request_review", delivery: "r-2", payload: review(number: 7, reviewer: "dave", state: "approved", id: 777, action: "dismissed"))
        let dismissed = try await approvers()
        XCTAssertEqual(dismissed, [])
        // The same approval delivered again later (a new delivery id, so not a duplicate).
        clock.advance(by: 60)
        _ = try await gitHub("pull_request_review", delivery: "r-3", payload: approval)
        let revived = try await approvers()
        XCTAssertEqual(revived, [], "a dismissal is final")
    }

    func testAnAdminLinkingSomeoneElsesRetroPRIsAnAdminChange() async throws {
        let carol = try await enrolledUser("carol", roles: [.engineer])
        let (id, _) = try await activate(token: carol.token, secret: carol.secret)
        let url = "https://github.com/acme/payments/pull/55"
        let tokenOnly = try await http.send(.POST, "/v1/retro/\(id)/link", token: alice.token, json: ["url": url])
        XCTAssertEqual(tokenOnly.errorCode, "totp_required", tokenOnly.text)
        let unchanged = try await status(id)
        XCTAssertEqual(unchanged, .owed)
        let linked = try await adminSend(.POST, "/v1/retro/\(id)/link", as: alice, json: ["url": url])
        XCTAssertEqual(linked.status, 200, linked.text)
        let paged = try await database.count("SELECT count(*)::bigint FROM outbox WHERE event_type = 'admin.retro_linked'")
        XCTAssertEqual(paged, 1)
        // The engineer links their own with the token alone, as before.
        let (own, _) = try await activate(token: carol.token, secret: carol.secret)
        let mine = try await http.send(.POST, "/v1/retro/\(own)/link", token: carol.token, json: ["url": "https://github.com/acme/payments/pull/56"])
        XCTAssertEqual(mine.status, 200, mine.text)
    }

    func testWithoutARecordedGitHubLoginNothingLinksItself() async throws {
        let carol = try await enrolledUser("carol", roles: [.engineer])
        let (id, _) = try await activate(token: carol.token, secret: carol.secret)
        // Whoever owns the GitHub account "carol" is not necessarily breakglass's carol.
        let reply = try await gitHub("pull_request", delivery: "c-1", payload: pullRequest(action: "opened", number: 31, title: "Retro \(id)",
                                                                                          branch: "x", author: "carol"))
        XCTAssertEqual(reply.status, 200, reply.text)
        let owed = try await status(id)
        XCTAssertEqual(owed, .owed)
        let reason = try await candidates(id).first?.reason ?? ""
        XCTAssertTrue(reason.contains("no GitHub login is recorded for carol"), reason)
    }

    func testEditsLinkOnlyWhenTheEngineerMadeThemOnAnOpenPR() async throws {
        let (id, _) = try await activate()
        // Alice's old PR, closed without merging, edited to name the session: nothing links, nothing is a candidate.
        var closed = pullRequest(action: "edited", number: 41, title: "Retro \(id)", branch: "x")
        var pr = closed["pull_request"] as! [String: Any]
        pr["state"] = "closed"
        closed["pull_request"] = pr
        _ = try await gitHub("pull_request", delivery: "e-1", payload: closed)
        let afterClosed = try await status(id)
        XCTAssertEqual(afterClosed, .owed)
        // Alice's open PR, edited by someone else to name the session: a candidate only.
        var edited = pullRequest(action: "edited", number: 42, title: "Retro \(id)", branch: "x")
        edited["sender"] = ["login": "mallory", "id": 66]
        _ = try await gitHub("pull_request", delivery: "e-2", payload: edited)
        let afterEdit = try await status(id)
        XCTAssertEqual(afterEdit, .owed)
        let reasons = try await candidates(id).map(\.reason)
        XCTAssertEqual(reasons.count, 1, "\(reasons)")
        XCTAssertTrue(reasons.first?.contains("edited by mallory") ?? false, "\(reasons)")
    }

    func testADismissalRacingALateCopyOfTheApprovalStaysDismissed() async throws {
        let url = "https://github.com/acme/payments/pull/77"
        let database = server.broker.database
        let at = clock.now()
        _ = try await database.transaction { try await $0.github.saveReview(prURL: url, reviewer: "dave", reviewId: 5, state: "approved", at: at, now: at) }
        // The dismissal holds the row (uncommitted) while another instance processes a late copy of the approval.
        let gate = AsyncStream<Void>.makeStream()
        let dismissal = Task {
            try await database.transaction { tx in
                _ = try await tx.github.saveReview(prURL: url, reviewer: "dave", reviewId: 5, state: "dismissed", at: at, now: at)
                for await _ in gate.stream { break }
            }
        }
        try await waitUntil {
            try await self.database.count("""
                SELECT count(*)::bigint FROM pg_stat_activity WHERE datname = current_database() AND state = 'idle in transaction'
                """) >= 1
        }
        let copy = Task {
            try await database.transaction { try await $0.github.saveReview(prURL: url, reviewer: "dave", reviewId: 5, state: "approved", at: at, now: at) }
        }
        // The copy has passed its "dismissed?" check (the dismissal is not committed) and waits on the row lock.
        try await waitUntil {
            try await self.database.count("""
                SELECT count(*)::bigint FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'
                """) >= 1
        }
        gate.continuation.yield()
        gate.continuation.finish()
        try await dismissal.value
        _ = try await copy.value
        let approvers = try await database.read { try await $0.github.approvers(prURL: url) }
        XCTAssertEqual(approvers, [], "the dismissal wins whatever the interleaving")
    }
}
