import BreakglassCore
import Foundation
import XCTest

/// The chain hashes the body's bytes, so the hand-written body must be the encoder's byte for byte.
final class CanonicalAuditBodyTests: XCTestCase {
    /// The body as the chain always encoded it, written here independently of `AuditChain`.
    private struct ReferenceBody: Encodable {
        var v = 1
        var shard: Int
        var seq: Int64
        var event: AuditEvent
    }

    private func reference(_ event: AuditEvent, shard: Int, seq: Int64) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = Timestamp.encodingStrategy
        return String(decoding: try encoder.encode(ReferenceBody(shard: shard, seq: seq, event: event)), as: UTF8.self)
    }

    private let at = Date(timeIntervalSince1970: 1_800_000_000.123)

    func testEveryEventTypeIsWrittenAsTheEncoderWritesIt() throws {
        for (i, type) in AuditEventType.allCases.enumerated() {
            let event = AuditEvent(type: type, outcome: i % 2 == 0 ? .success : .failure, at: at + Double(i), actor: "alice",
                                   actorRoles: [.engineer, .admin], origin: RequestOrigin(address: "10.0.0.\(i)", userAgent: "breakglass/1.0"),
                                   target: "payments-db", sessionId: "bg_\(i)", reason: "INC-4521 lock pile-up", incident: "INC-4521",
                                   details: ["mfa": "totp", "mfa_outcome": "success", "expires_at": Timestamp.format(at), "key_id": "k/1"])
            let written = try XCTUnwrap(CanonicalAuditBody.write(event, shard: i % 16, seq: Int64(i) * 1_000_003))
            XCTAssertEqual(written, try reference(event, shard: i % 16, seq: Int64(i) * 1_000_003), "\(type)")
        }
    }

    func testAbsentFieldsAndEmptyCollectionsAreWrittenAsTheEncoderWritesThem() throws {
        var event = AuditEvent(type: .sessionExpired, at: at, actor: nil, origin: RequestOrigin(address: nil, userAgent: nil))
        event.controls = []
        XCTAssertEqual(try XCTUnwrap(CanonicalAuditBody.write(event, shard: 0, seq: 1)), try reference(event, shard: 0, seq: 1))
    }

    func testEscapedAndNonASCIITextIsWrittenAsTheEncoderWritesIt() throws {
        let texts = ["quote \" and backslash \\ and slash / </script>", "line\nbreak\r\ttab \u{08}\u{0C}", "é ü ß 漢字 🚨 \u{2028}\u{2029} \u{7F}",
                     "", "{\"json\":[1,2]}"]
        for text in texts {
            let event = AuditEvent(type: .sessionActivated, at: at, actor: text, origin: RequestOrigin(address: text, userAgent: text),
                                   target: text, sessionId: text, reason: text, incident: text, details: ["reason_text": text, "a": text])
            XCTAssertEqual(try XCTUnwrap(CanonicalAuditBody.write(event, shard: 3, seq: 42)), try reference(event, shard: 3, seq: 42))
        }
    }

    /// Where the writer cannot be sure of the encoder's bytes it declines, and sealing still gives the encoder's body.
    func testUnusualKeysAndControlCharactersFallBackToTheEncoder() throws {
        let unusual = [
            AuditEvent(type: .userUpdated, at: at, actor: "alice", details: ["Upper": "x", "lower": "y"]),
            AuditEvent(type: .userUpdated, at: at, actor: "alice", details: ["key2": "x", "key10": "y"]),
            AuditEvent(type: .userUpdated, at: at, actor: "bell \u{07} and nul \u{00}"),
        ]
        for event in unusual {
            XCTAssertNil(CanonicalAuditBody.write(event, shard: 1, seq: 7))
            XCTAssertEqual(AuditChain.seal(event, shard: 1, seq: 7, prevHash: AuditChain.genesisHash).body, try reference(event, shard: 1, seq: 7))
        }
    }

    /// The database puts the next seq between the two parts; the result must be the body `seal` writes, even when the
    /// event's own text holds what looks like a seq member, and for a body only the encoder writes.
    func testTheBodyAroundItsSeqIsTheSealedBodyOnceTheSeqIsIn() {
        let decoy = ",\"seq\":9223372036854775807,\"shard\":1,"
        let events = [
            AuditEvent(type: .sessionActivated, at: at, actor: "alice", target: "payments-db", sessionId: "bg_1", reason: decoy,
                       details: ["seq": "9223372036854775807", "mfa": decoy]),
            AuditEvent(type: .userUpdated, at: at, actor: "bell \u{07}", details: ["Upper": decoy]),
            AuditEvent(type: .sessionExpired, at: at, actor: nil, origin: RequestOrigin(address: nil, userAgent: nil)),
        ]
        for event in events {
            for (shard, seq) in [(0, Int64(1)), (15, 1_000_003), (7, Int64.max)] {
                let (before, after) = AuditChain.bodyAroundSeq(event, shard: shard)
                XCTAssertEqual(before + String(seq) + after, AuditChain.seal(event, shard: shard, seq: seq, prevHash: AuditChain.genesisHash).body)
            }
        }
    }

    func testSealedBodiesReadBackAsTheirEvents() {
        let event = AuditEvent(type: .sessionDenied, outcome: .failure, at: at, actor: "bob", sessionId: "bg_1", reason: "r \"q\"",
                               details: ["failure": "totp_wrong"])
        let sealed = AuditChain.seal(event, shard: 5, seq: 9, prevHash: AuditChain.genesisHash)
        let decoded = AuditChain.decode(body: sealed.body)
        XCTAssertEqual(decoded?.reason, event.reason)
        XCTAssertEqual(decoded?.details, event.details)
        XCTAssertEqual(decoded.map { Timestamp.format($0.at) }, Timestamp.format(event.at))
    }
}
