import BreakglassCore
import BreakglassServer
import BreakglassTestSupport
import Foundation
import XCTest

/// Drills end to end: a 2-minute drill pages its whole ladder at real Slack, PagerDuty and webhook
/// receivers, marked DRILL, then is linked from GitHub, approved and reported; it never counts as real.
final class DrillTests: RetroTestCase {
    override func setUp() async throws {
        try await super.setUp()
        // Drills run only where an admin enabled them.
        let enabled = try await adminSend(.PUT, "/v1/targets/payments-db", as: alice, json: [
            "max_ttl": "1h", "max_total": "2h", "retro_deadline": "24h", "audience": "payments-db-api", "drill_deadline": "2m",
        ])
        XCTAssertEqual(enabled.status, 200, enabled.text)
    }

    func testADrillIsOnlyWhereEnabledShortAndNeverExtended() async throws {
        try await makeTarget("ledger", admin: alice)
        let elsewhere = try await http.send(.POST, "/v1/drills", token: alice.token, json: [
            "target": "ledger", "reason": "Q3 drill: lock pile-up rehearsal", "incident": "DRILL-2026-Q3", "totp": try code(alice.secret),
        ])
        XCTAssertEqual(elsewhere.status, 403, elsewhere.text)
        XCTAssertEqual(elsewhere.errorCode, "drills_not_enabled")
        let long = try await http.send(.POST, "/v1/drills", token: alice.token, json: [
            "target": "payments-db", "reason": "Q3 drill: lock pile-up rehearsal", "incident": "DRILL-2026-Q3", "ttl": "1h",
            "totp": try code(alice.secret),
        ])
        XCTAssertEqual(long.status, 400, "a drill's credential is short: \(long.text)")
        let (id, _) = try await startDrill()
        let extend = try await http.send(.POST, "/v1/sessions/\(id)/extend", token: alice.token, json: ["ttl": "5m", "totp": try code(alice.secret)])
        XCTAssertEqual(extend.status, 409, extend.text)
        XCTAssertEqual(extend.errorCode, "drill_not_extendable")
    }

