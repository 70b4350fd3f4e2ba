import BreakglassCore
import BreakglassServer
import BreakglassStore
import BreakglassTestSupport
import Foundation
import XCTest

/// GitHub reconciliation, the compliance review with separation of duties, the evidence pack, and the
/// read-only compliance pages (over HTTP and in a real headless browser).
final class ComplianceReviewTests: RetroTestCase {
    func obligation(_ id: String) async throws -> RetroObligation {
        let found = try await server.broker.database.read { try await $0.retro.obligation(sessionId: id) }
        return try XCTUnwrap(found)
    }

    func testSignedGitHubDeliveriesLinkAndMergeAndBadOnesAreRefused() async throws {
        let (id, _) = try await activate()
        let opened = pullRequest(action: "opened", number: 4521, title: "Retro \(id): kill lock blockers", branch: "retro/\(id.lowercased())")

        // Unsigned and wrongly signed deliveries are refused and audited; nothing is linked.
        let unsigned = try await gitHub("pull_request", delivery: "d-unsigned", payload: opened, secret: nil)
        XCTAssertEqual(unsigned.status, 401)
        XCTAssertEqual(unsigned.errorCode, "bad_signature")
        let forged = try await gitHub("pull_request", delivery: "d-forged", payload: opened, secret: "not the configured secret")
        XCTAssertEqual(forged.status, 401)
        // Audited as one aggregated event once the interval has passed.
        clock.advance(by: 61)
        try await waitUntil {
            try await self.database.count("""
                SELECT count(*)::bigint FROM audit_events WHERE event_type = 'github.deliveries_rejected'
                  AND (body::jsonb -> 'event' -> 'details' ->> 'count') = '2' AND (body::jsonb -> 'event' -> 'details' ->> 'missing_signature') = '1'
                """) == 1
        }
        let checked1 = try await obligation(id).status
        XCTAssertEqual(checked1, .owed)

        // Signed correctly: the PR names the session, so it links itself; a redelivery changes nothing.
        let linked = try await gitHub("pull_request", delivery: "d-1", payload: opened)
        XCTAssertEqual(linked.status, 200, linked.text)
        XCTAssertEqual(linked.json["sessions"] as? [String], [id])
        let again = try await gitHub("pull_request", delivery: "d-1", payload: opened)
        XCTAssertEqual(again.json["status"] as? String, "duplicate")
        var o = try await obligation(id)
        XCTAssertEqual(o.status, .linked)
        XCTAssertEqual(o.prURL, "https://github.com/acme/payments/pull/4521")
        XCTAssertEqual(o.prSource, .github)
        let checked2 = try await auditTypes(id).filter { $0 == "retro.linked" }.count
        XCTAssertEqual(checked2, 1)

        // Alice approves her own PR on GitHub; carol merges it. That is not an independent review.
        let checked3 = try await gitHub("pull_request_review", delivery: "d-2", payload: review(number: 4521, reviewer: "alice")).status
        XCTAssertEqual(checked3, 200)
        let merged = pullRequest(action: "closed", number: 4521, title: "Retro \(id)", branch: "retro", merged: true, mergedBy: "carol")
        let checked4 = try await gitHub("pull_request", delivery: "d-3", payload: merged).status
        XCTAssertEqual(checked4, 200)
        o = try await obligation(id)
        XCTAssertEqual(o.mergeCommit, "9f2c1e7d4b5a6c8e0f1a2b3c4d5e6f708192a3b4")
        XCTAssertEqual(o.mergedBy, "carol")
        XCTAssertEqual(o.prApprovers, ["alice"])
        XCTAssertEqual(o.independentApproval, false)
        let mergeEvent = try await server.broker.database.read { try await $0.audit.rows(sessionId: id) }
            .compactMap { AuditChain.decode(body: $0.body) }.first { $0.type == .retroMerged }
        XCTAssertEqual(mergeEvent?.details["separation_of_duties"], "not satisfied: approved only by the engineer who broke glass")

        // Alice's GitHub login differs from her breakglass name: once recorded, it is still recognised as hers.
        let mapped = try await cli(["admin", "set-github", "alice", "alice-gh", "--totp", try code(alice.secret)], as: "alice")
        nextStep()
        XCTAssertEqual(mapped.status, 0, mapped.stderr)
        let (second, _) = try await activate()
        let secondPR = pullRequest(action: "opened", number: 4600, title: "retro", branch: "fix/\(second)", author: "alice-gh")
        let checked5 = try await gitHub("pull_request", delivery: "d-4", payload: secondPR).status
        XCTAssertEqual(checked5, 200)
        let checked6 = try await gitHub("pull_request_review", delivery: "d-5", payload: review(number: 4600, reviewer: "alice-gh")).status
        XCTAssertEqual(checked6, 200)
        let checked7 = try await gitHub("pull_request_review", delivery: "d-6", payload: review(number: 4600, reviewer: "dave")).status
        XCTAssertEqual(checked7, 200)
        o = try await obligation(second)
        XCTAssertEqual(o.prApprovers, ["alice-gh", "dave"])
        XCTAssertEqual(o.independentApproval, true)

        // A PR closed without merging links nothing.
        let (third, _) = try await activate()
        let abandoned = pullRequest(action: "closed", number: 4700, title: "retro \(third)", branch: "retro")
        let checked101 = try await gitHub("pull_request", delivery: "d-9", payload: abandoned).json["status"] as? String
        XCTAssertEqual(checked101, "ignored")
        let checked102 = try await obligation(third).status
        XCTAssertEqual(checked102, .owed)

        // A delivery for a PR that names no session, and a ping, are accepted and change nothing.
        let unrelated = try await gitHub("pull_request", delivery: "d-7", payload: pullRequest(action: "opened", number: 9, title: "docs", branch: "docs"))
        XCTAssertEqual(unrelated.json["status"] as? String, "ignored")
        let checked8 = try await gitHub("ping", delivery: "d-8", payload: ["zen": "Keep it logically awesome."]).json["status"] as? String
        XCTAssertEqual(checked8, "pong")
    }

