import NIOCore
import NIOEmbedded
import XCTest

@testable import BreakglassProxy

/// Property tests: thousands of random and mutated byte streams, from a fixed seed so a failure
/// replays. For every stream the decoders must not crash, must never hold more than one message's
/// worth of bytes within the limits, must fail only with a `WireProtocolError`, and every message they
/// do return must re-encode to exactly the bytes it was decoded from.
final class DecoderFuzzTests: XCTestCase {
    /// Small limits so that the "declared length over the limit" path is hit often.
    static let limits = ProtocolLimits(maxStartupPacketLength: 512, maxMessageLength: 2048)
    static let bufferBound = max(limits.maxStartupPacketLength, limits.maxMessageLength + 1)
    static let casesPerKind = 2_500

    // MARK: Corpus: real conversations, the starting point of mutation.

    static let frontendCorpus: [[FrontendMessage]] = {
        let startup = FrontendMessage.startup(.init(parameters: [("user", "alice"), ("database", "payments"), ("application_name", "psql")]))
        let bind = FrontendMessage.bind(.init(portal: "p", statement: "s", parameterFormats: [0, 1],
                                              parameters: [ByteBuffer(string: "42"), nil], resultFormats: [1]))
        return [
            [.sslRequest, startup, .password("bg_token"), .query("SELECT 1; SELECT 2"), .terminate],
            [.gssEncRequest, .sslRequest, startup, .parse(.init(statement: "s", query: "SELECT $1, $2", parameterTypes: [23, 17])), bind,
             .describe(.init(kind: .portal, name: "p")), .execute(.init(portal: "p", maxRows: 10)), .sync, .close(.init(kind: .statement, name: "s")),
             .flush, .functionCall(.init(functionOID: 952, argumentFormats: [], arguments: [ByteBuffer(string: "16385"), nil], resultFormat: 0)),
             .terminate],
            [.cancelRequest(.init(processID: 1234, secretKey: 987_654))],
            [startup, .other(type: UInt8(ascii: "d"), body: ByteBuffer(string: "1\t2\n")), .other(type: UInt8(ascii: "c"), body: ByteBuffer()),
             .other(type: UInt8(ascii: "p"), body: ByteBuffer(bytes: cstring("SCRAM-SHA-256") + int32(3) + Array("n,,".utf8)))],
        ]
    }()

    static let backendCorpus: [[BackendMessage]] = [
        [.authentication(.cleartextPassword), .authentication(.ok), .parameterStatus(name: "server_version", value: "15.8"),
         .backendKeyData(.init(processID: 7, secretKey: 8)), .readyForQuery(.idle)],
        [.rowDescription([.init(name: "id", tableOID: 16384, columnAttributeNumber: 1, typeOID: 23, typeSize: 4, typeModifier: -1, format: 0)]),
         .dataRow(.init(columns: [ByteBuffer(string: "1"), nil])), .commandComplete(tag: "SELECT 1"), .emptyQueryResponse, .portalSuspended,
         .errorResponse(.init(severity: "ERROR", sqlState: "42P01", message: "relation \"x\" does not exist")), .readyForQuery(.failedTransaction)],
        [.authentication(.md5Password(salt: 99)), .authentication(.other(code: 10, data: ByteBuffer(bytes: cstring("SCRAM-SHA-256") + [0]))),
         .other(type: UInt8(ascii: "N"), body: ByteBuffer(bytes: ascii("S") + cstring("NOTICE") + [0]))],
    ]

    // MARK: Mutations

