import BreakglassCore
import Foundation
import PostgresNIO

/// An event sealed as the next link of its shard, whose head the transaction holds locked.
struct AuditLink {
    var shard: Int
    var seq: Int64
    var prevHash: String
    var body: String
    var hash: String
}

/// The tamper-evident audit log: append-only chains, one per shard, and the reads that verify them.
public struct AuditLog: Repository {
    let tx: Tx

    /// Appends `event` to its shard's chain. Only that shard's head row is locked, until the surrounding
    /// transaction commits, so writers of other shards proceed in parallel. Call it last in a transaction
    /// to keep the lock short.
    @discardableResult
    public func append(_ event: AuditEvent) async throws -> Int64 {
        let link = try await nextLink(for: event)
        var id: Int64 = 0
        for try await value in try await query("""
            WITH head AS (UPDATE audit_chain_heads SET seq = \(link.seq), hash = \(link.hash) WHERE shard = \(link.shard))
            INSERT INTO audit_events (shard, seq, occurred_at, body, prev_hash, hash)
            VALUES (\(link.shard), \(link.seq), \(event.at), \(link.body), \(link.prevHash), \(link.hash)) RETURNING id
            """).decode(Int64.self) {
            id = value
        }
        return id
    }

    /// Locks `event`'s shard head and seals the event as its next link, for the caller to write with the
    /// head's update in one statement.
    func nextLink(for event: AuditEvent) async throws -> AuditLink {
        let shard = AuditChain.shard(for: event.shardKey)
        let (seq, prevHash) = try await lockAuditHead(shard: shard)
        let sealed = AuditChain.seal(event, shard: shard, seq: seq + 1, prevHash: prevHash)
        return AuditLink(shard: shard, seq: seq + 1, prevHash: prevHash, body: sealed.body, hash: sealed.hash)
    }

    /// The shard's head (sequence number and hash), locked until the transaction ends.
    private func lockAuditHead(shard: Int) async throws -> (seq: Int64, hash: String) {
        for try await row in try await query(
            "SELECT seq, hash FROM audit_chain_heads WHERE shard = \(shard) FOR UPDATE").decode((Int64, String).self) {
            return row
        }
        throw BreakglassError(.internalFailure, "audit_head_missing", "audit chain head for shard \(shard) is missing")
    }

    /// Appends events in their order, as `append` one by one would, with one head lock and one statement
    /// (the INSERT with the head's update) per shard instead of two statements per event: what lets the
    /// recording proxy commit a group of statements in a few round trips. Shards are locked in ascending
    /// order, so two batches never wait on each other's heads in a cycle.
    public func append(batch events: [AuditEvent]) async throws {
        let byShard = Dictionary(grouping: events) { AuditChain.shard(for: $0.shardKey) }
        for shard in byShard.keys.sorted() {
            var (seq, prevHash) = try await lockAuditHead(shard: shard)
            var seqs: [Int64] = [], times: [Date] = [], bodies: [String] = [], links: [String] = [], hashes: [String] = []
            for event in byShard[shard] ?? [] {
                seq += 1
                let sealed = AuditChain.seal(event, shard: shard, seq: seq, prevHash: prevHash)
                seqs.append(seq)
                times.append(event.at)
                bodies.append(sealed.body)
                links.append(prevHash)
                hashes.append(sealed.hash)
                prevHash = sealed.hash
            }
            // WITH ORDINALITY and ORDER BY: ids are drawn in chain order, like one INSERT per event.
            try await execute("""
                WITH head AS (UPDATE audit_chain_heads SET seq = \(seq), hash = \(prevHash) WHERE shard = \(shard))
                INSERT INTO audit_events (shard, seq, occurred_at, body, prev_hash, hash)
                SELECT \(shard), u.seq, u.occurred_at, u.body, u.prev_hash, u.hash
                FROM unnest(\(seqs)::bigint[], \(times)::timestamptz[], \(bodies)::text[], \(links)::text[], \(hashes)::text[])
                     WITH ORDINALITY AS u(seq, occurred_at, body, prev_hash, hash, n)
                ORDER BY u.n
                """)
        }
    }