    func testOnlyComplianceReviewsAndNeverTheirOwnSession() async throws {
        // Carol is compliance and engineer: she may review others' retro PRs but not her own.
        let carol = try await enrolledUser("carol", roles: [.compliance, .engineer])
        let (own, _) = try await activate(token: carol.token, secret: carol.secret)
        let ownLink = try await cli(["retro", "link", own, "https://github.com/acme/payments/pull/1"], as: "carol")
        XCTAssertEqual(ownLink.status, 0)
        let refused = try await cli(["compliance", "approve", own, "--note", "I checked my own work carefully"], as: "carol")
        XCTAssertEqual(refused.status, 77)
        XCTAssertTrue(refused.stderr.contains("separation of duties"), refused.stderr)
        let checked9 = try await auditTypes(own).contains("retro.review_refused")
        XCTAssertTrue(checked9)
        let checked10 = try await obligation(own).status
        XCTAssertEqual(checked10, .linked)

        // Alice is admin but not compliance.
        let (id, _) = try await activate()
        let gitlabLink = try await cli(["retro", "link", id, "https://gitlab.com/acme/platform/payments/-/merge_requests/12"], as: "alice")
        XCTAssertEqual(gitlabLink.status, 0)
        let admin = try await cli(["compliance", "approve", id, "--note", "admin trying to approve"], as: "alice")
        XCTAssertEqual(admin.status, 77)
        XCTAssertTrue(admin.stderr.contains("only the compliance role"), admin.stderr)
        let vague = try await cli(["compliance", "approve", id, "--note", "ok"], as: "carol")
        XCTAssertEqual(vague.status, 64, "a review note must say something")

        let approved = try await cli(["compliance", "approve", id, "--note", "diff matches INC-4521, blockers only"], as: "carol")
        XCTAssertEqual(approved.status, 0, approved.stderr)
        let checked11 = try await obligation(id).status
        XCTAssertEqual(checked11, .approved)
        let twice = try await cli(["compliance", "reject", id, "--note", "changed my mind about this one"], as: "bob")
        XCTAssertEqual(twice.status, 77)
        let waived = try await cli(["compliance", "waive", own, "--reason", "change was rolled back, nothing to document"], as: "bob")
        XCTAssertEqual(waived.status, 0, waived.stderr)
        let checked12 = try await obligation(own).status
        XCTAssertEqual(checked12, .waived)
    }

