@testable import BreakglassCore
import Foundation
import XCTest

/// The streaming verifier must reach the verdict the whole-chain walk reached, word for word, and never
/// call a chain intact whose rows it could not walk in order.
final class AuditChainVerifierTests: XCTestCase {
    func chain(events count: Int, details: [String: String] = [:]) -> (rows: [AuditChainRow], heads: [ChainHead]) {
        var heads = (0..<AuditChain.shardCount).map { ChainHead(shard: $0, seq: 0, hash: AuditChain.genesisHash) }
        var rows: [AuditChainRow] = []
        for i in 0..<count {
            let event = AuditEvent(type: i % 3 == 0 ? .sessionActivated : .sessionStatement, at: Date(timeIntervalSince1970: 1_800_000_000.123 + Double(i) * 0.25),
                                   actor: "alice", sessionId: "bg_\(i % 7)", reason: "reason \"\(i)\"\nsecond line", incident: "INC-\(i)",
                                   details: details.merging(["n": String(i)]) { a, _ in a })
            let shard = AuditChain.shard(for: event.shardKey)
            let sealed = AuditChain.seal(event, shard: shard, seq: heads[shard].seq + 1, prevHash: heads[shard].hash)
            rows.append(AuditChainRow(id: Int64(i + 1), shard: shard, seq: heads[shard].seq + 1, occurredAt: event.at, body: sealed.body,
                                      prevHash: heads[shard].hash, hash: sealed.hash))
            heads[shard] = ChainHead(shard: shard, seq: heads[shard].seq + 1, hash: sealed.hash)
        }
        return (rows, heads)
    }

    func streamed(_ rows: [AuditChainRow], recordedHeads: [ChainHead]?, expectedHeads: [ChainHead] = []) -> AuditChainVerifier {
        var verifier = AuditChainVerifier(recordedHeads: recordedHeads, expectedHeads: expectedHeads)
        for row in rows { verifier.feed(row) }
        return verifier
    }

    func testRowsFedOneAtATimeVerifyLikeTheWholeChain() {
        let (rows, heads) = chain(events: 200)
        let result = streamed(rows, recordedHeads: heads).finish()
        XCTAssertTrue(result.intact, "\(result.problems)")
        XCTAssertEqual(result.eventsChecked, 200)
        XCTAssertEqual(result.heads, heads)
        XCTAssertEqual(result, ReferenceVerifier.verify(rows: rows, recordedHeads: heads))
    }

    /// Each kind of tampering, named at the same event with the same words as the whole-chain walk.
    func testEveryProblemIsNamedAsTheWholeChainWalkNamedIt() {
        let (rows, heads) = chain(events: 120)
        let saved = heads
        var cases: [(String, [AuditChainRow], [ChainHead])] = []
        func tampered(_ name: String, heads: [ChainHead] = heads, _ change: (inout [AuditChainRow]) -> Void) {
            var copy = rows
            change(&copy)
            cases.append((name, copy, heads))
        }
        tampered("altered body") { $0[40].body = $0[40].body.replacingOccurrences(of: "reason", with: "excuse") }
        tampered("rewritten body, recomputed hash") { rows in
            rows[40].body = rows[40].body.replacingOccurrences(of: "reason", with: "excuse")
            rows[40].hash = AuditChain.link(prevHash: rows[40].prevHash, body: rows[40].body)
        }
        tampered("deleted middle event") { $0.remove(at: 50) }
        tampered("duplicated event") { $0.append($0[30]) }
        tampered("swapped sequence numbers") { rows in
            let same = rows.indices.filter { rows[$0].shard == rows[0].shard }
            (rows[same[2]].seq, rows[same[3]].seq) = (rows[same[3]].seq, rows[same[2]].seq)
        }
        tampered("inserted forgery") { rows in
            var forged = rows[5]
            forged.id = 1000
            forged.seq += 1
            rows.append(forged)
        }
        tampered("occurred_at moved") { $0[60].occurredAt += 3600 }
        tampered("occurred_at moved by under a millisecond") { $0[60].occurredAt += 0.0004 }
        tampered("body sealed for another sequence") { rows in
            rows[70].body = rows[70].body.replacingOccurrences(of: "\"seq\":\(rows[70].seq),", with: "\"seq\":\(rows[70].seq + 1),")
            rows[70].hash = AuditChain.link(prevHash: rows[70].prevHash, body: rows[70].body)
        }
        tampered("body that is not an event") { rows in
            rows[80].body = rows[80].body.replacingOccurrences(of: "session.statement", with: "session.nonsense")
            rows[80].hash = AuditChain.link(prevHash: rows[80].prevHash, body: rows[80].body)
        }
        tampered("nonexistent shard") { $0[90].shard = AuditChain.shardCount + 3 }
        tampered("newest event deleted") { $0.removeLast() }
        let last = rows.last!
        let rolledBack = heads.map { $0.shard == last.shard ? ChainHead(shard: $0.shard, seq: $0.seq - 1, hash: last.prevHash) : $0 }
        tampered("newest event deleted, head rolled back", heads: rolledBack) { $0.removeLast() }
        tampered("head rewritten", heads: heads.map { ChainHead(shard: $0.shard, seq: $0.seq, hash: String($0.hash.reversed())) }) { _ in }

        for (name, rows, recorded) in cases {
            for expected in [[], saved] {
                let reference = ReferenceVerifier.verify(rows: rows, recordedHeads: recorded, expectedHeads: expected)
                // Under a millisecond is within the body's precision; a consistent rollback needs a head saved elsewhere.
                let hidden = name == "occurred_at moved by under a millisecond" || (name == "newest event deleted, head rolled back" && expected.isEmpty)
                XCTAssertEqual(reference.intact, hidden, "\(name): the whole-chain walk's own verdict")
                // One pass agrees wherever the rows came in chain order, and otherwise refuses to call the chain intact.
                let onePass = streamed(rows, recordedHeads: recorded, expectedHeads: expected)
                if onePass.disorderedShards.isEmpty {
                    XCTAssertEqual(onePass.finish(), reference, name)
                } else {
                    XCTAssertFalse(onePass.finish().intact, name)
                }
                XCTAssertEqual(AuditChain.verify(rows: rows, recordedHeads: recorded, expectedHeads: expected), reference, name)
            }
        }
    }

