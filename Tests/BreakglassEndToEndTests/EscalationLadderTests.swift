import BreakglassCore
import BreakglassServer
import BreakglassTestSupport
import Foundation
import XCTest

/// The escalation ladder with a manual clock jumping days ahead: each rung pages once, in order, whatever
/// the number of instances or restarts, and a linked PR stops it.
final class EscalationLadderTests: RetroTestCase {
    func testEachRungPagesOnceAndInOrder() async throws {
        let (id, at) = try await activate()
        let due = at + day
        let checked1 = try await rungCount(id)
        XCTAssertEqual(checked1, 0)

        try await jump(to: at + day * 0.5 + 1, session: id, rungs: 1, pages: 1)
        try await jump(to: at + day * 0.9 + 1, session: id, rungs: 2, pages: 2)
        try await jump(to: due + 1, session: id, rungs: 3, pages: 3)
        try await jump(to: due + 4 * 3600 + 1, session: id, rungs: 4, pages: 4)
        try await jump(to: due + day + 1, session: id, rungs: 5, pages: 5)
        // Later ticks find nothing more to do.
        clock.advance(by: 30 * day)
        try await settle(.retroEscalation, .delivery)

        let pages = await rungPages().filter { $0.session == id }
        XCTAssertEqual(pages.map(\.rung), ["reminder", "reminder", "level1", "level2", "level3"])
        XCTAssertNil(pages[0].data["overdue_since"], "a reminder is not an overdue page")
        XCTAssertEqual(pages[2].data["overdue_since"] as? String, Timestamp.format(due))
        XCTAssertEqual(pages[3].data["severity"] as? String, "warning")
        XCTAssertEqual(pages[4].data["severity"] as? String, "critical")
        XCTAssertTrue(pages.allSatisfy { $0.data["late_by"] == nil }, "a running broker pages on time")
        let events = try await auditTypes(id).filter { $0.hasPrefix("retro.") }
        XCTAssertEqual(events, Array(repeating: "retro.escalated", count: 5))

        let list = try await cli(["retro", "list"], as: "alice")
        XCTAssertEqual(list.status, 0, list.stderr)
        XCTAssertTrue(list.stdout.contains(id) && list.stdout.contains("OVERDUE by"), list.stdout)
    }

    func testTwoInstancesNeverDoubleFire() async throws {
        var sessions: [String] = []
        var start = clock.now()
        for index in 0..<4 {
            let (id, at) = try await activate()
            sessions.append(id)
            if index == 0 { start = at }
        }
        let second = TestServer(database: database, clock: clock, masterKey: server.masterKey)
        try await second.start(settings: serverSettings)
        addTeardownBlock { await second.stop() }

        // Step through every rung with both schedulers (and both delivery services) racing.
        for offset in [day * 0.5, day * 0.9, day, day + 4 * 3600, 2 * day].map({ $0 + 120 }) {
            clock.set(start + offset)
            try await settle(.retroEscalation, servers: [server, second])
        }
        try await waitUntil {
            try await self.database.count("SELECT count(*)::bigint FROM retro_escalations") == 5 * sessions.count
        }
        try await waitUntil { await self.rungPages().count >= 5 * sessions.count }
        try await settle(.retroEscalation, .delivery, servers: [server, second])
        let pages = await rungPages()
        XCTAssertEqual(pages.count, 5 * sessions.count, "every rung of every obligation paged exactly once")
        for id in sessions {
            XCTAssertEqual(pages.filter { $0.session == id }.map(\.rung), ["reminder", "reminder", "level1", "level2", "level3"])
        }
        await second.stop()
    }

    func testBrokerDownAcrossTwoLevelsCatchesUpInOrderAndSaysItIsLate() async throws {
        let (id, at) = try await activate()
        let due = at + day
        try await jump(to: at + day * 0.5 + 1, session: id, rungs: 1, pages: 1)
        await server.stop()

        // Down from before the 90% reminder until after level 2.
        clock.set(due + 4 * 3600 + 1800)
        server = TestServer(database: database, clock: clock, masterKey: server.masterKey)
        try await server.start(settings: serverSettings)
        try await waitUntil { try await self.rungCount(id) == 4 }
        try await waitUntil { await self.rungPages().filter { $0.session == id }.count >= 3 }

        let pages = await rungPages().filter { $0.session == id }
        XCTAssertEqual(pages.map(\.rung), ["reminder", "level1", "level2"])
        XCTAssertEqual(pages[1].data["overdue_since"] as? String, Timestamp.format(due))
        XCTAssertEqual(pages[1].data["late_by"] as? String, "4h30m")
        XCTAssertEqual(pages[2].data["late_by"] as? String, "30m")
        let events = try await auditTypes(id).filter { $0.hasPrefix("retro.") }
        XCTAssertEqual(events, ["retro.escalated", "retro.rung_skipped", "retro.escalated", "retro.escalated"],
                       "rungs are recorded in ladder order; the moot reminder is audited as skipped")
        let rows = try await server.broker.database.read { try await $0.retro.escalations(sessionId: id) }
        XCTAssertEqual(rows.map(\.outcome), [.paged, .skipped, .paged, .paged])
        XCTAssertEqual(rows.map(\.level), [0, 1, 2, 3])
    }

