import Foundation

/// Walks the audit chain one row at a time, holding only each shard's newest link, so a log of any size
/// is verified in constant memory. Rows of one shard must arrive in chain order, (seq, id) ascending, as
/// `ORDER BY shard, seq, id` and an `audit export` (id order; ids grow with seq inside a shard) deliver
/// them; rows of different shards may interleave freely.
///
/// A shard whose rows arrive out of that order is never reported intact: its verdict names the first row
/// that came too early, and `disorderedShards` lists it so a caller that can read its rows again may
/// verify once more with `reordering()`, which holds back and sorts only those shards' rows.
public struct AuditChainVerifier: Sendable {
    private var shards: [ShardWalk]
    /// Rows naming a shard outside 0..<shardCount: only the first, which the verdict names.
    private var strays: [Int: AuditChainRow] = [:]
    private let recordedHeads: [ChainHead]?
    private let expectedHeads: [ChainHead]
    /// Shards held back for sorting (second pass); empty on a first pass.
    private let sorting: Set<Int>
    private var heldBack: [AuditChainRow] = []
    /// Rows held for sorting, which tests compare with the disordered shards' size.
    var heldBackCount: Int { heldBack.count }
    public private(set) var eventsChecked = 0

    /// `recordedHeads` are the heads the database keeps; `expectedHeads` are heads saved elsewhere earlier
    /// (e.g. from `breakglass audit head`). They are needed before the walk to note the hashes they name.
    public init(recordedHeads: [ChainHead]?, expectedHeads: [ChainHead] = []) {
        self.init(recordedHeads: recordedHeads, expectedHeads: expectedHeads, sorting: [])
    }

    private init(recordedHeads: [ChainHead]?, expectedHeads: [ChainHead], sorting: Set<Int>) {
        self.recordedHeads = recordedHeads
        self.expectedHeads = expectedHeads
        self.sorting = sorting
        let named = (recordedHeads ?? []) + expectedHeads
        shards = (0..<AuditChain.shardCount).map { shard in
            ShardWalk(shard: shard, namedSeqs: Set(named.filter { $0.shard == shard && $0.seq > 0 }.map(\.seq)))
        }
    }

    /// Shards whose rows did not arrive in chain order; their verdict needs a second, sorting pass.
    public var disorderedShards: Set<Int> {
        Set(shards.filter { $0.disorder != nil }.map(\.shard))
    }

    /// A fresh verifier for a second pass over the same rows that sorts the disordered shards' rows (and
    /// holds only theirs in memory) before walking them.
    public func reordering() -> AuditChainVerifier {
        AuditChainVerifier(recordedHeads: recordedHeads, expectedHeads: expectedHeads, sorting: disorderedShards)
    }

    public mutating func feed(_ row: AuditChainRow) {
        eventsChecked += 1
        guard shards.indices.contains(row.shard) else {
            if strays[row.shard] == nil { strays[row.shard] = row }
            return
        }
        if sorting.contains(row.shard) {
            heldBack.append(row)
            return
        }
        shards[row.shard].feed(row)
    }

    /// The verdict on every row fed so far.
    public func finish() -> AuditVerification {
        var walks = shards
        for row in heldBack.sorted(by: { ($0.seq, $0.id) < ($1.seq, $1.id) }) {
            walks[row.shard].feed(row)
        }
        var problems: [BrokenLink] = []
        var heads: [ChainHead] = []
        for walk in walks {
            if let broken = walk.disorder ?? walk.broken {
                problems.append(broken)
                continue
            }
            heads.append(walk.head)
            if let recorded = recordedHeads?.first(where: { $0.shard == walk.shard }),
               let broken = walk.compare(with: recorded, source: "the recorded chain head") {
                problems.append(broken)
                continue
            }
            for expected in expectedHeads where expected.shard == walk.shard {
                if let broken = walk.compare(with: expected, source: "the saved chain head") {
                    problems.append(broken)
                    break
                }
            }
        }
        for (shard, row) in strays.sorted(by: { $0.key < $1.key }) {
            problems.append(BrokenLink(eventId: row.id, shard: shard, seq: row.seq,
                                       problem: "event claims shard \(shard), which does not exist"))
        }
        problems.sort { ($0.eventId ?? .max) < ($1.eventId ?? .max) }
        return AuditVerification(intact: problems.isEmpty, eventsChecked: eventsChecked, firstBroken: problems.first,
                                 problems: problems, heads: heads)
    }
}

extension AuditChainVerifier {
    /// Verifies the rows `read` hands to its argument, reading them a second time (sorting only the shards
    /// that need it) when some shard's rows arrive out of chain order.
    public static func verify(recordedHeads: [ChainHead]?, expectedHeads: [ChainHead] = [],
                              read: (_ feed: (AuditChainRow) -> Void) throws -> Void) rethrows -> AuditVerification {
        var verifier = AuditChainVerifier(recordedHeads: recordedHeads, expectedHeads: expectedHeads)
        try read { verifier.feed($0) }
        if !verifier.disorderedShards.isEmpty {
            verifier = verifier.reordering()
            try read { verifier.feed($0) }
        }
        return verifier.finish()
    }

