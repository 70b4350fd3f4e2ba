import BreakglassCore
import Foundation
import XCTest

/// Drills in the core: the compressed plan, the DRILL marking of every rendering, and the report's findings.
final class DrillTests: XCTestCase {
    let start = Date(timeIntervalSince1970: 1_800_000_000)
    let day: TimeInterval = 24 * 3600

    func target(retroDeadline: TimeInterval = 24 * 3600, retroFrom: RetroDeadlineBasis = .activation, drillDeadline: TimeInterval? = nil) -> Target {
        Target(name: "payments-db", kind: .token, audience: "payments-api", maxTTL: 3600, maxTotal: 7200, retroDeadline: retroDeadline,
               retroFrom: retroFrom, requesters: ["role:engineer"], drillDeadline: drillDeadline)
    }

    func drillSession(activatedAt: Date? = nil) -> EmergencySession {
        let at = activatedAt ?? start
        return EmergencySession(id: "bg_ABCDEFGHIJKLMNOPQRST", requester: "alice", target: "payments-db", reason: "Q3 drill", incident: "DRILL-1",
                                state: .active, activatedAt: at, expiresAt: at + 1800, hardLimit: at + 7200, retroDueAt: at + day,
                                extensions: 0, drill: true)
    }

    func fireTimes(_ o: RetroObligation) -> [TimeInterval] {
        o.ladder.rungs.indices.map { o.fireTime(level: $0).timeIntervalSince(o.windowStart) }
    }

    func testStandardLadderOnADayTargetBecomesFourMinutes() {
        let plan = DrillPlan.make(target: target(), ladder: .standard)
        XCTAssertEqual(plan.deadline, 120)
        XCTAssertEqual(plan.scale, 120 / day, accuracy: 1e-12)
        let o = RetroObligation.opened(for: drillSession(), target: target(), ladder: .standard)
        XCTAssertTrue(o.drill)
        XCTAssertEqual(o.dueAt, start + 120)
        // 50% and 90% of two minutes; level1 at the deadline, +4h and +1d scaled by 1/720.
        XCTAssertEqual(fireTimes(o), [60, 108, 120, 140, 240])
        XCTAssertEqual(o.ladder.rungs.map(\.name), EscalationLadder.standard.rungs.map(\.name))
        XCTAssertEqual(o.ladder.rungs.map(\.severity), EscalationLadder.standard.rungs.map(\.severity))
    }

    func testAShortRealDeadlineStillFitsTheLadderInTwoDeadlines() {
        // Scaling by 2m/1h alone would put level3 (+1d) 48 minutes after the drill's deadline.
        let o = RetroObligation.opened(for: drillSession(), target: target(retroDeadline: 3600), ladder: .standard)
        XCTAssertEqual(fireTimes(o).last, 240)
        let longTail = try! EscalationLadder.parse("level1@+0,level2@+10m,level3@+7d/critical")
        let tail = RetroObligation.opened(for: drillSession(), target: target(drillDeadline: 300), ladder: longTail)
        XCTAssertEqual(fireTimes(tail), [300, 301, 600], "+10m scales to 0.3 s: kept a second after level1, never merged with it")
        XCTAssertNoThrow(try tail.ladder.validated())
    }

    func testDrillDeadlineIsTheOnlyDeadlineBelowAnHour() {
        XCTAssertThrowsError(try target(retroDeadline: 120).validated()) { error in
            XCTAssertEqual((error as? BreakglassError)?.code, "invalid_retro_deadline")
        }
        XCTAssertNoThrow(try target(drillDeadline: 120).validated())
        for bad: TimeInterval in [30, 3600, 7200] {
            XCTAssertThrowsError(try target(drillDeadline: bad).validated(), "\(bad)") { error in
                XCTAssertEqual((error as? BreakglassError)?.code, "invalid_drill_deadline")
            }
        }
    }

    func testADrillIgnoresADeadlineFromSessionEnd() {
        let t = target(retroFrom: .end)
        var session = drillSession()
        let o = RetroObligation.opened(for: session, target: t, ladder: .standard)
        XCTAssertEqual(o.windowStart, start, "a drill's ladder starts at activation, or it would wait for the credential to expire")
        session.state = .ended
        session.closedAt = start + 30
        XCTAssertNil(o.rescheduled(for: session, target: t))
    }

    func testADrillSessionDecodesFromAnOldBrokerAsReal() throws {
        var json = try JSONSerialization.jsonObject(with: JSONEncoder().encode(drillSession())) as! [String: Any]
        json.removeValue(forKey: "drill")
        let decoded = try JSONDecoder().decode(EmergencySession.self, from: JSONSerialization.data(withJSONObject: json))
        XCTAssertFalse(decoded.drill)
        XCTAssertTrue(try JSONDecoder().decode(EmergencySession.self, from: JSONEncoder().encode(drillSession())).drill)
    }

    // MARK: pages

    func message(_ type: String, _ payload: [String: String]) -> NotificationMessage {
        NotificationMessage(id: "m1", type: type, sessionId: "bg_ABCDEFGHIJKLMNOPQRST", payload: payload, createdAt: start)
    }

