import BreakglassCore
import Foundation
import XCTest

final class AuditChainTests: XCTestCase {
    /// Builds a chain the way the store does: per shard, each event linked to its predecessor.
    func chain(events count: Int) -> (rows: [AuditChainRow], heads: [ChainHead]) {
        var heads: [Int: ChainHead] = [:]
        var rows: [AuditChainRow] = []
        for i in 0..<count {
            let event = AuditEvent(type: .sessionActivated, at: Date(timeIntervalSince1970: 1_800_000_000 + Double(i)), actor: "alice",
                                   sessionId: "bg_\(i % 5)", reason: "reason number \(i)", incident: "INC-\(i)")
            let shard = AuditChain.shard(for: event.shardKey)
            let head = heads[shard] ?? ChainHead(shard: shard, seq: 0, hash: AuditChain.genesisHash)
            let sealed = AuditChain.seal(event, shard: shard, seq: head.seq + 1, prevHash: head.hash)
            rows.append(AuditChainRow(id: Int64(i + 1), shard: shard, seq: head.seq + 1, occurredAt: event.at, body: sealed.body,
                                      prevHash: head.hash, hash: sealed.hash))
            heads[shard] = ChainHead(shard: shard, seq: head.seq + 1, hash: sealed.hash)
        }
        let all = (0..<AuditChain.shardCount).map { heads[$0] ?? ChainHead(shard: $0, seq: 0, hash: AuditChain.genesisHash) }
        return (rows, all)
    }

    func testIntactChainVerifies() {
        let (rows, heads) = chain(events: 30)
        let result = AuditChain.verify(rows: rows, recordedHeads: heads)
        XCTAssertTrue(result.intact, "\(result.problems)")
        XCTAssertEqual(result.eventsChecked, 30)
        XCTAssertEqual(AuditChain.digest(result.heads), AuditChain.digest(heads))
    }

    func testAlteredBodyIsNamed() {
        var (rows, heads) = chain(events: 30)
        rows[11].body = rows[11].body.replacingOccurrences(of: "reason number 11", with: "reason number 12")
        let result = AuditChain.verify(rows: rows, recordedHeads: heads)
        XCTAssertFalse(result.intact)
        XCTAssertEqual(result.firstBroken?.eventId, 12)
        XCTAssertTrue(result.firstBroken!.problem.contains("altered"))
    }

    func testRewrittenBodyWithRecomputedHashBreaksTheNextLink() {
        var (rows, heads) = chain(events: 30)
        let victim = 3
        rows[victim].body = rows[victim].body.replacingOccurrences(of: "reason number 3", with: "reason number X")
        rows[victim].hash = AuditChain.link(prevHash: rows[victim].prevHash, body: rows[victim].body)
        let result = AuditChain.verify(rows: rows, recordedHeads: heads)
        XCTAssertFalse(result.intact)
        let next = rows.first { $0.shard == rows[victim].shard && $0.seq == rows[victim].seq + 1 }!
        XCTAssertEqual(result.firstBroken?.eventId, next.id)
        XCTAssertTrue(result.firstBroken!.problem.contains("event \(rows[victim].id)"), result.firstBroken!.problem)
    }

    func testDeletedMiddleEventIsDetected() {
        var (rows, heads) = chain(events: 30)
        let removed = rows.remove(at: 10)
        let result = AuditChain.verify(rows: rows, recordedHeads: heads)
        XCTAssertFalse(result.intact)
        XCTAssertTrue(result.problems.contains { $0.shard == removed.shard && $0.problem.contains("missing") })
    }

    func testReorderedEventsAreDetected() {
        var (rows, heads) = chain(events: 30)
        let shard = rows[0].shard
        let indices = rows.indices.filter { rows[$0].shard == shard }
        let (a, b) = (indices[0], indices[1])
        (rows[a].seq, rows[b].seq) = (rows[b].seq, rows[a].seq)
        XCTAssertFalse(AuditChain.verify(rows: rows, recordedHeads: heads).intact)
    }

    func testInsertedEventIsDetected() {
        var (rows, heads) = chain(events: 30)
        var forged = rows[5]
        forged.id = 1000
        forged.seq += 1
        rows.append(forged)
        XCTAssertFalse(AuditChain.verify(rows: rows, recordedHeads: heads).intact)
    }

    func testDeletingTheNewestEventsIsDetectedAgainstTheHead() {
        var (rows, heads) = chain(events: 30)
        let saved = heads
        let last = rows.removeLast()
        // An attacker also rolls back the head table...
        let rolledBack = heads.map { $0.shard == last.shard ? ChainHead(shard: $0.shard, seq: $0.seq - 1, hash: last.prevHash) : $0 }
        XCTAssertFalse(AuditChain.verify(rows: rows, recordedHeads: heads).intact, "recorded head catches it")
        XCTAssertTrue(AuditChain.verify(rows: rows, recordedHeads: rolledBack).intact, "a consistent rollback hides it from the database alone")
        let result = AuditChain.verify(rows: rows, recordedHeads: rolledBack, expectedHeads: saved)
        XCTAssertFalse(result.intact, "...but a head saved elsewhere exposes it")
        XCTAssertTrue(result.firstBroken!.problem.contains("deleted from the end"))
        heads = rolledBack
    }

    func testAlteredTimestampColumnIsDetected() {
        var (rows, heads) = chain(events: 5)
        rows[2].occurredAt += 3600
        let result = AuditChain.verify(rows: rows, recordedHeads: heads)
        XCTAssertEqual(result.firstBroken?.eventId, 3)
    }

    func testEventsCarryControlIds() {
        XCTAssertTrue(AuditEventType.sessionActivated.controls.contains("SOC2:CC6.1"))
        XCTAssertTrue(AuditEventType.sessionDenied.controls.contains("PCI-DSS-4.0:10.2.1.4"))
        for type in AuditEventType.allCases { XCTAssertFalse(type.controls.isEmpty, type.rawValue) }
    }

    func testSecretBoxBindsCiphertextToItsContext() throws {
        let box = try SecretBox(keyBytes: SecretBox.generateKey())
        let sealed = try box.seal(Array("seed".utf8), context: "totp-seed:a")
        XCTAssertEqual(try box.open(sealed, context: "totp-seed:a"), Array("seed".utf8))
        XCTAssertThrowsError(try box.open(sealed, context: "totp-seed:b"))
        XCTAssertThrowsError(try SecretBox(keyBytes: SecretBox.generateKey()).open(sealed, context: "totp-seed:a"))
    }
}
