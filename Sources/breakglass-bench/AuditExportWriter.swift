import BreakglassCore
import Foundation

/// Writes a valid `audit export` of synthetic events for `scripts/bench-audit.sh`: sealed with the same
/// `AuditChain.seal` the store uses and written with the same `AuditExportLine` the broker serves, so
/// `breakglass audit verify --file` must find it intact.
enum AuditExportWriter {
    static func write(events count: Int, to path: String) throws {
        guard FileManager.default.createFile(atPath: path, contents: nil), let file = FileHandle(forWritingAtPath: path) else {
            throw BenchFailure("cannot write \(path)")
        }
        var heads = [ChainHead](repeating: ChainHead(shard: 0, seq: 0, hash: AuditChain.genesisHash), count: AuditChain.shardCount)
        var buffer = Data()
        let start = Date(timeIntervalSince1970: 1_800_000_000)
        for index in 0..<count {
            let audited = event(index, at: start.addingTimeInterval(Double(index) * 0.003))
            let shard = AuditChain.shard(for: audited.shardKey)
            let seq = heads[shard].seq + 1
            let sealed = AuditChain.seal(audited, shard: shard, seq: seq, prevHash: heads[shard].hash)
            buffer += AuditExportLine.encode(AuditChainRow(id: Int64(index + 1), shard: shard, seq: seq, occurredAt: audited.at,
                                                           body: sealed.body, prevHash: heads[shard].hash, hash: sealed.hash))
            buffer.append(0x0A)
            heads[shard] = ChainHead(shard: shard, seq: seq, hash: sealed.hash)
            if buffer.count >= 1 << 20 {
                file.write(buffer)
                buffer.removeAll(keepingCapacity: true)
            }
        }
        file.write(buffer)
        try file.close()
    }

    /// The mix a busy broker records: mostly statements through the recording proxy and their results, with
    /// activations and ends around them. Texts carry quotes and newlines so lines hold escapes, as real ones do.
    static func event(_ index: Int, at: Date) -> AuditEvent {
        let session = "bg_\(String(index / 40, radix: 36))"
        let actor = "engineer\(index % 2000)"
        let origin = RequestOrigin(address: "10.0.\(index % 250).\(index % 200)", userAgent: "breakglass-cli/1")
        switch index % 40 {
        case 0:
            return AuditEvent(type: .sessionActivated, at: at, actor: actor, actorRoles: [.engineer], origin: origin,
                              target: "prod-payments-db", sessionId: session,
                              reason: "INC-\(index) lock pile-up on \"payments\", kill blockers", incident: "INC-\(index)",
                              details: ["ttl": "30m", "credential": "postgres"])
        case 39:
            return AuditEvent(type: .sessionEnded, at: at, actor: actor, actorRoles: [.engineer], origin: origin,
                              target: "prod-payments-db", sessionId: session)
        case let n where n % 2 == 1:
            return AuditEvent(type: .sessionStatement, at: at, actor: actor, origin: .server, target: "prod-payments-db", sessionId: session,
                              details: ["statement": "SELECT pid, state, query\nFROM pg_stat_activity\nWHERE datname = 'payments' AND wait_event_type = \"Lock\" -- \(index)",
                                        "protocol": "simple", "statement_number": String(n)])
        default:
            return AuditEvent(type: .sessionStatementResult, at: at, actor: actor, origin: .server, target: "prod-payments-db",
                              sessionId: session, details: ["command_tag": "SELECT \(index % 17)", "statement_number": String(index % 40 - 1)])
        }
    }
}