    func testEvidencePackVerifiesIndependentlyAndTamperingIsFound() async throws {
        let (id, at) = try await activate()
        clock.set(at + day + 60)
        try await waitUntil { try await self.rungCount(id) == 3 }
        let linked = try await cli(["retro", "link", id, "https://github.com/acme/payments/pull/77"], as: "alice")
        XCTAssertEqual(linked.status, 0)
        let approved = try await cli(["compliance", "approve", id, "--note", "reviewed the diff against the incident"], as: "bob")
        XCTAssertEqual(approved.status, 0)
        // Jumping past the deadline: both reminders are skipped as moot, level 1 pages; then the link and approval pages.
        try await waitUntil { await self.receiver.received("/hook").count >= 3 }

        let path = scratch.appendingPathComponent("evidence.json").path
        let export = try await cli(["compliance", "evidence", id, "--out", path], as: "bob")
        XCTAssertEqual(export.status, 0, export.stderr)
        XCTAssertTrue(export.stdout.contains("audit events proven"), export.stdout)
        let verify = try await cli(["compliance", "verify-evidence", path], as: "bob")
        XCTAssertEqual(verify.status, 0, verify.stdout + verify.stderr)

        let pack = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as? [String: Any])
        XCTAssertEqual((pack["session"] as? [String: Any])?["id"] as? String, id)
        XCTAssertEqual((pack["request"] as? [String: Any])?["incident"] as? String, "INC-4521")
        XCTAssertEqual((pack["mfa"] as? [String: Any])?["outcome"] as? String, "success")
        XCTAssertEqual((pack["retro"] as? [String: Any])?["status"] as? String, "approved")
        XCTAssertEqual((pack["reviews"] as? [[String: Any]])?.first?["reviewer"] as? String, "bob")
        XCTAssertEqual((pack["escalations"] as? [[String: Any]])?.count, 3)
        XCTAssertFalse((pack["pages"] as? [[String: Any]] ?? []).isEmpty)
        let controls = try XCTUnwrap(pack["controls"] as? [String])
        for control in ["SOC2:CC6.1", "SOC2:CC8.1", "PCI-DSS-4.0:6.5.1", "NIST-800-53:AC-5"] { XCTAssertTrue(controls.contains(control), control) }
        let types = (pack["audit"] as? [String: Any])?["events"] as? [[String: Any]] ?? []
        XCTAssertEqual((types.last?["event"] as? [String: Any])?["type"] as? String, "evidence.exported", "the pack proves its own export")

        // An independent check of the pack hash (RFC 8785 form) and of every proven event's chain hash.
        let script = """
            import hashlib, json, sys
            doc = json.load(open(sys.argv[1], encoding="utf-8"))
            claimed = doc.pop("pack_sha256")
            canonical = json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
            assert hashlib.sha256(canonical).hexdigest() == claimed, "pack hash"
            links = doc["audit"]["proof"]["links"]
            for prev, link in zip(links, links[1:]):
                assert link["prev_hash"] == prev["hash"], "linkage"
            proven = 0
            for link in links:
                if link.get("body"):
                    assert hashlib.sha256((link["prev_hash"] + "\\n" + link["body"]).encode()).hexdigest() == link["hash"], "event hash"
                    proven += 1
            assert links[-1]["hash"] == doc["audit"]["proof"]["head"]["hash"], "head"
            print(proven)
            """
        let python = try await Tools.run("/usr/bin/env", ["python3", "-c", script, path])
        XCTAssertEqual(python.status, 0, python.stderr)
        XCTAssertEqual(Int(python.stdout.trimmingCharacters(in: .whitespacesAndNewlines)), 8, "activation, expiry, 3 rungs, link, approval, export")

        // Change one word of the justification: the pack no longer verifies.
        let original = try String(contentsOfFile: path, encoding: .utf8)
        try original.replacingOccurrences(of: "kill blockers", with: "kill everything").write(toFile: path, atomically: true, encoding: .utf8)
        let tampered = try await cli(["compliance", "verify-evidence", path], as: "bob")
        XCTAssertEqual(tampered.status, 1)
        XCTAssertTrue(tampered.stdout.contains("NOT intact"), tampered.stdout)