    func testEveryRenderingOfADrillPageSaysDrill() throws {
        let base = ["user": "alice", "target": "payments-db", "reason": "<!channel> rehearsal", "rung": "level2", "severity": "warning",
                    "overdue_since": "x", "session_id": "bg_ABCDEFGHIJKLMNOPQRST"]
        for type in ["session.activated", "session.ended", "retro.reminder", "retro.level2", "retro.approved", "admin.retro_linked"] {
            let drill = message(type, base.merging(["drill": "true"]) { $1 }), real = message(type, base)
            XCTAssertTrue(drill.title.hasPrefix("[DRILL] "), type)
            XCTAssertFalse(real.title.contains("DRILL"), type)
            let slack = wireJSON(drill.slackBody())
            XCTAssertTrue((slack["text"] as! String).hasPrefix("[DRILL] "), type)
            XCTAssertFalse((slack["text"] as! String).contains("<!channel>"), "user text stays escaped")
            let blocks = slack["blocks"] as! [[String: Any]]
            XCTAssertTrue(((blocks[0]["text"] as! [String: Any])["text"] as! String).hasPrefix("[DRILL] "))
            XCTAssertTrue("\(blocks[1])".contains("*DRILL*"))
            let data = wireJSON(drill.webhookBody())["data"] as! [String: Any]
            XCTAssertEqual(data["drill"] as? Bool, true, type)
            XCTAssertNil(wireJSON(real.webhookBody())["data"].flatMap { ($0 as! [String: Any])["drill"] })
            let pd = wireJSON(drill.pagerDutyBody(routingKey: "k", source: "bg"))
            if let payload = pd["payload"] as? [String: Any] {
                XCTAssertTrue((payload["summary"] as! String).hasPrefix("[DRILL] "), type)
                XCTAssertEqual((payload["custom_details"] as! [String: Any])["drill"] as? Bool, true)
            } else {
                XCTAssertEqual(pd["event_action"] as? String, "resolve", "only a resolve carries no summary")
            }
        }
    }

    // MARK: report

    func testADrillLinkedOnTimeStopsItsLadderWithoutFindings() throws {
        let o = RetroObligation.opened(for: drillSession(), target: target(), ladder: .standard)
        let due = (0..<5).map { o.fireTime(level: $0) }
        let reached = (0..<2).map { DrillRungReached(level: $0, scheduledAt: due[$0], reachedAt: due[$0], outcome: .paged) }
        let pages = (0..<2).map { level in
            DrillPageRecord(messageId: "m\(level)", eventType: o.ladder.rungs[level].eventType, level: level, queuedAt: due[level], channel: "slack",
                            state: .delivery(.delivered), attempts: 1, firstAttemptAt: due[level], deliveredAt: due[level] + 1, lastError: nil)
        }
        // The PR is linked before the deadline: the escalations after it never fire, as planned.
        var linked = try o.link(url: "https://github.com/acme/payments/pull/9", by: "alice", source: .cli, now: due[1] + 5)
        linked = try linked.approve(by: "bob", note: "drill PR reviewed", now: due[1] + 10, requesterCreatedBy: nil)
        let report = DrillReport.make(session: drillSession(), obligation: linked, reached: reached, pages: pages, now: start + 3600, by: "bob")
        XCTAssertEqual(report.rungs.suffix(3).map(\.outcome), [.stoppedByLink, .stoppedByLink, .stoppedByLink])
        XCTAssertEqual(report.findings.filter { $0.contains("never reached") }, [])
    }

    func testReportListsEveryRungAndNamesWhatWentWrong() {
        var o = RetroObligation.opened(for: drillSession(), target: target(), ladder: .standard)
        let due = (0..<5).map { o.fireTime(level: $0) }
        let reached = (0..<4).map { DrillRungReached(level: $0, scheduledAt: due[$0], reachedAt: due[$0] + 1, outcome: .paged) }
        func page(_ level: Int?, _ channel: String, _ state: DeliveryState, deliveredAfter: TimeInterval?) -> DrillPageRecord {
            let at = level.map { due[$0] } ?? start
            return DrillPageRecord(messageId: "m\(level ?? -1)", eventType: level.map { o.ladder.rungs[$0].eventType } ?? "session.activated",
                                   level: level, queuedAt: at, channel: channel, state: .delivery(state), attempts: 1, firstAttemptAt: at + 1,
                                   deliveredAt: deliveredAfter.map { at + $0 }, lastError: state == .dead ? "HTTP 404" : nil)
        }
        let pages = [page(nil, "slack", .delivered, deliveredAfter: 1), page(0, "slack", .delivered, deliveredAfter: 2),
                     page(0, "pd", .delivered, deliveredAfter: 1), page(1, "slack", .delivered, deliveredAfter: 30),
                     page(2, "slack", .dead, deliveredAfter: nil), page(3, "slack", .delivered, deliveredAfter: 2)]
        o.status = .linked
        let report = DrillReport.make(session: drillSession(), obligation: o, reached: reached, pages: pages, now: start + 600, by: "bob")
        XCTAssertEqual(report.rungs.map(\.level), [1, 2, 3, 4, 5])
        XCTAssertEqual(report.rungs.map(\.dueAt), due)
        XCTAssertEqual(report.rungs[0].pagedAt, due[0] + 1, "the first channel that took the page")
        XCTAssertEqual(report.rungs[0].deliveries.map(\.channel), ["slack", "pd"])
        XCTAssertEqual(report.rungs[4].outcome, .notReached)
        XCTAssertEqual(report.pages.map(\.eventType), ["session.activated"])
        XCTAssertEqual(report.channels.map(\.channel), ["pd", "slack"])
        XCTAssertEqual(report.channels[1].dead, 1)
        XCTAssertFalse(report.passed)
        let findings = report.findings.joined(separator: "\n")
        XCTAssertTrue(findings.contains("rung 2 (retro.reminder"), findings)
        XCTAssertTrue(findings.contains("paged 30s late"), findings)
        XCTAssertTrue(findings.contains("dead letter at slack (HTTP 404)"), findings)
        XCTAssertTrue(findings.contains("rung 5 (retro.level3") && findings.contains("never reached"), findings)
        XCTAssertTrue(findings.contains("compliance has not reviewed it"), findings)
        XCTAssertEqual(report.findings.count, 4)
    }
}
