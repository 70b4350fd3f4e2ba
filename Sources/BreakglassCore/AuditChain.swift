import Crypto
import Foundation

/// One stored audit event with its place in the hash chain. `body` is the exact canonical JSON that was
/// hashed, so anyone can recompute `hash` without trusting our serializer.
public struct AuditChainRow: Codable, Equatable, Sendable {
    public var id: Int64
    public var shard: Int
    public var seq: Int64
    public var occurredAt: Date
    public var body: String
    public var prevHash: String
    public var hash: String

    public init(id: Int64, shard: Int, seq: Int64, occurredAt: Date, body: String, prevHash: String, hash: String) {
        self.id = id
        self.shard = shard
        self.seq = seq
        self.occurredAt = occurredAt
        self.body = body
        self.prevHash = prevHash
        self.hash = hash
    }
}

/// The newest link of one shard's chain. Kept outside the database, it proves later that no event
/// up to it was removed from the end.
public struct ChainHead: Codable, Equatable, Sendable {
    public var shard: Int
    public var seq: Int64
    public var hash: String

    public init(shard: Int, seq: Int64, hash: String) {
        self.shard = shard
        self.seq = seq
        self.hash = hash
    }
}

public struct BrokenLink: Codable, Equatable, Sendable {
    /// The event named as broken, or the last intact event when events are missing from the end.
    public var eventId: Int64?
    public var shard: Int
    public var seq: Int64
    public var problem: String
}

public struct AuditVerification: Codable, Equatable, Sendable {
    public var intact: Bool
    public var eventsChecked: Int
    public var firstBroken: BrokenLink?
    /// The first break of every broken shard, oldest event first.
    public var problems: [BrokenLink]
    public var heads: [ChainHead]
}

/// The audit log is split into a fixed number of independent hash chains ("shards") so concurrent writers
/// of different sessions do not queue on a single head lock. Each event hashes the previous event's hash of
/// its shard together with its own canonical body, which includes its shard and sequence number.
public enum AuditChain {
    public static let shardCount = 16
    public static let genesisHash = String(repeating: "0", count: 64)

    public static func shard(for key: String) -> Int {
        let digest = SHA256.hash(data: Data(key.utf8))
        return Int(Array(digest)[0] % UInt8(shardCount))
    }

    private struct CanonicalBody: Codable {
        var v: Int
        var shard: Int
        var seq: Int64
        var event: AuditEvent
    }

    private static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = Timestamp.encodingStrategy
        return encoder
    }()

    private static let decoder: JSONDecoder = {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = Timestamp.decodingStrategy
        return decoder
    }()

    /// Returns the canonical body and hash for `event` as entry `seq` of `shard`.
    public static func seal(_ event: AuditEvent, shard: Int, seq: Int64, prevHash: String) -> (body: String, hash: String) {
        // Encoding a struct of strings, dates and dictionaries cannot fail.
        let data = try! encoder.encode(CanonicalBody(v: 1, shard: shard, seq: seq, event: event))
        let body = String(decoding: data, as: UTF8.self)
        return (body, link(prevHash: prevHash, body: body))
    }

    /// One short string for all shard heads, for people to note down; the full heads are what verify needs.
    public static func digest(_ heads: [ChainHead]) -> String {
        let text = heads.sorted { $0.shard < $1.shard }.map { "\($0.shard):\($0.seq):\($0.hash)\n" }.joined()
        return SHA256.hash(data: Data(text.utf8)).hex
    }

    public static func link(prevHash: String, body: String) -> String {
        let digest = SHA256.hash(data: Data((prevHash + "\n" + body).utf8))
        return digest.hex
    }

    public static func decode(body: String) -> AuditEvent? {
        try? decoder.decode(CanonicalBody.self, from: Data(body.utf8)).event
    }

    /// Walks every shard from its genesis. `recordedHeads` are the heads the database keeps;
    /// `expectedHeads` are heads saved elsewhere earlier (e.g. from `breakglass audit head`).
    public static func verify(rows: [AuditChainRow], recordedHeads: [ChainHead]?, expectedHeads: [ChainHead] = []) -> AuditVerification {
        var byShard: [Int: [AuditChainRow]] = [:]
        for row in rows { byShard[row.shard, default: []].append(row) }
        var problems: [BrokenLink] = []
        var heads: [ChainHead] = []

        for shard in 0..<shardCount {
            let chain = (byShard.removeValue(forKey: shard) ?? []).sorted { ($0.seq, $0.id) < ($1.seq, $1.id) }
            if let broken = walk(shard: shard, chain: chain) {
                problems.append(broken)
                continue
            }
            let last = chain.last
            heads.append(ChainHead(shard: shard, seq: last?.seq ?? 0, hash: last?.hash ?? genesisHash))
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
        var prev = genesisHash
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
            if link(prevHash: row.prevHash, body: row.body) != row.hash {
                return broken("content was altered: its hash does not match its body")
            }
            guard let event = decode(body: row.body), row.body.contains("\"shard\":\(shard),"),
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