    /// The same, for rows read asynchronously (pages fetched over the network).
    public static func verify(recordedHeads: [ChainHead]?, expectedHeads: [ChainHead] = [],
                              read: (_ feed: (AuditChainRow) -> Void) async throws -> Void) async rethrows -> AuditVerification {
        var verifier = AuditChainVerifier(recordedHeads: recordedHeads, expectedHeads: expectedHeads)
        try await read { verifier.feed($0) }
        if !verifier.disorderedShards.isEmpty {
            verifier = verifier.reordering()
            try await read { verifier.feed($0) }
        }
        return verifier.finish()
    }
}

/// One shard's walk from its genesis: what the next row must link to, and the first break found.
private struct ShardWalk: Sendable {
    let shard: Int
    /// Sequence numbers named by heads, whose hashes the comparison with those heads needs.
    let namedSeqs: Set<Int64>
    var expectedSeq: Int64 = 1
    var prevHash = AuditChain.genesisHash
    var previousId: Int64?
    var broken: BrokenLink?
    /// The first row that arrived before a row it follows in chain order.
    var disorder: BrokenLink?
    var lastKey: (seq: Int64, id: Int64)?
    var last: (id: Int64, seq: Int64, hash: String)?
    var namedRows: [Int64: (id: Int64, hash: String)] = [:]

    init(shard: Int, namedSeqs: Set<Int64>) {
        self.shard = shard
        self.namedSeqs = namedSeqs
    }

    var head: ChainHead {
        ChainHead(shard: shard, seq: last?.seq ?? 0, hash: last?.hash ?? AuditChain.genesisHash)
    }

    mutating func feed(_ row: AuditChainRow) {
        // Order is watched even past a break: an early row arriving late could hold an earlier break.
        if let lastKey, (row.seq, row.id) < lastKey, disorder == nil {
            disorder = BrokenLink(eventId: row.id, shard: shard, seq: row.seq,
                                  problem: "arrived after sequence \(lastKey.seq) (event \(lastKey.id)) of shard \(shard): "
                                      + "the rows are not in chain order, so this chain was not walked")
        }
        lastKey = (row.seq, row.id)
        guard broken == nil, disorder == nil else { return }
        if let problem = check(row) {
            broken = BrokenLink(eventId: row.id, shard: shard, seq: row.seq, problem: problem)
            return
        }
        if namedSeqs.contains(row.seq), namedRows[row.seq] == nil { namedRows[row.seq] = (row.id, row.hash) }
        prevHash = row.hash
        expectedSeq += 1
        previousId = row.id
        last = (row.id, row.seq, row.hash)
    }

    /// Why `row` cannot be the next link, or nil when it is.
    private func check(_ row: AuditChainRow) -> String? {
        if row.seq > expectedSeq {
            return "events \(expectedSeq)…\(row.seq - 1) of shard \(shard) before this one are missing (deleted)"
        }
        if row.seq < expectedSeq {
            return "sequence number \(row.seq) appears twice in shard \(shard) (inserted or reordered)"
        }
        if row.prevHash != prevHash {
            let before = previousId.map { "event \($0)" } ?? "the chain's start"
            return "does not link to \(before): an event was inserted, reordered, removed or rewritten"
        }
        if !AuditChain.links(prevHash: row.prevHash, body: row.body, to: row.hash) {
            return "content was altered: its hash does not match its body"
        }
        guard let at = AuditBodyCheck.sealedTime(body: row.body, shard: shard, seq: row.seq) else {
            return "body is not a well-formed audit event for shard \(shard), sequence \(row.seq)"
        }
        if abs(at.timeIntervalSince(row.occurredAt)) >= 0.001 {
            return "occurred_at column was altered: it differs from the hashed time \(Timestamp.format(at))"
        }
        return nil
    }

    /// Compares the walked chain's end with a head kept elsewhere.
    func compare(with head: ChainHead, source: String) -> BrokenLink? {
        let lastSeq = last?.seq ?? 0
        if head.seq > lastSeq {
            return BrokenLink(eventId: last?.id, shard: shard, seq: lastSeq + 1,
                              problem: "events \(lastSeq + 1)…\(head.seq) of shard \(shard) named by \(source) are missing (deleted from the end)")
        }
        if head.seq == 0 { return nil }
        guard let row = namedRows[head.seq] else { return nil }
        if row.hash != head.hash {
            return BrokenLink(eventId: row.id, shard: shard, seq: head.seq,
                              problem: "hash differs from \(source): the chain was rewritten up to here")
        }
        return nil
    }
}
