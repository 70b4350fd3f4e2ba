import BreakglassCore
import BreakglassServer
import BreakglassStore
import Foundation
import PostgresNIO

/// Shows that a retro escalation scheduler tick costs what is due, not the size of the obligation history:
/// times idle ticks over `history` settled obligations (and checks the claim reads the next-due index), then
/// how fast `due` obligations a day past their deadline are caught up, as after a long outage. The ticks are
/// the broker's own `fireDueEscalations`, called in a loop as its `RetroEscalationService` calls it.
struct EscalationScale {
    var history: Int
    var due: Int

    func run(environment: [String: String]) async throws {
        try await BenchDatabase.with(environment, for: "escalation") { database in
            let broker = try await BenchDatabase.broker(database, environment: environment, for: "escalation")
            try await measure(broker: broker, database: database)
        }
    }

    private func measure(broker: Broker, database: Database) async throws {
        let (history, due) = (history, due)
        _ = try await broker.createUser(name: "alice", roles: [.engineer], actor: nil, origin: .server)
        let now = broker.clock.now()
        try await database.transaction { tx in
            _ = try await tx.targets.save(Target(name: "payments-db", kind: .token, audience: "payments-db-api", maxTTL: 3600, maxTotal: 7200,
                                                 retroDeadline: 86400, requesters: []), by: "breakglass-bench", now: now)
        }
        let ladder = String(decoding: try JSONEncoder().encode(EscalationLadder.standard), as: UTF8.self)

        // A long settled history: every obligation approved, nothing left to fire.
        try await sql(database, """
            INSERT INTO sessions (id, user_id, target, credential_kind, reason, incident, state, activated_at, expires_at, hard_limit,
                                  retro_due_at, credential_ref)
            SELECT 'bg_H' || i, (SELECT id FROM users WHERE name = 'alice'), 'payments-db', 'token', 'benchmark history', 'INC-1',
                   'expired', \(now - 90 * 86400), \(now - 90 * 86400), \(now - 90 * 86400), \(now - 89 * 86400), '{}'::jsonb
            FROM generate_series(1, \(history)) AS i
            """)
        try await sql(database, """
            INSERT INTO retro_obligations (session_id, status, window_start, due_at, ladder, next_level, next_due_at)
            SELECT 'bg_H' || i, 'approved', \(now - 90 * 86400), \(now - 89 * 86400), \(ladder)::jsonb, 5, NULL
            FROM generate_series(1, \(history)) AS i
            """)
        try await sql(database, "ANALYZE retro_obligations")

        // 1. An idle tick over that history.
        var idle: [Duration] = []
        for _ in 0..<200 {
            let started = ContinuousClock.now
            _ = try await broker.fireDueEscalations()
            idle.append(ContinuousClock.now - started)
        }
        let plan = try await database.read { tx in
            var lines: [String] = []
            for try await line in try await tx.connection.query("""
                EXPLAIN SELECT session_id FROM retro_obligations WHERE next_due_at <= now() ORDER BY next_due_at LIMIT 100 FOR UPDATE SKIP LOCKED
                """, logger: BenchDatabase.logger).decode(String.self) {
                lines.append(line)
            }
            return lines.joined(separator: "\n")
        }
        let usesIndex = plan.contains("retro_obligations_next_due")

        // 2. A burst: `due` obligations a day past their deadline (5 rungs each: two moot reminders recorded as
        //    skipped, three escalations paged).
        try await sql(database, """
            INSERT INTO sessions (id, user_id, target, credential_kind, reason, incident, state, activated_at, expires_at, hard_limit,
                                  retro_due_at, credential_ref)
            SELECT 'bg_D' || i, (SELECT id FROM users WHERE name = 'alice'), 'payments-db', 'token', 'benchmark due', 'INC-2',
                   'expired', \(now - 2 * 86400 - 60), \(now - 2 * 86400), \(now - 2 * 86400), \(now - 86400 - 60), '{}'::jsonb
            FROM generate_series(1, \(due)) AS i
            """)
        try await sql(database, """
            INSERT INTO retro_obligations (session_id, status, window_start, due_at, ladder, next_level, next_due_at)
            SELECT 'bg_D' || i, 'owed', \(now - 2 * 86400 - 60), \(now - 86400 - 60), \(ladder)::jsonb, 0, \(now - 1.5 * 86400 - 60)
            FROM generate_series(1, \(due)) AS i
            """)
        let started = ContinuousClock.now
        while try await broker.fireDueEscalations() > 0 {}
        let burst = Latencies.milliseconds(ContinuousClock.now - started) / 1000
        let rungs = try await count(database, "SELECT count(*)::bigint FROM retro_escalations")
        let paged = try await count(database, "SELECT count(*)::bigint FROM outbox WHERE event_type LIKE 'retro.level%'")
        guard rungs == 5 * due, paged == 3 * due else {
            throw BenchFailure("the burst recorded \(rungs) rungs and \(paged) pages, not \(5 * due) and \(3 * due):\n\(plan)")
        }
        let ticks = Latencies(idle)
        print(String(format: "BENCH escalation: history=%d settled obligations; idle tick p50 %.2f ms, p99 %.2f ms (index on next_due_at: %@)",
                     history, ticks.percentile(0.5), ticks.percentile(0.99), usesIndex ? "yes" : "NO"))
        print(String(format: "BENCH escalation: burst of %d overdue obligations (%d rungs, %d pages) recorded in %.2f s = %.0f rungs/s",
                     due, rungs, paged, burst, Double(rungs) / burst))
        if !usesIndex { throw BenchFailure("the scheduler's claim does not read the next-due index:\n\(plan)") }
    }

    private func sql(_ database: Database, _ query: PostgresQuery) async throws {
        try await database.transaction { tx in _ = try await tx.connection.query(query, logger: BenchDatabase.logger).collect() }
    }

    private func count(_ database: Database, _ query: PostgresQuery) async throws -> Int {
        try await database.read { tx in
            var total = 0
            for try await value in try await tx.connection.query(query, logger: BenchDatabase.logger).decode(Int.self) { total = value }
            return total
        }
    }
}