    /// Slack, PagerDuty and a webhook that receive every event (the RetroTestCase webhook gets `retro.*`).
    func addChannels() async throws {
        await receiver.setDefault("/pd/v2/enqueue", .init(status: 202, body: #"{"status":"success"}"#))
        for (name, body) in [
            ("team-slack", ["kind": "slack", "url": receiver.url("/slack"), "min_interval": "0"]),
            ("compliance-pd", ["kind": "pagerduty", "url": receiver.url("/pd"), "routing_key": "R0123456789abcdef0123456789abcdef"]),
            ("siem", ["kind": "webhook", "url": receiver.url("/siem")]),
        ] {
            let reply = try await adminSend(.PUT, "/v1/notify/channels/\(name)", as: alice, json: body)
            XCTAssertEqual(reply.status, 200, reply.text)
        }
    }

    func startDrill(ttl: String = "10m") async throws -> (id: String, at: Date) {
        let at = clock.now()
        let reply = try await http.send(.POST, "/v1/drills", token: alice.token, json: [
            "target": "payments-db", "reason": "Q3 drill: lock pile-up rehearsal", "incident": "DRILL-2026-Q3", "ttl": ttl,
            "totp": try code(alice.secret),
        ])
        XCTAssertEqual(reply.status, 201, reply.text)
        nextStep()
        let session = reply.json["session"] as! [String: Any]
        XCTAssertEqual(session["drill"] as? Bool, true)
        XCTAssertNotNil((reply.json["credential"] as? [String: Any])?["token"], "a drill issues a real credential")
        return (session["id"] as! String, Timestamp.truncated(at))
    }

    /// The rung pages each receiver got for `id`, in arrival order, as (rung, level "N/5", marked DRILL).
    func rungPagesAt(_ path: String, _ id: String) async -> [(rung: String, level: String?, drill: Bool)] {
        await receiver.received(path).compactMap { page -> (String, String?, Bool)? in
            let json = page.json
            switch path {
            case "/slack":
                let text = json["text"] as? String ?? ""
                let lines = text.split(separator: "\n").map(String.init)
                guard text.contains(id), let rung = lines.first(where: { $0.hasPrefix("Rung: ") }) else { return nil }
                return (String(rung.dropFirst(6)), nil, text.hasPrefix("[DRILL] "))
            case "/pd/v2/enqueue":
                let payload = json["payload"] as? [String: Any] ?? [:]
                let details = payload["custom_details"] as? [String: Any] ?? [:]
                guard details["session_id"] as? String == id, let rung = details["rung"] as? String else { return nil }
                return (rung, details["level"] as? String,
                        (payload["summary"] as? String ?? "").hasPrefix("[DRILL] ") && details["drill"] as? Bool == true)
            default:
                let data = json["data"] as? [String: Any] ?? [:]
                guard data["session_id"] as? String == id, let rung = data["rung"] as? String else { return nil }
                return (rung, data["level"] as? String, data["drill"] as? Bool == true)
            }
        }
    }

    func testTwoMinuteDrillPagesEveryRungOnceInOrderThenIsLinkedApprovedAndReported() async throws {
        try await addChannels()
        let began = ContinuousClock.now
        let (id, at) = try await startDrill()
        // The standard ladder on a 24 h target, compressed to a 2-minute deadline: 50%, 90%, +0, +4h/720, +1d/720.
        let offsets: [TimeInterval] = [60, 108, 120, 140, 240]
        try await waitUntil {
            await self.receiver.received("/slack").contains { ($0.json["text"] as? String ?? "").contains(id) }
        }
        let activation = await receiver.received("/slack").first { ($0.json["text"] as? String ?? "").contains(id) }
        XCTAssertTrue((activation?.json["text"] as? String ?? "").hasPrefix("[DRILL] 🚨 Break-glass: alice activated"), "\(activation?.json ?? [:])")

        // Five minutes of the manual clock, five seconds at a time; at each step exactly the rungs now due have fired.
        for step in stride(from: 5.0, through: 300, by: 5) {
            clock.set(at + step)
            let due = offsets.filter { $0 <= step }.count
            try await waitUntil { try await self.rungCount(id) >= due }
            let reached = try await rungCount(id)
            XCTAssertEqual(reached, due, "at +\(Int(step))s no rung fires early")
            try await waitUntil { await self.rungPagesAt("/hook", id).count >= due }
        }
        for path in ["/slack", "/pd/v2/enqueue", "/siem", "/hook"] {
            try await waitUntil { await self.rungPagesAt(path, id).count >= offsets.count }
        }
        try await settle(.retroEscalation, .delivery)   // a duplicate would have been sent by now
        for path in ["/slack", "/pd/v2/enqueue", "/siem", "/hook"] {
            let pages = await rungPagesAt(path, id)
            XCTAssertEqual(pages.map(\.rung), ["reminder", "reminder", "level1", "level2", "level3"], "\(path): each rung once, in order")
            XCTAssertTrue(pages.allSatisfy(\.drill), "\(path): every rung page is marked DRILL")
            if path != "/slack" { XCTAssertEqual(pages.map(\.level), ["1/5", "2/5", "3/5", "4/5", "5/5"], path) }
        }
        let hookPages = await rungPages().filter { $0.session == id }
        XCTAssertTrue(hookPages.allSatisfy { $0.data["late_by"] == nil }, "a running broker pages a drill on time")

        // GitHub linking works on a drill as on any session; then compliance approves it.
        let opened = try await gitHub("pull_request", delivery: "d-1", payload: pullRequest(
            action: "opened", number: 77, title: "Retro for drill \(id)", branch: "retro/\(id)"))
        XCTAssertEqual(opened.status, 200, opened.text)
        let linked = try await server.broker.database.read { try await $0.retro.obligation(sessionId: id) }
        XCTAssertEqual(linked?.status, .linked)
        clock.advance(by: 5)
        let approve = try await http.send(.POST, "/v1/compliance/sessions/\(id)/approve", token: bob.token,
                                          json: ["note": "drill PR describes the rehearsed change"])
        XCTAssertEqual(approve.status, 200, approve.text)
        clock.advance(by: 5)
        try await waitUntil {
            let types = await self.receiver.received("/siem").compactMap { page -> String? in
                let data = page.json["data"] as? [String: Any] ?? [:]
                return data["session_id"] as? String == id && data["drill"] as? Bool == true ? page.json["type"] as? String : nil
            }
            return types.contains("retro.linked") && types.contains("retro.approved") && types.contains("session.activated")
        }
        let unmarked = await receiver.received("/siem").filter { page in
            let data = page.json["data"] as? [String: Any] ?? [:]
            return data["session_id"] as? String == id && data["drill"] as? Bool != true
        }
        XCTAssertTrue(unmarked.isEmpty, "every event of a drill is marked: \(unmarked.map(\.json))")

        let reply = try await http.send(.GET, "/v1/drills/\(id)/report", token: alice.token)
        XCTAssertEqual(reply.status, 200, reply.text)
        let document = try JSONDecoder().decode(JSONValue.self, from: reply.body)
        XCTAssertEqual(EvidencePack.seal(document), document, "sealed like an evidence pack")
        let rungs = try XCTUnwrap(reply.json["rungs"] as? [[String: Any]])
        XCTAssertEqual(rungs.map { $0["due_at"] as? String }, offsets.map { Timestamp.format(at + $0) })
        for rung in rungs {
            XCTAssertEqual(rung["outcome"] as? String, "paged")
            let paged = try XCTUnwrap((rung["paged_at"] as? String).flatMap(Timestamp.parse), "\(rung)")
            let due = try XCTUnwrap((rung["due_at"] as? String).flatMap(Timestamp.parse))
            XCTAssertLessThan(paged.timeIntervalSince(due), DrillReport.lateAfter, "\(rung)")
            XCTAssertEqual(Set(((rung["deliveries"] as? [[String: Any]]) ?? []).compactMap { $0["channel"] as? String }),
                           ["compliance-pd", "retro-pages", "siem", "team-slack"])
        }
        XCTAssertEqual((reply.json["retro"] as? [String: Any])?["status"] as? String, "approved")
        XCTAssertEqual(reply.json["findings"] as? [String], [])
        XCTAssertEqual(reply.json["passed"] as? Bool, true)
        print("two-minute drill test: 5 minutes of drill driven in \(ContinuousClock.now - began) of real time")
    }

    func testDrillsAreKeptOutOfTheRealQueueMetricsAndEvidence() async throws {
        let (real, _) = try await activate()
        let (drill, at) = try await startDrill()
        // Past the drill's deadline (its first four rungs), long before the real one's.
        clock.set(at + 180)
        try await waitUntil { try await self.rungCount(drill) == 4 }

        let queue = try await cli(["compliance", "queue"], as: "bob")
        XCTAssertEqual(queue.status, 0, queue.stderr)
        XCTAssertFalse(queue.stdout.contains(drill), queue.stdout)
        let drills = try await cli(["compliance", "queue", "--drills"], as: "bob")
        XCTAssertTrue(drills.stdout.contains("[DRILL] \(drill)") && drills.stdout.contains("OVERDUE"), drills.stdout)
        XCTAssertFalse(drills.stdout.contains(real), drills.stdout)
        let owed = try await cli(["retro", "list"], as: "alice")
        XCTAssertTrue(owed.stdout.contains("[DRILL] \(drill)"), owed.stdout)
        XCTAssertTrue(owed.stdout.contains("\n\(real)") || owed.stdout.hasPrefix(real), owed.stdout)
        let sessions = try await cli(["list"], as: "alice")
        XCTAssertTrue(sessions.stdout.contains("[DRILL] \(drill)") && !sessions.stdout.contains("[DRILL] \(real)"), sessions.stdout)
        let story = try await cli(["compliance", "show", drill], as: "bob")
        XCTAssertTrue(story.stdout.hasPrefix("[DRILL] \(drill)"), story.stdout)

        let metrics = try await http.send(.GET, "/metrics").text
        for line in ["breakglass_retro_overdue 0", "breakglass_retro_obligations{status=\"owed\"} 1", "breakglass_drill_sessions 1",
                     "breakglass_activations_total{target=\"payments-db\",outcome=\"granted\"} 1",
                     "breakglass_drill_escalations_paged{rung=\"level1\"} 1"] {
            XCTAssertTrue(metrics.contains(line), "\(line) in\n\(metrics)")
        }
        XCTAssertFalse(metrics.contains("breakglass_retro_escalations_paged"), "no real rung paged yet:\n\(metrics)")

        for (id, isDrill) in [(drill, true), (real, false)] {
            let pack = try await http.send(.GET, "/v1/compliance/sessions/\(id)/evidence", token: bob.token)
            XCTAssertEqual(pack.status, 200, pack.text)
            XCTAssertEqual(pack.json["drill"] as? Bool, isDrill)
            XCTAssertEqual((pack.json["session"] as? [String: Any])?["drill"] as? Bool, isDrill)
            XCTAssertEqual((pack.json["notice"] as? String)?.hasPrefix("DRILL"), isDrill ? true : nil)
            let check = EvidencePack.verify(pack.body)
            XCTAssertTrue(check.intact, "\(check.problems)")
            XCTAssertEqual(check.controls.contains("PCI-DSS-4.0:12.10.2"), isDrill, "a drill evidences that the plan was tested")
        }
        let notDrill = try await http.send(.GET, "/v1/drills/\(real)/report", token: alice.token)
        XCTAssertEqual(notDrill.status, 409, notDrill.text)
        XCTAssertEqual((notDrill.json["error"] as? [String: Any])?["code"] as? String, "not_a_drill")

        // A deadline below an hour: refused for real sessions, accepted for drills.
        let short = try await adminSend(.PUT, "/v1/targets/payments-db", as: alice, json: ["max_ttl": "1h", "retro_deadline": "2m"])
        XCTAssertEqual(short.status, 400, short.text)
        let drillOnly = try await adminSend(.PUT, "/v1/targets/payments-db", as: alice,
                                            json: ["max_ttl": "1h", "retro_deadline": "24h", "drill_deadline": "5m"])
        XCTAssertEqual(drillOnly.status, 200, drillOnly.text)
    }

    func testDrillAndDrillReportFromTheCLI() async throws {
        for args in [["drill", "--help"], ["drill", "start", "--help"], ["drill", "report", "--help"]] {
            let help = try await cli(args, as: "alice")
            XCTAssertEqual(help.status, 0, "\(args): \(help.stderr)")
            XCTAssertTrue(help.stdout.contains("USAGE"), help.stdout)
        }
        let set = try await cli(["admin", "set-target", "payments-db", "--max-ttl", "1h", "--drill-deadline", "3m", "--totp", try code(alice.secret)],
                                as: "alice")
        XCTAssertEqual(set.status, 0, set.stderr)
        nextStep()
        let start = try await cli(["drill", "payments-db", "--reason", "Q3 drill: lock pile-up rehearsal", "--incident", "DRILL-2026-Q3",
                                   "--ttl", "10m", "--totp", try code(alice.secret)], as: "alice")
        XCTAssertEqual(start.status, 0, start.stderr)
        XCTAssertTrue(start.stdout.hasPrefix("DRILL"), start.stdout)
        let id = try XCTUnwrap(start.stdout.range(of: #"bg_[A-Za-z0-9]+"#, options: .regularExpression).map { String(start.stdout[$0]) })
        nextStep()

        let file = scratch.appendingPathComponent("drill.json").path
        let report = try await cli(["drill", "report", id, "-o", file], as: "alice")
        XCTAssertEqual(report.status, 0, report.stderr)
        XCTAssertTrue(report.stdout.contains("rung 1 retro.reminder due") && report.stdout.contains("finding:"), report.stdout)
        let data = try Data(contentsOf: URL(fileURLWithPath: file))
        let document = try JSONDecoder().decode(JSONValue.self, from: data)
        XCTAssertEqual(EvidencePack.seal(document), document)
        let fields = try JSONSerialization.jsonObject(with: data) as? [String: Any]
        XCTAssertEqual(fields?["deadline_seconds"] as? Double, 180, "the target's drill deadline")

        let unknown = try await cli(["drill", "report", "bg_AAAAAAAAAAAAAAAAAAAA"], as: "alice")
        XCTAssertEqual(unknown.status, 77, unknown.stdout)
        XCTAssertTrue(unknown.stderr.hasPrefix("breakglass: "), unknown.stderr)
    }
}
