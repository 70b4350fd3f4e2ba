@testable import BreakglassCore
import Foundation

/// The whole-chain walk verify used before it streamed, kept as it was (names qualified) as the yardstick the streaming
/// verifier is held to: every row in memory, grouped per shard and sorted.
enum ReferenceVerifier {
    static func verify(rows: [AuditChainRow], recordedHeads: [ChainHead]?, expectedHeads: [ChainHead] = []) -> AuditVerification {
        var byShard: [Int: [AuditChainRow]] = [:]
        for row in rows { byShard[row.shard, default: []].append(row) }
        var problems: [BrokenLink] = []
        var heads: [ChainHead] = []

        for shard in 0..<AuditChain.shardCount {
            let chain = (byShard.removeValue(forKey: shard) ?? []).sorted { ($0.seq, $0.id) < ($1.seq, $1.id) }
            if let broken = walk(shard: shard, chain: chain) {
                problems.append(broken)
                continue
            }
            let last = chain.last
            heads.append(ChainHead(shard: shard, seq: last?.seq ?? 0, hash: last?.hash ?? AuditChain.genesisHash))
            if let recorded = recordedHeads?.first(where: { $0.shard == shard }),
               let broken = compare(chain: chain, shard: shard, head: recorded, source: "the recorded chain head") {
                problems.append(broken)
                continue
            }
            for expected in expectedHeads where expected.shard == shard {
                if let broken = compare(chain: chain, shard: shard, head: expected, source: "the saved chain head") {
                    problems.append(broken)
                    break
                }
            }
        }
        for (shard, chain) in byShard {
            problems.append(BrokenLink(eventId: chain.first?.id, shard: shard, seq: chain.first?.seq ?? 0,
                                       problem: "event claims shard \(shard), which does not exist"))
        }
        problems.sort { ($0.eventId ?? .max) < ($1.eventId ?? .max) }
        return AuditVerification(intact: problems.isEmpty, eventsChecked: rows.count, firstBroken: problems.first,
                                 problems: problems, heads: heads)
    }

    private static func walk(shard: Int, chain: [AuditChainRow]) -> BrokenLink? {
        var prev = AuditChain.genesisHash
        var expectedSeq: Int64 = 1
        var previousId: Int64?
        for row in chain {
            func broken(_ problem: String) -> BrokenLink {
                BrokenLink(eventId: row.id, shard: shard, seq: row.seq, problem: problem)
            }
            if row.seq > expectedSeq {
                return broken("events \(expectedSeq)…\(row.seq - 1) of shard \(shard) before this one are missing (deleted)")
            }
            if row.seq < expectedSeq {
                return broken("sequence number \(row.seq) appears twice in shard \(shard) (inserted or reordered)")
            }
            if row.prevHash != prev {
                let before = previousId.map { "event \($0)" } ?? "the chain's start"
                return broken("does not link to \(before): an event was inserted, reordered, removed or rewritten")
            }
            if AuditChain.link(prevHash: row.prevHash, body: row.body) != row.hash {
                return broken("content was altered: its hash does not match its body")
            }
            guard let event = AuditChain.decode(body: row.body), row.body.contains("\"shard\":\(shard),"),
                  row.body.contains("\"seq\":\(row.seq),") else {
                return broken("body is not a well-formed audit event for shard \(shard), sequence \(row.seq)")
            }
            if abs(event.at.timeIntervalSince(row.occurredAt)) >= 0.001 {
                return broken("occurred_at column was altered: it differs from the hashed time \(Timestamp.format(event.at))")
            }
            prev = row.hash
            expectedSeq += 1
            previousId = row.id
        }
        return nil
    }

    private static func compare(chain: [AuditChainRow], shard: Int, head: ChainHead, source: String) -> BrokenLink? {
        let last = chain.last
        let lastSeq = last?.seq ?? 0
        if head.seq > lastSeq {
            return BrokenLink(eventId: last?.id, shard: shard, seq: lastSeq + 1,
                              problem: "events \(lastSeq + 1)…\(head.seq) of shard \(shard) named by \(source) are missing (deleted from the end)")
        }
        if head.seq == 0 { return nil }
        guard let row = chain.first(where: { $0.seq == head.seq }) else { return nil }
        if row.hash != head.hash {
            return BrokenLink(eventId: row.id, shard: shard, seq: row.seq,
                              problem: "hash differs from \(source): the chain was rewritten up to here")
        }
        return nil
    }
}