    static func mutate(_ input: [UInt8], _ rng: inout SeededGenerator) -> [UInt8] {
        var bytes = input
        for _ in 0..<Int.random(in: 1...4, using: &rng) {
            let position = bytes.isEmpty ? 0 : Int.random(in: 0..<bytes.count, using: &rng)
            switch Int.random(in: 0..<9, using: &rng) {
            case 0 where !bytes.isEmpty:  // flip a bit
                bytes[position] ^= 1 << UInt8.random(in: 0..<8, using: &rng)
            case 1 where !bytes.isEmpty:  // replace a byte
                bytes[position] = UInt8.random(in: 0...255, using: &rng)
            case 2:  // insert random bytes
                bytes.insert(contentsOf: (0..<Int.random(in: 1...8, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }, at: position)
            case 3 where !bytes.isEmpty:  // delete a range
                bytes.removeSubrange(position..<min(bytes.count, position + Int.random(in: 1...16, using: &rng)))
            case 4:  // truncate
                bytes = Array(bytes.prefix(position))
            case 5 where bytes.count >= position + 4:  // overwrite 4 bytes with an interesting length
                let lengths: [Int32] = [0, 3, 4, 5, 7, 8, -1, Int32.min, Int32.max, 2049, 513, 1 << 30, 65_536]
                bytes.replaceSubrange(position..<position + 4, with: int32(lengths.randomElement(using: &rng)!))
            case 6:  // splice a startup-phase packet in the wrong place
                let packets = [FrontendMessage.sslRequest, .gssEncRequest, .cancelRequest(.init(processID: 1, secretKey: 2))]
                bytes.insert(contentsOf: packets.randomElement(using: &rng)!.bytes, at: position)
            case 7 where !bytes.isEmpty:  // duplicate a slice
                let end = min(bytes.count, position + Int.random(in: 1...32, using: &rng))
                bytes.insert(contentsOf: bytes[position..<end], at: Int.random(in: 0...bytes.count, using: &rng))
            default:  // 0xFF counts: 65 535 parameters, columns, format codes
                if bytes.count >= position + 2 { bytes.replaceSubrange(position..<position + 2, with: [0xFF, 0xFF]) }
            }
        }
        return bytes
    }

    static func randomBytes(_ rng: inout SeededGenerator) -> [UInt8] {
        (0..<Int.random(in: 0...300, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
    }

    /// Splits a stream into network-sized pieces, including one-byte ones.
    static func chunks(_ bytes: [UInt8], _ rng: inout SeededGenerator) -> [[UInt8]] {
        var pieces: [[UInt8]] = []
        var start = 0
        while start < bytes.count {
            let size = Bool.random(using: &rng) ? 1 : Int.random(in: 1...64, using: &rng)
            pieces.append(Array(bytes[start..<min(bytes.count, start + size)]))
            start += size
        }
        return pieces
    }

    // MARK: Drivers

    enum Ending: Hashable { case clean, refused }

    /// The decoder's pure API, fed piece by piece like a network: checks the buffer bound and that
    /// each decoded message re-encodes to the bytes it consumed.
    static func feed<Message>(_ pieces: [[UInt8]], next: (inout ByteBuffer) throws -> Message?, encode: (Message) -> [UInt8],
                              file: StaticString = #filePath, line: UInt = #line) -> Ending {
        var buffered = ByteBuffer()
        do {
            for piece in pieces {
                buffered.writeBytes(piece)
                while true {
                    let before = buffered
                    guard let message = try next(&buffered) else { break }
                    let consumed = Array(before.readableBytesView.prefix(before.readableBytes - buffered.readableBytes))
                    XCTAssertEqual(encode(message), consumed, "re-encoding \(message)", file: file, line: line)
                }
                XCTAssertLessThanOrEqual(buffered.readableBytes, bufferBound, "buffer waits for more than one allowed message", file: file, line: line)
                buffered.discardReadBytes()
            }
        } catch is WireProtocolError {
            return .refused
        } catch {
            XCTFail("unexpected error \(error)", file: file, line: line)
        }
        return .clean
    }

    /// The same stream through a channel as the proxy will run it; `maximumBufferSize` makes NIO itself
    /// fail the test (with an error that is not a `WireProtocolError`) if the decoder over-buffers.
    static func feedChannel<Decoder: ByteToMessageDecoder>(_ pieces: [[UInt8]], decoder: Decoder, file: StaticString = #filePath,
                                                           line: UInt = #line) -> Ending {
        let channel = EmbeddedChannel(handler: ByteToMessageHandler(decoder, maximumBufferSize: bufferBound))
        do {
            for piece in pieces {
                try channel.writeInbound(buffer(piece))
                while try channel.readInbound(as: Decoder.InboundOut.self) != nil {}
            }
            _ = try channel.finish()
        } catch is WireProtocolError {
            _ = try? channel.finish(acceptAlreadyClosed: true)
            return .refused
        } catch {
            XCTFail("unexpected error \(error)", file: file, line: line)
        }
        return .clean
    }

    // MARK: Properties

    func testMutatedAndRandomClientStreamsNeverCrashOrOverBuffer() {
        var rng = SeededGenerator(seed: 0xB4EA_C61A_55)
        var endings: [Ending: Int] = [:]
        for index in 0..<Self.casesPerKind {
            // Real clients wait for the answer to an encryption request, so a stream holding one and
            // more is refused at once; most cases leave the requests out to reach the typed messages.
            let conversation = Self.frontendCorpus[index % Self.frontendCorpus.count]
            let valid = (index % 3 == 0 ? conversation : conversation.filter { $0 != .sslRequest && $0 != .gssEncRequest }).flatMap(\.bytes)
            let stream = index % 10 == 9 ? Self.randomBytes(&rng) : Self.mutate(valid, &rng)
            let pieces = Self.chunks(stream, &rng)
            var decoder = FrontendMessageDecoder(limits: Self.limits)
            let pure = Self.feed(pieces, next: { try decoder.next(from: &$0) }, encode: \.bytes)
            // At end of input a partial message is an error on the channel (truncation) but merely
            // "waiting" for the pure driver, so only a refusal must agree.
            let channel = Self.feedChannel(pieces, decoder: FrontendMessageDecoder(limits: Self.limits))
            if pure == .refused { XCTAssertEqual(channel, .refused, "case \(index)") }
            endings[channel, default: 0] += 1
        }
        // The corpus and mutations must exercise both outcomes, or the test proves little.
        XCTAssertGreaterThan(endings[.refused, default: 0], Self.casesPerKind / 4)
        XCTAssertGreaterThan(endings[.clean, default: 0], 50)
    }

    func testMutatedAndRandomServerStreamsNeverCrashOrOverBuffer() {
        var rng = SeededGenerator(seed: 0x5E4E_4B1D)
        var endings: [Ending: Int] = [:]
        for index in 0..<Self.casesPerKind {
            let valid = Self.backendCorpus[index % Self.backendCorpus.count].flatMap(\.bytes)
            let stream = index % 10 == 9 ? Self.randomBytes(&rng) : Self.mutate(valid, &rng)
            let pieces = Self.chunks(stream, &rng)
            let decoder = BackendMessageDecoder(limits: Self.limits)
            let pure = Self.feed(pieces, next: { try decoder.next(from: &$0) }, encode: \.bytes)
            let channel = Self.feedChannel(pieces, decoder: BackendMessageDecoder(limits: Self.limits))
            if pure == .refused { XCTAssertEqual(channel, .refused, "case \(index)") }
            endings[channel, default: 0] += 1
        }
        XCTAssertGreaterThan(endings[.refused, default: 0], Self.casesPerKind / 4)
        XCTAssertGreaterThan(endings[.clean, default: 0], 50)
    }

    func testEveryValidConversationDecodesToItselfWhateverTheChunking() {
        var rng = SeededGenerator(seed: 7)
        for _ in 0..<200 {
            for conversation in Self.frontendCorpus {
                var decoder = FrontendMessageDecoder(limits: Self.limits)
                var decoded: [FrontendMessage] = []
                // Each encryption request arrives alone, as a client waits for its answer.
                let requests = conversation.prefix { $0 == .sslRequest || $0 == .gssEncRequest }
                let pieces = requests.map(\.bytes) + Self.chunks(conversation.dropFirst(requests.count).flatMap(\.bytes), &rng)
                XCTAssertEqual(Self.feed(pieces, next: { buffer in
                    let message = try decoder.next(from: &buffer)
                    if let message { decoded.append(message) }
                    return message
                }, encode: \.bytes), .clean)
                XCTAssertEqual(decoded, conversation)
            }
        }
    }
}
