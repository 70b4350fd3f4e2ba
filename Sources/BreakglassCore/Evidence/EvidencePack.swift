import Foundation

/// One link of a session's audit chain segment. Bodies are included for the session's own events only;
/// other events in the segment contribute their hashes, which is all the linkage needs.
public struct ProofLink: Codable, Sendable, Equatable {
    public var seq: Int64
    public var prevHash: String
    public var hash: String
    public var body: String?

    public init(seq: Int64, prevHash: String, hash: String, body: String?) {
        self.seq = seq
        self.prevHash = prevHash
        self.hash = hash
        self.body = body
    }
}

/// Proves a session's events are in the tamper-evident log: every link of their shard from the first of
/// them to the shard's head at export time. The head can be compared with one saved by `audit head`.
public struct ChainProof: Codable, Sendable, Equatable {
    public var shard: Int
    public var head: ChainHead
    public var links: [ProofLink]

    /// `rows` are the shard's rows from the session's first event up to the head, in sequence order.
    public static func make(sessionId: String, shard: Int, rows: [AuditChainRow], head: ChainHead) -> ChainProof {
        let links = rows.map { row in
            ProofLink(seq: row.seq, prevHash: row.prevHash, hash: row.hash,
                      body: AuditChain.decode(body: row.body)?.sessionId == sessionId ? row.body : nil)
        }
        return ChainProof(shard: shard, head: head, links: links)
    }

    /// The control ids the proven events evidence, sorted.
    public static func controls(of events: [AuditEvent]) -> [String] {
        Array(Set(events.flatMap(\.controls))).sorted()
    }

    /// Problems found; empty when every session event hashes correctly and the links join up to the head.
    public func verify(sessionId: String) -> (problems: [String], events: [AuditEvent]) {
        var problems: [String] = []
        var events: [AuditEvent] = []
        guard AuditChain.shard(for: sessionId) == shard else {
            return (["the proof is for shard \(shard), but \(sessionId)'s events are in shard \(AuditChain.shard(for: sessionId))"], [])
        }
        for (index, link) in links.enumerated() {
            if index > 0 {
                let previous = links[index - 1]
                if link.seq != previous.seq + 1 { problems.append("seq \(link.seq) does not follow seq \(previous.seq)") }
                if link.prevHash != previous.hash { problems.append("seq \(link.seq) does not link to seq \(previous.seq)") }
            }
            guard let body = link.body else { continue }
            if AuditChain.link(prevHash: link.prevHash, body: body) != link.hash {
                problems.append("seq \(link.seq): the event body does not hash to its recorded hash (altered)")
            }
            guard let event = AuditChain.decode(body: body) else {
                problems.append("seq \(link.seq): the event body is not an audit event")
                continue
            }
            if event.sessionId != sessionId { problems.append("seq \(link.seq) is not an event of \(sessionId)") }
            if !body.contains("\"seq\":\(link.seq),") || !body.contains("\"shard\":\(shard),") {
                problems.append("seq \(link.seq): the body names another place in the chain")
            }
            events.append(event)
        }
        if let last = links.last {
            if last.seq != head.seq || last.hash != head.hash || head.shard != shard {
                problems.append("the segment ends at seq \(last.seq), not at the exported head (seq \(head.seq))")
            }
        } else {
            problems.append("the proof has no links")
        }
        return (problems, events)
    }
}

public struct EvidenceVerification: Codable, Sendable, Equatable {
    public var intact: Bool
    public var sessionId: String?
    public var packSha256: String
    public var eventsProven: Int
    public var controls: [String]
    public var problems: [String]
}

/// An evidence pack is one JSON document; `pack_sha256` is the SHA-256 of the RFC 8785 canonical form of
/// the document without that member.
public enum EvidencePack {
    public static let hashMember = "pack_sha256"

    public static func seal(_ document: JSONValue) -> JSONValue {
        guard case .object(var members) = document else { return document }
        members.removeValue(forKey: hashMember)
        let hash = JSONValue.object(members).sha256
        members[hashMember] = .string(hash)
        return .object(members)
    }

    public static func verify(_ data: Data) -> EvidenceVerification {
        let decoder = JSONDecoder()
        guard let document = try? decoder.decode(JSONValue.self, from: data), case .object(var members) = document else {
            return EvidenceVerification(intact: false, sessionId: nil, packSha256: "", eventsProven: 0, controls: [],
                                        problems: ["the file is not a JSON evidence pack"])
        }
        var problems: [String] = []
        let claimed = members.removeValue(forKey: hashMember)?.stringValue ?? ""
        let actual = JSONValue.object(members).sha256
        if claimed != actual { problems.append("pack_sha256 does not match the pack's content (the pack was altered)") }
        let sessionId = document["session"]?["id"]?.stringValue
        var proven = 0
        var controls: [String] = []
        if let sessionId, let proofValue = document["audit"]?["proof"],
           let proofData = try? JSONEncoder().encode(proofValue) {
            let snake = JSONDecoder()
            snake.keyDecodingStrategy = .convertFromSnakeCase
            if let proof = try? snake.decode(ChainProof.self, from: proofData) {
                let (chainProblems, events) = proof.verify(sessionId: sessionId)
                problems += chainProblems
                proven = events.count
                controls = ChainProof.controls(of: events)
                let listed = document["controls"].flatMap { value -> [String]? in
                    if case .array(let items) = value { return items.compactMap(\.stringValue) }
                    return nil
                } ?? []
                if listed != controls { problems.append("the controls listed are not the controls its proven events evidence") }
            } else {
                problems.append("audit.proof is not a chain proof")
            }
        } else {
            problems.append("the pack has no session id or no audit.proof")
        }
        return EvidenceVerification(intact: problems.isEmpty, sessionId: sessionId, packSha256: actual, eventsProven: proven,
                                    controls: controls, problems: problems)
    }
}