    func testLinkingStopsTheLadderAndARejectionRestartsIt() async throws {
        let (id, at) = try await activate()
        let link = try await cli(["retro", "link", id, "https://github.com/acme/payments/pull/4521"], as: "alice")
        XCTAssertEqual(link.status, 0, link.stderr)
        XCTAssertTrue(link.stdout.contains("escalation stopped"), link.stdout)
        let bad = try await cli(["retro", "link", id, "https://github.com/acme/payments/issues/4521"], as: "alice")
        XCTAssertEqual(bad.status, 64)
        XCTAssertTrue(bad.stderr.contains("is not a pull request URL"), bad.stderr)

        clock.set(at + 3 * day)
        try await settle(.retroEscalation, .delivery)
        let checked2 = try await rungCount(id)
        XCTAssertEqual(checked2, 0, "a linked PR stops the ladder")
        let checked3 = await rungPages().isEmpty
        XCTAssertTrue(checked3)

        // Rejected after the level 2 time: the ladder resumes where the deadline puts it.
        let reject = try await cli(["compliance", "reject", id, "--note", "the PR does not say which backends were killed"], as: "bob")
        XCTAssertEqual(reject.status, 0, reject.stderr)
        try await waitUntil { try await self.rungCount(id) == 5 }
        try await waitUntil { await self.rungPages().count >= 3 }
        let pages = await rungPages()
        XCTAssertEqual(pages.map(\.rung), ["level1", "level2", "level3"])
        XCTAssertTrue((pages[0].data["note"] as? String)?.contains("which backends were killed") == true)
        let list = try await cli(["retro", "list"], as: "alice")
        XCTAssertTrue(list.stdout.contains("rejected: the PR does not say"), list.stdout)
    }

    func testDeadlineFromSessionEnd() async throws {
        let target = try await adminSend(.PUT, "/v1/targets/ledger", as: alice, json: [
            "max_ttl": "1h", "retro_deadline": "2h", "retro_from": "end", "audience": "ledger-api",
        ])
        XCTAssertEqual(target.status, 201, target.text)
        let reply = try await http.send(.POST, "/v1/sessions", token: alice.token, json: [
            "target": "ledger", "reason": "INC-4522 replay stuck ledger entries", "incident": "INC-4522", "ttl": "30m", "totp": try code(alice.secret),
        ])
        XCTAssertEqual(reply.status, 201, reply.text)
        let session = reply.json["session"] as! [String: Any]
        let id = session["id"] as! String
        let expires = try XCTUnwrap(Timestamp.parse(session["expires_at"] as! String))
        XCTAssertEqual(session["retro_due_at"] as? String, Timestamp.format(expires + 2 * 3600))

        clock.advance(by: 600)
        let end = try await http.send(.POST, "/v1/sessions/\(id)/end", token: alice.token)
        XCTAssertEqual(end.status, 200, end.text)
        let ended = Timestamp.truncated(clock.now())
        XCTAssertEqual(end.json["retro_due_at"] as? String, Timestamp.format(ended + 2 * 3600), "the ended session carries the moved deadline")
        let owed = try await http.send(.GET, "/v1/retro", token: alice.token)
        let entry = try XCTUnwrap((try JSONSerialization.jsonObject(with: owed.body) as? [[String: Any]])?.first { $0["session_id"] as? String == id })
        XCTAssertEqual(entry["due_at"] as? String, Timestamp.format(ended + 2 * 3600))
        let checked5 = try await auditTypes(id).contains("retro.deadline_moved")
        XCTAssertTrue(checked5)

        let bad = try await adminSend(.PUT, "/v1/targets/ledger", as: alice, json: ["max_ttl": "1h", "retro_from": "merge"])
        XCTAssertEqual(bad.status, 400)
        XCTAssertEqual(bad.errorCode, "invalid_retro_from")
    }
}
