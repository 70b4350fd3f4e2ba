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
        let body = CanonicalAuditBody.write(event, shard: shard, seq: seq) ?? encodedBody(event, shard: shard, seq: seq)
        return (body, link(prevHash: prevHash, body: body))
    }

    /// The canonical body of `event` as the next entry of `shard`, before its seq is known: the text before the seq's
    /// digits and the text after them. Whoever holds the shard's head puts its next seq between the two
    /// (`before + String(seq) + after` is the body `seal` writes), as activation's one statement does in the database.
    public static func bodyAroundSeq(_ event: AuditEvent, shard: Int) -> (before: String, after: String) {
        let marker = Int64.max
        let body = CanonicalAuditBody.write(event, shard: shard, seq: marker) ?? encodedBody(event, shard: shard, seq: marker)
        // The top-level seq follows the event object (keys are sorted), so it is the last such member: inside the event
        // a quote would be escaped, and a detail is a string, never this number.
        let member = ",\"seq\":\(marker),"
        guard let found = body.range(of: member, options: .backwards) else {
            preconditionFailure("a canonical audit body without its seq member")
        }
        return (String(body[..<found.lowerBound]) + ",\"seq\":", "," + String(body[found.upperBound...]))
    }

    /// The body as the encoder writes it: the reference `CanonicalAuditBody` matches, and the way for events it declines.
    static func encodedBody(_ event: AuditEvent, shard: Int, seq: Int64) -> String {
        // Encoding a struct of strings, dates and dictionaries cannot fail.
        String(decoding: try! encoder.encode(CanonicalBody(v: 1, shard: shard, seq: seq, event: event)), as: UTF8.self)
    }

    /// One short string for all shard heads, for people to note down; the full heads are what verify needs.
    public static func digest(_ heads: [ChainHead]) -> String {
        let text = heads.sorted { $0.shard < $1.shard }.map { "\($0.shard):\($0.seq):\($0.hash)\n" }.joined()
        return SHA256.hash(data: Data(text.utf8)).hex
    }

    public static func link(prevHash: String, body: String) -> String {
        linkDigest(prevHash: prevHash, body: body).hex
    }

    /// Whether `hash` is the link of `body` to `prevHash`, compared without building the hex string.
    public static func links(prevHash: String, body: String, to hash: String) -> Bool {
        linkDigest(prevHash: prevHash, body: body).withUnsafeBytes { Hex.matches($0, hash) }
    }

    /// The digest of `prevHash + "\n" + body`, hashed in pieces rather than concatenated first.
    private static func linkDigest(prevHash: String, body: String) -> SHA256.Digest {
        var hasher = SHA256()
        func update(_ part: String) {
            if part.utf8.withContiguousStorageIfAvailable({ hasher.update(bufferPointer: UnsafeRawBufferPointer($0)) }) == nil {
                hasher.update(data: Array(part.utf8))
            }
        }
        update(prevHash)
        update("\n")
        update(body)
        return hasher.finalize()
    }

    public static func decode(body: String) -> AuditEvent? {
        try? decoder.decode(CanonicalBody.self, from: Data(body.utf8)).event
    }

    /// Walks every shard from its genesis. `recordedHeads` are the heads the database keeps;
    /// `expectedHeads` are heads saved elsewhere earlier (e.g. from `breakglass audit head`). Rows may come
    /// in any order; `AuditChainVerifier` walks a log too large to hold.
    public static func verify(rows: [AuditChainRow], recordedHeads: [ChainHead]?, expectedHeads: [ChainHead] = []) -> AuditVerification {
        AuditChainVerifier.verify(recordedHeads: recordedHeads, expectedHeads: expectedHeads) { feed in
            for row in rows { feed(row) }
        }
    }
}
