import BreakglassCore
import BreakglassTestSupport
import Foundation
import XCTest

/// Not a test: measurements run by `scripts/bench-escalation.sh` (skipped otherwise). Shows that a
/// scheduler tick costs what is due, not the size of the obligation history.
final class EscalationBenchmark: BrokerTestCase {
    override var serverDelivers: Bool { false }

    func testSchedulerWorkScalesWithWhatIsDue() async throws {
        let env = ProcessInfo.processInfo.environment
        guard env["BREAKGLASS_BENCH"] == "1" else { throw XCTSkip("benchmark: run scripts/bench-escalation.sh") }
        let history = Int(env["BENCH_HISTORY"] ?? "100000") ?? 100_000
        let due = Int(env["BENCH_DUE"] ?? "2000") ?? 2000
        let alice = try await enrolledUser("alice", roles: [.admin, .engineer])
        try await makeTarget("payments-db", admin: alice)
        let ladder = String(decoding: try JSONEncoder().encode(EscalationLadder.standard), as: UTF8.self)
        let now = clock.now()
        func at(_ offset: TimeInterval) -> String { "'\(Timestamp.format(now + offset))'::timestamptz" }

        // A long settled history: every obligation approved, nothing left to fire.
        try await database.asSuperuser("""
            INSERT INTO sessions (id, user_id, target, credential_kind, reason, incident, state, activated_at, expires_at, hard_limit,
                                  retro_due_at, credential_ref)
            SELECT 'bg_H' || i, (SELECT id FROM users WHERE name = 'alice'), 'payments-db', 'token', 'benchmark history', 'INC-1',
                   'expired', \(at(-90 * 86400)), \(at(-90 * 86400)), \(at(-90 * 86400)), \(at(-89 * 86400)), '{}'::jsonb
            FROM generate_series(1, \(history)) AS i
            """)
        try await database.asSuperuser("""
            INSERT INTO retro_obligations (session_id, status, window_start, due_at, ladder, next_level, next_due_at)
            SELECT 'bg_H' || i, 'approved', \(at(-90 * 86400)), \(at(-89 * 86400)), '\(ladder)'::jsonb, 5, NULL
            FROM generate_series(1, \(history)) AS i
            """)
        try await database.asSuperuser("ANALYZE retro_obligations")

        // 1. An idle tick over that history.
        var idle: [Double] = []
        for _ in 0..<200 {
            let started = ContinuousClock.now
            _ = try await server.broker.fireDueEscalations()
            idle.append((ContinuousClock.now - started) / .milliseconds(1))
        }
        idle.sort()
        let plan = try await database.lines("""
            EXPLAIN SELECT session_id FROM retro_obligations WHERE next_due_at <= now() ORDER BY next_due_at LIMIT 100 FOR UPDATE SKIP LOCKED
            """)
        XCTAssertTrue(plan.joined().contains("retro_obligations_next_due"), plan.joined(separator: "\n"))

        // 2. A burst: `due` obligations a day past their deadline, as after a long outage (5 rungs each:
        //    two moot reminders recorded as skipped, three escalations paged).
        try await database.asSuperuser("""
            INSERT INTO sessions (id, user_id, target, credential_kind, reason, incident, state, activated_at, expires_at, hard_limit,
                                  retro_due_at, credential_ref)
            SELECT 'bg_D' || i, (SELECT id FROM users WHERE name = 'alice'), 'payments-db', 'token', 'benchmark due', 'INC-2',
                   'expired', \(at(-2 * 86400 - 60)), \(at(-2 * 86400)), \(at(-2 * 86400)), \(at(-86400 - 60)), '{}'::jsonb
            FROM generate_series(1, \(due)) AS i
            """)
        try await database.asSuperuser("""
            INSERT INTO retro_obligations (session_id, status, window_start, due_at, ladder, next_level, next_due_at)
            SELECT 'bg_D' || i, 'owed', \(at(-2 * 86400 - 60)), \(at(-86400 - 60)), '\(ladder)'::jsonb, 0, \(at(-1.5 * 86400 - 60))
            FROM generate_series(1, \(due)) AS i
            """)
        let started = ContinuousClock.now
        try await waitUntil(timeout: 600) {
            try await self.database.count("SELECT count(*)::bigint FROM retro_escalations") == 5 * due
        }
        let burst = (ContinuousClock.now - started) / .seconds(1)
        let paged = try await database.count("SELECT count(*)::bigint FROM outbox WHERE event_type LIKE 'retro.level%'")
        XCTAssertEqual(paged, 3 * due)
        print(String(format: "BENCH escalation: history=%d settled obligations; idle tick p50 %.2f ms, p99 %.2f ms (index on next_due_at: %@)",
                     history, idle[idle.count / 2], idle[idle.count * 99 / 100], plan.joined().contains("retro_obligations_next_due") ? "yes" : "NO"))
        print(String(format: "BENCH escalation: burst of %d overdue obligations (%d rungs, %d pages) recorded in %.2f s = %.0f rungs/s",
                     due, 5 * due, paged, burst, Double(5 * due) / burst))
    }
}
