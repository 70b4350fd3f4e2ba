import NIOCore
import XCTest

@testable import BreakglassProxy

/// The recorder must survive any order of messages, including answers no server would send (a
/// confused or hostile target): no trap, and never an outcome for a statement it did not record.
final class StatementRecorderFuzzTests: XCTestCase {
    func testAnyInterleavingOfMessagesIsSurvived() {
        var rng = SeededGenerator(seed: 0x2EC0_2DE2)
        let client = DecoderFuzzTests.frontendCorpus.flatMap { $0 } + [
            .bind(.init(portal: "", statement: "missing", parameterFormats: [1, 0, 1], parameters: [nil], resultFormats: [])),
            .execute(.init(portal: "never bound")), .close(.init(kind: .portal, name: "p")), .query(""),
        ]
        let server = DecoderFuzzTests.backendCorpus.flatMap { $0 } + [
            .other(type: UInt8(ascii: "1"), body: ByteBuffer()), .other(type: UInt8(ascii: "2"), body: ByteBuffer()),
            .other(type: UInt8(ascii: "3"), body: ByteBuffer()), .other(type: UInt8(ascii: "n"), body: ByteBuffer()),
            .other(type: UInt8(ascii: "V"), body: ByteBuffer(bytes: [0xFF])), .readyForQuery(.idle),
        ]
        for _ in 0..<500 {
            var recorder = StatementRecorder(redaction: Bool.random(using: &rng) ? .recordValues : .redactValues)
            var recorded: Set<Int> = []
            var sent = 0
            for _ in 0..<60 {
                if Bool.random(using: &rng) {
                    sent += 1
                    recorded.formUnion(recorder.frontend(client.randomElement(using: &rng)!).map(\.sequence))
                } else {
                    for outcome in recorder.backend(server.randomElement(using: &rng)!) {
                        XCTAssertTrue(recorded.contains(outcome.sequence), "outcome for an unrecorded statement \(outcome)")
                        XCTAssertNotNil(outcome.outcome)
                    }
                }
                XCTAssertLessThanOrEqual(recorder.outstanding, sent)
            }
        }
    }
}
