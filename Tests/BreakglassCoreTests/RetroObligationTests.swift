import BreakglassCore
import Foundation
import XCTest

final class RetroObligationTests: XCTestCase {
    let start = Date(timeIntervalSince1970: 1_800_000_000)
    let day: TimeInterval = 24 * 3600

    func obligation(ladder: EscalationLadder = .standard) -> RetroObligation {
        RetroObligation(sessionId: "bg_ABCDEFGHIJKLMNOPQRST", requester: "alice", target: "payments-db", status: .owed,
                        windowStart: start, dueAt: start + day, ladder: ladder)
    }

    func testStandardLadderFiresEachRungOnceInOrder() {
        var o = obligation()
        var fired: [String] = []
        // Walk a week in 10-minute ticks; every rung must fire exactly once and at its time.
        for tick in stride(from: 0.0, through: 7 * day, by: 600) {
            let (next, firings) = o.firing(now: start + tick)
            for f in firings {
                XCTAssertFalse(f.skipped)
                XCTAssertLessThan(f.lateBy, 600)
                fired.append(f.rung.name)
            }
            o = next
        }
        XCTAssertEqual(fired, ["reminder", "reminder", "level1", "level2", "level3"])
        XCTAssertNil(o.nextDueAt)
    }

    /// What migration 0006 writes for sessions older than the ladder: a ladder with no rungs, never due.
    func testAnEmptyLadderDecodesAndNeverPages() throws {
        let ladder = try JSONDecoder().decode(EscalationLadder.self, from: Data(#"{"rungs": []}"#.utf8))
        XCTAssertEqual(ladder, EscalationLadder(rungs: []))
        let o = obligation(ladder: ladder)
        XCTAssertNil(o.nextDueAt)
        XCTAssertTrue(o.firing(now: start + 30 * day).1.isEmpty)
        XCTAssertEqual(o.state(at: start + 2 * day), .overdue, "still owed, and overdue, without pages")
    }

    func testCatchUpFiresMissedRungsInOrderSayingHowLate() {
        // Down from before the 90% reminder until after level 2.
        let (afterFirst, first) = obligation().firing(now: start + day * 0.6)
        XCTAssertEqual(first.map(\.level), [0])
        let (caughtUp, firings) = afterFirst.firing(now: start + day + 5 * 3600)
        XCTAssertEqual(firings.map(\.level), [1, 2, 3])
        XCTAssertEqual(firings.map(\.skipped), [true, false, false], "a reminder after the deadline is moot; escalations are not")
        XCTAssertEqual(firings[1].lateBy, 5 * 3600)
        XCTAssertEqual(firings[2].lateBy, 3600)
        XCTAssertTrue(firings[1].isLate && firings[2].isLate)
        XCTAssertEqual(caughtUp.nextLevel, 4)
        XCTAssertEqual(caughtUp.nextDueAt, start + 2 * day)
    }

    func testLinkStopsTheLadderAndRejectionResumesItWhereTheDeadlineSays() throws {
        var (o, _) = obligation().firing(now: start + day * 0.5)
        o = try o.link(url: "https://github.com/acme/payments/pull/7", by: "alice", source: .cli, now: start + day * 0.6)
        XCTAssertNil(o.nextDueAt)
        XCTAssertTrue(o.firing(now: start + 5 * day).1.isEmpty, "a linked PR stops every rung")
        o = try o.reject(by: "bob", note: "does not say what was killed", now: start + day + 3600, requesterCreatedBy: nil)
        XCTAssertEqual(o.status, .owed)
        XCTAssertEqual(o.nextLevel, 1, "rungs already paged are not paged again")
        let (_, resumed) = o.firing(now: start + day + 3600)
        XCTAssertEqual(resumed.map(\.rung.name), ["reminder", "level1"])
        XCTAssertEqual(resumed.map(\.skipped), [true, false])
    }

    func testSeparationOfDutiesAndStatusRules() throws {
        let o = try obligation().link(url: "https://github.com/acme/payments/pull/7", by: "alice", source: .cli, now: start)
        XCTAssertThrowsError(try o.approve(by: "alice", note: "looks fine to me", now: start, requesterCreatedBy: nil)) { error in
            XCTAssertEqual((error as? BreakglassError)?.code, "self_review")
        }
        XCTAssertThrowsError(try obligation().approve(by: "bob", note: "nothing linked yet", now: start, requesterCreatedBy: nil)) { error in
            XCTAssertEqual((error as? BreakglassError)?.code, "retro_not_linked")
        }
        let approved = try o.approve(by: "bob", note: "diff matches the incident", now: start, requesterCreatedBy: nil)
        XCTAssertEqual(approved.status, .approved)
        XCTAssertThrowsError(try approved.waive(by: "carol", reason: "no longer needed", now: start, requesterCreatedBy: nil))
        XCTAssertThrowsError(try approved.link(url: "https://github.com/acme/payments/pull/8", by: "alice", source: .cli, now: start))
    }

    func testDeadlineFromSessionEndMovesWithTheSession() {
        let target = Target(name: "db", kind: .token, audience: "db", maxTTL: 3600, maxTotal: 7200, retroDeadline: day,
                            retroFrom: .end, requesters: ["role:engineer"])
        var session = EmergencySession(id: "bg_ABCDEFGHIJKLMNOPQRST", requester: "alice", target: "db", reason: "r", incident: "i",
                                       state: .active, activatedAt: start, expiresAt: start + 1800, hardLimit: start + 7200,
                                       retroDueAt: start + day, extensions: 0)
        let o = RetroObligation.opened(for: session, target: target, ladder: .standard)
        XCTAssertEqual(o.dueAt, start + 1800 + day)
        session.closedAt = start + 600
        session.state = .ended
        XCTAssertEqual(o.rescheduled(for: session, target: target)?.dueAt, start + 600 + day)
    }

    func testLadderSpecParsesAndRefusesDisorder() throws {
        let ladder = try EscalationLadder.parse("reminder@50%,reminder@90%,level1@+0,level2@+4h/warning,level3@+1d/critical")
        XCTAssertEqual(ladder, .standard)
        XCTAssertEqual(try EscalationLadder.parse(EscalationLadder.standard.spec), .standard)
        for bad in ["level1@+4h,level2@+1h", "level1@+0,reminder@50%", "x@150%", "Level1@+1h", "level1@4h", "l@+1h/loud"] {
            XCTAssertThrowsError(try EscalationLadder.parse(bad), bad)
        }
    }

    func testPullRequestURLs() throws {
        XCTAssertEqual(try PullRequestLink.validate("https://github.com/acme/payments/pull/123/"), "https://github.com/acme/payments/pull/123")
        XCTAssertEqual(try PullRequestLink.validate("https://gitlab.example.com/acme/platform/payments/-/merge_requests/45"),
                       "https://gitlab.example.com/acme/platform/payments/-/merge_requests/45")
        for bad in ["http://github.com/acme/payments/pull/1", "https://github.com/acme/payments/issues/1", "https://github.com/acme/pull/1",
                    "https://github.com/acme/payments/pull/0", "https://github.com/acme/payments/pull/1?x=1", "javascript:alert(1)",
                    "https://user:pw@github.com/acme/payments/pull/1", "https://github.com/../payments/pull/1", "not a url"] {
            XCTAssertThrowsError(try PullRequestLink.validate(bad), bad)
        }
    }

    func testSessionIdsAreFoundInTitlesBodiesAndBranches() {
        let id = "bg_ABCDEFGHIJKLMNOPQRS2"
        XCTAssertEqual(PullRequestLink.sessionIds(in: ["Retro for \(id): kill blockers"]), [id])
        XCTAssertEqual(PullRequestLink.sessionIds(in: ["retro/\(id.lowercased())"]), [id])
        XCTAssertEqual(PullRequestLink.sessionIds(in: ["x\(id)", "\(id)X", "bg_ABC"]), [], "ids are whole words of exactly 20 base32 characters")
    }

    /// The example in GitHub's "Validating webhook deliveries".
    func testGitHubSignatureMatchesTheDocumentedExample() {
        let body = Array("Hello, World!".utf8)
        let expected = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
        XCTAssertEqual(GitHubWebhook.signature(secret: "It's a Secret to Everybody", body: body), expected)
        XCTAssertTrue(GitHubWebhook.isValid(signatureHeader: expected, secret: "It's a Secret to Everybody", body: body))
        XCTAssertFalse(GitHubWebhook.isValid(signatureHeader: expected, secret: "It's a Secret to Everybody", body: Array("Hello, World?".utf8)))
        XCTAssertFalse(GitHubWebhook.isValid(signatureHeader: nil, secret: "It's a Secret to Everybody", body: body))
        XCTAssertFalse(GitHubWebhook.isValid(signatureHeader: "sha1=abc", secret: "It's a Secret to Everybody", body: body))
    }

    /// RFC 8785 examples: key order by UTF-16 code units, minimal escapes, literals as written.
    func testCanonicalJSON() throws {
        let text = #"{"b":[1,true,null,"x\u000f\n"],"a":{"é":1,"z":"\"\\/"},"€":2,"\u0080":3}"#
        let value = try JSONDecoder().decode(JSONValue.self, from: Data(text.utf8))
        XCTAssertEqual(value.canonical, #"{"a":{"z":"\"\\/","é":1},"b":[1,true,null,"x\u000f\n"],"\#u{80}":3,"€":2}"#)
    }
}

final class RungAnnouncementTests: XCTestCase {
    let start = Date(timeIntervalSince1970: 1_800_000_000)
    let day: TimeInterval = 24 * 3600

    func testAnOverdueRungPagesItsEventAndALateOneSaysHowLate() throws {
        var o = RetroObligation(sessionId: "bg_ABCDEFGHIJKLMNOPQRST", requester: "alice", target: "payments-db", status: .owed,
                                windowStart: start, dueAt: start + day, ladder: .standard)
        o.lastRejection = "the PR does not say which backends were killed"
        let (_, firings) = o.firing(now: start + day + 2 * 3600)
        XCTAssertEqual(firings.map(\.rung.name), ["reminder", "reminder", "level1"])
        let skipped = RungAnnouncement(firings[0], of: o, now: start + day + 2 * 3600)
        XCTAssertNil(skipped.page, "a reminder past the deadline pages nobody")
        XCTAssertEqual(skipped.event.type, .retroRungSkipped)
        let level1 = RungAnnouncement(firings[2], of: o, now: start + day + 2 * 3600)
        let page = try XCTUnwrap(level1.page)
        XCTAssertEqual(page.type, "retro.level1")
        XCTAssertEqual(page.payload["overdue_since"], Timestamp.format(start + day))
        XCTAssertEqual(page.payload["late_by"], "2h")
        XCTAssertEqual(page.payload["severity"], "warning")
        XCTAssertEqual(page.payload["note"], "last PR rejected: the PR does not say which backends were killed")
        XCTAssertEqual(level1.event.type, .retroEscalated)
        XCTAssertEqual(level1.event.details["level"], "3/5")
        XCTAssertEqual(level1.event.details["event_type"], "retro.level1")
    }
}