    /// Random single edits of a chain, rows shuffled or not: the wrapper agrees with the whole-chain walk.
    func testRandomTamperingAgreesWithTheWholeChainWalk() {
        var random = SeededRandom(seed: 12)
        let (rows, heads) = chain(events: 60)
        for trial in 0..<400 {
            var copy = rows
            let i = Int.random(in: 0..<copy.count, using: &random)
            switch trial % 7 {
            case 0: copy[i].body = mutate(copy[i].body, using: &random)
            case 1: copy[i].prevHash = mutate(copy[i].prevHash, using: &random)
            case 2: copy[i].hash = mutate(copy[i].hash, using: &random)
            case 3: copy[i].seq += Int64.random(in: -2...2, using: &random)
            case 4: copy[i].occurredAt += Double.random(in: -0.002...0.002, using: &random)
            case 5: copy.remove(at: i)
            default: copy[i].shard = Int.random(in: -1...AuditChain.shardCount, using: &random)
            }
            if trial % 2 == 1 { copy.shuffle(using: &random) }
            XCTAssertEqual(AuditChain.verify(rows: copy, recordedHeads: heads), ReferenceVerifier.verify(rows: copy, recordedHeads: heads),
                           "trial \(trial)")
        }
    }

    func testRowsOutOfChainOrderAreNeverCalledIntactInOnePass() {
        let (rows, heads) = chain(events: 100)
        let shard = rows[0].shard
        let same = rows.indices.filter { rows[$0].shard == shard }
        var reordered = rows
        reordered.swapAt(same[3], same[4])
        let verifier = streamed(reordered, recordedHeads: heads)
        XCTAssertEqual(verifier.disorderedShards, [shard])
        let result = verifier.finish()
        XCTAssertFalse(result.intact)
        XCTAssertEqual(result.problems.count, 1)
        XCTAssertEqual(result.firstBroken?.eventId, rows[same[3]].id, "the row that came too late is named")
        XCTAssertTrue(result.firstBroken!.problem.contains("not in chain order"), result.firstBroken!.problem)
    }

    func testASecondPassSortsOnlyTheDisorderedShards() {
        let (rows, heads) = chain(events: 100)
        let shard = rows[0].shard
        let same = rows.indices.filter { rows[$0].shard == shard }
        var reordered = rows
        reordered.swapAt(same[3], same[4])
        var verifier = streamed(reordered, recordedHeads: heads).reordering()
        for row in reordered { verifier.feed(row) }
        XCTAssertEqual(verifier.finish(), ReferenceVerifier.verify(rows: reordered, recordedHeads: heads))
        XCTAssertTrue(verifier.finish().intact, "a shuffled export of an intact chain is still that chain")
        // The rows of ordered shards were walked as they came, not held.
        XCTAssertEqual(verifier.heldBackCount, same.count)
    }

    func testBodiesAsTheEncoderWritesThemAreScannedWithoutJSONDecoder() {
        let (rows, _) = chain(events: 50, details: ["path": "a/b\\c\t\"d\"", "ünïcode": "✔"])
        for row in rows {
            let scanned = row.body.utf8.withContiguousStorageIfAvailable { bytes -> AuditBodyCheck.Scan in
                var scanner = CanonicalJSONScanner(bytes)
                return scanner.canonicalBody()
            }
            guard case let .sealed(shard, seq, at)? = scanned else { return XCTFail("not scanned: \(row.body)") }
            XCTAssertEqual(shard, row.shard)
            XCTAssertEqual(seq, row.seq)
            XCTAssertEqual(at, AuditChain.decode(body: row.body)?.at)
        }
    }