        let engineer = try await cli(["compliance", "evidence", id, "--out", path], as: "alice")
        XCTAssertEqual(engineer.status, 77, "only compliance exports evidence")
    }

    func testCompliancePagesOverHTTP() async throws {
        let (overdue, at) = try await activate()
        // A hostile justification is shown as text, never as markup.
        let hostile = try await http.send(.POST, "/v1/sessions", token: alice.token, json: [
            "target": "payments-db", "reason": "INC-4521 <img src=x onerror=alert(1)> cleanup", "incident": "INC-4521", "ttl": "30m",
            "totp": try code(alice.secret),
        ])
        XCTAssertEqual(hostile.status, 201, hostile.text)
        nextStep()
        let waiting = (hostile.json["session"] as! [String: Any])["id"] as! String
        let linked = try await cli(["retro", "link", waiting, "https://github.com/acme/payments/pull/5"], as: "alice")
        XCTAssertEqual(linked.status, 0)
        clock.set(at + day + 3 * 3600)
        try await waitUntil { try await self.rungCount(overdue) >= 3 }

        let checked13 = try await http.send(.GET, "/compliance").status
        XCTAssertEqual(checked13, 401)
        let engineer = try await http.send(.GET, "/compliance", token: alice.token)
        XCTAssertEqual(engineer.status, 403)
        let page = try await http.send(.GET, "/compliance", token: bob.token)
        XCTAssertEqual(page.status, 200)
        XCTAssertEqual(page.headers["content-type"], "text/html; charset=utf-8")
        XCTAssertTrue(page.headers["content-security-policy"]?.contains("default-src 'none'") == true)
        XCTAssertFalse(page.text.contains("<script"), "no JavaScript")
        let overdueTable = try XCTUnwrap(page.text.range(of: "<table id=\"overdue\">").map { String(page.text[$0.lowerBound...]) })
        XCTAssertTrue(overdueTable.contains("/compliance/sessions/\(overdue)"))
        XCTAssertTrue(overdueTable.contains(">3h<"), "the age of the overdue obligation")
        XCTAssertTrue(page.text.contains("<table id=\"awaiting\">") && page.text.contains("https://github.com/acme/payments/pull/5"))

        let detail = try await http.send(.GET, "/compliance/sessions/\(overdue)", token: bob.token)
        XCTAssertEqual(detail.status, 200)
        XCTAssertTrue(detail.text.contains("INC-4521 lock pile-up, kill blockers"))
        XCTAssertTrue(detail.text.contains("retro.escalated") && detail.text.contains("level1"))
        let checked14 = try await http.send(.GET, "/compliance/sessions/bg_NOSUCHSESSION2345678", token: bob.token).status
        XCTAssertEqual(checked14, 404)

        let hostilePage = try await http.send(.GET, "/compliance/sessions/\(waiting)", token: bob.token)
        XCTAssertTrue(hostilePage.text.contains("INC-4521 &lt;img src=x onerror=alert(1)&gt; cleanup"), hostilePage.text)
        XCTAssertFalse(hostilePage.text.contains("<img"))
        let show = try await cli(["compliance", "show", overdue], as: "bob")
        XCTAssertEqual(show.status, 0, show.stderr)
        for line in ["reason:     INC-4521 lock pile-up, kill blockers", "MFA:        totp success", "retro PR:   overdue, OVERDUE by 3h",
                     "escalation: level1", "audit #"] {
            XCTAssertTrue(show.stdout.contains(line), "\(line) in \(show.stdout)")
        }

        let csv = try await http.send(.GET, "/compliance/queue.csv", token: bob.token)
        XCTAssertEqual(csv.status, 200)
        let lines = csv.text.split(separator: "\r\n").map(String.init)
        XCTAssertEqual(lines.first?.hasPrefix("session_id,state,requester,target,due_at,age_seconds"), true)
        XCTAssertTrue(lines[1].hasPrefix("\(overdue),overdue,alice,payments-db,"), "overdue first: \(lines)")
        XCTAssertTrue(lines[2].hasPrefix("\(waiting),linked,alice,"), "\(lines)")
        let cliCSV = try await cli(["compliance", "queue", "--csv"], as: "bob")
        XCTAssertEqual(cliCSV.stdout, csv.text)

        let metrics = try await http.send(.GET, "/metrics")
        XCTAssertEqual(metrics.status, 200)
        XCTAssertTrue(metrics.text.contains("breakglass_retro_overdue 1.0"), metrics.text)
        XCTAssertTrue(metrics.text.contains(#"breakglass_retro_obligations{status="linked"} 1.0"#), metrics.text)
        XCTAssertTrue(metrics.text.contains("breakglass_retro_time_to_link_median_seconds"), metrics.text)
        XCTAssertTrue(metrics.text.contains(#"breakglass_retro_escalations_paged{rung="level1"} 1.0"#), metrics.text)
    }

    func testCompliancePageInAHeadlessBrowser() async throws {
        let chromium = ["/usr/bin/chromium", "/usr/bin/chromium-browser"].first { FileManager.default.isExecutableFile(atPath: $0) }
        let browser = try XCTUnwrap(chromium, "chromium is required (scripts/ensure-deps.sh --for-tests installs it)")
        let (id, at) = try await activate()
        clock.set(at + day + 7200)
        try await waitUntil { try await self.rungCount(id) >= 3 }

        let link = try await cli(["compliance", "web"], as: "bob")
        XCTAssertEqual(link.status, 0, link.stderr)
        let url = link.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        XCTAssertTrue(url.hasPrefix(server.baseURL + "/compliance/login?ticket=bgw_"), url)

        func dumpDOM(_ url: String) async throws -> String {
            let profile = scratch.appendingPathComponent("chromium-\(UUID().uuidString)").path
            let result = try await Tools.run(browser, [
                "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--user-data-dir=\(profile)", "--dump-dom", url,
            ])
            XCTAssertEqual(result.status, 0, result.stderr)
            return result.stdout
        }
        // The one-time link shows a confirmation page in the browser; opening it (a link previewer does) spends
        // nothing and sets no cookie.
        let confirm = try await dumpDOM(url)
        XCTAssertTrue(confirm.contains("Sign in to breakglass compliance"), confirm)
        XCTAssertTrue(confirm.contains("id=\"confirm-sign-in\""), confirm)
        let stillConfirm = try await dumpDOM(url)
        XCTAssertTrue(stillConfirm.contains("confirm-sign-in"), "the GET did not spend the ticket")

        // The button's POST spends it and signs in; the queue renders in the browser from the signed-in page.
        let ticket = String(url.split(separator: "=").last!)
        let posted = try await http.send(.POST, "/compliance/login", rawBody: Data("ticket=\(ticket)".utf8),
                                         headers: ["Content-Type": "application/x-www-form-urlencoded"])
        XCTAssertEqual(posted.status, 303, posted.text)
        let cookie = try XCTUnwrap(posted.headers["set-cookie"]?.split(separator: ";").first.map(String.init))
        let queue = try await http.send(.GET, "/compliance", headers: ["Cookie": cookie])
        let saved = scratch.appendingPathComponent("queue.html")
        try queue.body.write(to: saved)
        let dom = try await dumpDOM(saved.absoluteString)
        XCTAssertTrue(dom.contains("Retro PR review queue"), dom)
        XCTAssertTrue(dom.contains("signed in as bob"))
        XCTAssertTrue(dom.contains("data-session=\"\(id)\""), dom)
        XCTAssertTrue(dom.contains("<strong id=\"overdue-count\">1</strong>"), dom)
        XCTAssertTrue(dom.contains("id=\"sign-out\""), dom)
        // A spent ticket does not sign in again.
        let reused = try await http.send(.POST, "/compliance/login", rawBody: Data("ticket=\(ticket)".utf8),
                                         headers: ["Content-Type": "application/x-www-form-urlencoded"])
        XCTAssertEqual(reused.status, 401)
        XCTAssertTrue(reused.text.contains("Sign-in link not valid"), reused.text)
        XCTAssertFalse(reused.text.contains("data-session"))
    }
}