    /// Rows in chain order for verification or export, optionally limited to a time range or one session.
    public func rows(from: Date? = nil, until: Date? = nil, sessionId: String? = nil, afterId: Int64 = 0,
                     limit: Int = 100_000) async throws -> [AuditChainRow] {
        let rows = try await query("""
            SELECT id, shard, seq, occurred_at, body, prev_hash, hash FROM audit_events
            WHERE id > \(afterId)
              AND (\(from)::timestamptz IS NULL OR occurred_at >= \(from))
              AND (\(until)::timestamptz IS NULL OR occurred_at < \(until))
              AND (\(sessionId)::text IS NULL OR session_id = \(sessionId))
            ORDER BY id LIMIT \(limit)
            """)
        var out: [AuditChainRow] = []
        for try await (id, shard, seq, at, body, prev, hash) in rows.decode((Int64, Int, Int64, Date, String, String, String).self) {
            out.append(AuditChainRow(id: id, shard: shard, seq: seq, occurredAt: at, body: body, prevHash: prev, hash: hash))
        }
        return out
    }

    /// Every row in chain order, shard by shard, handed over as PostgreSQL sends them (the row sequence
    /// reads ahead a bounded amount), so the whole log is never held. Run it in a snapshot so rows and heads agree.
    func forEachRowInChainOrder(_ body: (AuditChainRow) throws -> Void) async throws {
        let rows = try await query("SELECT id, shard, seq, occurred_at, body, prev_hash, hash FROM audit_events ORDER BY shard, seq, id")
        for try await (id, shard, seq, at, text, prev, hash) in rows.decode((Int64, Int, Int64, Date, String, String, String).self) {
            try body(AuditChainRow(id: id, shard: shard, seq: seq, occurredAt: at, body: text, prevHash: prev, hash: hash))
        }
    }

    /// Walks the whole chain and compares its end with the recorded heads and `expectedHeads` (saved elsewhere
    /// earlier). Must run first in its transaction: one read-only snapshot, so events committing meanwhile cannot look
    /// like gaps. Rows are streamed into the verifier, so memory stays constant however long the log grows.
    public func verify(expectedHeads: [ChainHead] = []) async throws -> AuditVerification {
        try await tx.beginSnapshot()
        let heads = try await heads()
        return try await AuditChainVerifier.verify(recordedHeads: heads, expectedHeads: expectedHeads) { feed in
            try await forEachRowInChainOrder(feed)
        }
    }

    /// Every row of a session's shard from its first event up to the shard's head, and that head: the
    /// segment an evidence pack carries as its chain proof. Run it in a snapshot so rows and head agree.
    public func chainSegment(sessionId: String) async throws -> (shard: Int, rows: [AuditChainRow], head: ChainHead) {
        let shard = AuditChain.shard(for: sessionId)
        let rows = try await query("""
            SELECT id, shard, seq, occurred_at, body, prev_hash, hash FROM audit_events
            WHERE shard = \(shard) AND seq >= (SELECT coalesce(min(seq), 0) FROM audit_events WHERE shard = \(shard) AND session_id = \(sessionId))
            ORDER BY seq
            """)
        var out: [AuditChainRow] = []
        for try await (id, shard, seq, at, body, prev, hash) in rows.decode((Int64, Int, Int64, Date, String, String, String).self) {
            out.append(AuditChainRow(id: id, shard: shard, seq: seq, occurredAt: at, body: body, prevHash: prev, hash: hash))
        }
        let head = try await heads().first { $0.shard == shard } ?? ChainHead(shard: shard, seq: 0, hash: AuditChain.genesisHash)
        return (shard, out, head)
    }

    public func heads() async throws -> [ChainHead] {
        var heads: [ChainHead] = []
        for try await (shard, seq, hash) in try await query(
            "SELECT shard, seq, hash FROM audit_chain_heads ORDER BY shard").decode((Int, Int64, String).self) {
            heads.append(ChainHead(shard: shard, seq: seq, hash: hash))
        }
        return heads
    }
}