    func testBodiesTheScannerLeavesAreStillCheckedByJSONDecoder() {
        // A control character is written as \u0001, which the scanner leaves to JSONDecoder.
        let (rows, heads) = chain(events: 20, details: ["bell": "\u{1}"])
        XCTAssertTrue(rows[0].body.contains("\\u0001"))
        XCTAssertTrue(AuditChain.verify(rows: rows, recordedHeads: heads).intact)
        let spaced = rows[0].body.replacingOccurrences(of: "\"v\":1}", with: "\"v\": 1 }")
        XCTAssertNotNil(AuditBodyCheck.sealedTime(body: spaced, shard: rows[0].shard, seq: rows[0].seq), "valid JSON, just not canonical")
        XCTAssertNil(AuditBodyCheck.sealedTime(body: spaced, shard: rows[0].shard, seq: rows[0].seq + 1))
        let missing = rows[0].body.replacingOccurrences(of: "\"controls\":", with: "\"kontrols\":")
        XCTAssertNil(AuditBodyCheck.sealedTime(body: missing, shard: rows[0].shard, seq: rows[0].seq))
    }

    func testTimestampsAreReadToTheSameInstantAsTimestampParse() {
        var random = SeededRandom(seed: 7)
        for _ in 0..<5000 {
            let date = Date(timeIntervalSince1970: Double(Int64.random(in: 0...253_402_300_799_999, using: &random)) / 1000)
            let text = Timestamp.format(date)
            let bytes = Array(text.utf8)
            let scanned = bytes.withUnsafeBufferPointer { CanonicalJSONScanner($0).timestamp(0..<$0.count) }
            XCTAssertEqual(scanned, Timestamp.parseISO8601(text), text)
        }
        for text in ["2026-02-29T00:00:00.000Z", "2026-13-01T00:00:00.000Z", "2026-01-01T24:00:00.000Z", "1969-12-31T23:59:59.999Z",
                     "2026-01-01T00:00:60.000Z", "2026-01-01 00:00:00.000Z"] {
            XCTAssertNil(Array(text.utf8).withUnsafeBufferPointer { CanonicalJSONScanner($0).timestamp(0..<$0.count) }, text)
        }
    }

    func testExportLinesReadBackAsJSONDecoderReadsThem() throws {
        let (rows, _) = chain(events: 30, details: ["sql": "SELECT '\\' AS \"x\"\n"])
        for row in rows {
            let line = AuditExportLine.encode(row)
            let fast = Array(line).withUnsafeBufferPointer { bytes -> AuditChainRow? in
                var scanner = CanonicalJSONScanner(bytes)
                return scanner.exportLine()
            }
            XCTAssertEqual(fast, row)
            XCTAssertEqual(Array(line).withUnsafeBufferPointer { AuditExportLine.decode($0) }, row)
        }
        // Not as the broker writes it, but a chain row all the same.
        let spaced = Array(#"{"body": "{}", "hash": "h", "id": 7, "occurred_at": "2026-11-25T14:00:00Z", "prev_hash": "p", "seq": 1, "shard": 2}"#.utf8)
        XCTAssertEqual(spaced.withUnsafeBufferPointer { AuditExportLine.decode($0) }?.id, 7)
        XCTAssertNil(Array("{\"body\":1}".utf8).withUnsafeBufferPointer { AuditExportLine.decode($0) })
    }

    func testHexIsLowercaseTwoDigitsPerByte() {
        var random = SeededRandom(seed: 3)
        let bytes = (0..<256).map { _ in UInt8.random(in: 0...255, using: &random) }
        XCTAssertEqual(bytes.hex, bytes.map { String(format: "%02x", $0) }.joined())
        bytes.withUnsafeBytes { raw in
            XCTAssertTrue(Hex.matches(raw, bytes.hex))
            XCTAssertFalse(Hex.matches(raw, bytes.hex.uppercased()))
            XCTAssertFalse(Hex.matches(raw, String(bytes.hex.dropLast())))
        }
    }

    private func mutate(_ text: String, using random: inout SeededRandom) -> String {
        var chars = Array(text)
        guard !chars.isEmpty else { return "x" }
        chars[Int.random(in: 0..<chars.count, using: &random)] = Character(UnicodeScalar(UInt8.random(in: 0x21...0x7E, using: &random)))
        return String(chars)
    }
}

/// SplitMix64: the same "random" edits on every run.
struct SeededRandom: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
