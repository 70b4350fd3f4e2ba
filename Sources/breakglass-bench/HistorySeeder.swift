import BreakglassCore
import BreakglassStore
import Foundation
import Logging
import PostgresNIO

/// Loads a `ScaleHistory` into the broker's database with COPY, in one transaction that holds every audit
/// shard head locked: the events are sealed with the core's `AuditChain.seal` as the next links of the real
/// chains, and the heads moved to their ends, so `audit verify` and the broker's next appends find one valid
/// log. Nothing goes through HTTP: a million events through the API would take hours and measure nothing.
enum HistorySeeder {
    struct Request {
        var target: String
        var sessions: Int
        var events: Int
        var queue: Int
    }

    static func seed(_ request: Request, environment: [String: String]) async throws {
        let started = ContinuousClock.now
        let written = try await BenchDatabase.with(environment, for: "seed-history") { database in
            try await database.transaction { tx in try await load(request, on: tx.connection) }
        }
        let seconds = (ContinuousClock.now - started) / .seconds(1)
        print(String(format: "seeded sessions %d events %d rows %d seconds %.1f", request.sessions, request.events, written, seconds))
    }

    /// Returns how many rows were written, over every table.
    private static func load(_ request: Request, on connection: PostgresConnection) async throws -> Int {
        let logger = BenchDatabase.logger
        // Locked first and in shard order, as the broker's batch append locks them: appends wait until the commit.
        var heads: [ChainHead] = []
        for try await (shard, seq, hash) in try await connection.query(
            "SELECT shard, seq, hash FROM audit_chain_heads ORDER BY shard FOR UPDATE", logger: logger).decode((Int, Int64, String).self) {
            heads.append(ChainHead(shard: shard, seq: seq, hash: hash))
        }
        guard heads.map(\.shard) == Array(0..<AuditChain.shardCount) else { throw BenchFailure("the audit chain heads are not 0..<16") }
        var requesters: [ScaleHistory.Requester] = []
        for try await (id, name) in try await connection.query(
            "SELECT id, name FROM users WHERE 'engineer' = ANY(roles) ORDER BY name", logger: logger).decode((UUID, String).self) {
            requesters.append(.init(id: id, name: name))
        }
        var reviewer = "compliance"
        for try await name in try await connection.query(
            "SELECT name FROM users WHERE 'compliance' = ANY(roles) ORDER BY name LIMIT 1", logger: logger).decode(String.self) {
            reviewer = name
        }
        var found: (String, String)?
        for try await row in try await connection.query(
            "SELECT kind, audience FROM targets WHERE name = \(request.target)", logger: logger).decode((String, String).self) {
            found = row
        }
        guard let (kind, audience) = found else { throw BenchFailure("seed-history: no target named \(request.target)") }
        var channels: [UUID] = []
        for try await id in try await connection.query("SELECT id FROM channels ORDER BY name", logger: logger).decode(UUID.self) {
            channels.append(id)
        }

        let history = try ScaleHistory(count: request.sessions, events: request.events, queue: request.queue, requesters: requesters,
                                       target: request.target, kind: kind, audience: audience, reviewer: reviewer, now: Date())
        var written = 0
        func copy<Rows: Sequence<[CopyField]>>(_ table: String, _ columns: [String], _ rows: Rows) async throws {
            try await connection.copyFrom(table: table, columns: columns, logger: logger) { writer in
                var out = CopyRows()
                for row in rows {
                    out.append(row)
                    written += 1
                    if out.isFull { try await writer.write(out.take()) }
                }
                try await writer.write(out.take())
            }
        }
        let sessions = history.sessions
        let ladder = String(decoding: try JSONEncoder().encode(history.ladder), as: UTF8.self)
        try await copy("sessions", ["id", "user_id", "target", "credential_kind", "reason", "incident", "state", "activated_at", "expires_at",
                                    "hard_limit", "retro_due_at", "closed_at", "closed_by", "close_reason", "credential_ref", "client_address",
                                    "user_agent"],
                       sessions.lazy.map { s in
                           [CopyField(s.id), CopyField(s.requester.id), CopyField(history.target), CopyField(kind),
                            "INC lock pile-up on \"payments\", kill blockers", "INC-4521", CopyField(s.state), CopyField(s.activatedAt),
                            CopyField(s.expiresAt), CopyField(s.activatedAt + 3600), CopyField(s.dueAt), CopyField(s.closedAt),
                            CopyField(s.closedBy), CopyField(s.closeReason),
                            .json(["kind": kind, "keyId": "bench", "tokenId": s.id, "audience": audience]), "10.20.1.1", "breakglass-cli/1"]
                       })
        try await copy("retro_obligations", ["session_id", "status", "window_start", "due_at", "ladder", "next_level", "next_due_at", "pr_url",
                                             "pr_source", "linked_at", "linked_by", "first_linked_at", "reviewed_at", "reviewed_by", "review_note",
                                             "last_rejection"],
                       sessions.lazy.map { s in
                           [CopyField(s.id), CopyField(s.status.rawValue), CopyField(s.activatedAt), CopyField(s.dueAt), CopyField(ladder),
                            CopyField(s.nextLevel), CopyField(s.nextDueAt), CopyField(s.prURL), CopyField(s.prURL == nil ? nil : "cli"),
                            CopyField(s.linkedAt), CopyField(s.linkedAt == nil ? nil : s.requester.name), CopyField(s.linkedAt),
                            CopyField(s.reviewedAt), CopyField(s.reviewer), CopyField(s.reviewNote), CopyField(s.lastRejection)]
                       })
        try await copy("retro_escalations", ["session_id", "level", "rung", "scheduled_at", "fired_at", "outcome"],
                       sessions.lazy.flatMap { s in
                           s.rungs.map { [CopyField(s.id), CopyField($0.level), CopyField($0.name), CopyField($0.scheduledAt),
                                          CopyField($0.scheduledAt + 1), $0.paged ? "paged" : "skipped"] }
                       })
        try await copy("retro_reviews", ["session_id", "decision", "reviewer", "note", "pr_url", "decided_at"],
                       sessions.lazy.flatMap { s in
                           s.reviews.map { [CopyField(s.id), CopyField($0.decision), CopyField(history.reviewer), CopyField($0.note),
                                            CopyField(s.prURL), CopyField($0.at)] }
                       })
        try await copy("outbox", ["id", "event_type", "session_id", "target", "payload", "created_at", "fanned_out_at"],
                       sessions.lazy.flatMap { s in
                           s.pages.map { [CopyField($0.id), CopyField($0.type), CopyField(s.id), CopyField(history.target), .json($0.payload),
                                          CopyField($0.at), CopyField($0.at)] }
                       })
        // Every page was delivered to every channel there is, a few after one retry; the receivers answered 200.
        let deliveries = sessions.flatMap { s in s.pages.flatMap { page in channels.map { (page, $0, UUID()) } } }
        try await copy("deliveries", ["id", "outbox_id", "channel_id", "state", "attempts", "next_attempt_at", "created_at", "finished_at"],
                       deliveries.lazy.map { page, channel, id in
                           [CopyField(id), CopyField(page.id), CopyField(channel), "delivered", CopyField(page.retried ? 2 : 1),
                            CopyField(page.at), CopyField(page.at), CopyField(page.at + (page.retried ? 31 : 1))]
                       })
        try await copy("delivery_attempts", ["delivery_id", "attempted_at", "latency_ms", "status_code", "outcome", "error_class", "instance"],
                       deliveries.lazy.flatMap { page, _, id in
                           (page.retried ? [[CopyField(id), CopyField(page.at + 1), "5000", .null, "retry", "timeout", "bench-seed"]] : [])
                               + [[CopyField(id), CopyField(page.at + (page.retried ? 31 : 1)), "120", "200", "delivered", .null, "bench-seed"]]
                       })

        // The events, sealed as the next links of their shards, in each shard's order.
        var chain = heads
        try await copy("audit_events", ["shard", "seq", "occurred_at", "body", "prev_hash", "hash"],
                       sessions.lazy.flatMap { history.events(of: $0) }.map { event -> [CopyField] in
                           let shard = AuditChain.shard(for: event.shardKey)
                           let previous = chain[shard]
                           let sealed = AuditChain.seal(event, shard: shard, seq: previous.seq + 1, prevHash: previous.hash)
                           chain[shard] = ChainHead(shard: shard, seq: previous.seq + 1, hash: sealed.hash)
                           return [CopyField(shard), CopyField(previous.seq + 1), CopyField(event.at), CopyField(sealed.body),
                                   CopyField(previous.hash), CopyField(sealed.hash)]
                       })
        let moved = chain.filter { $0 != heads[$0.shard] }
        _ = try await connection.query("""
            UPDATE audit_chain_heads h SET seq = m.seq, hash = m.hash
            FROM unnest(\(moved.map(\.shard))::smallint[], \(moved.map(\.seq))::bigint[], \(moved.map(\.hash))::text[]) AS m(shard, seq, hash)
            WHERE h.shard = m.shard
            """, logger: logger).collect()
        return written
    }
}
