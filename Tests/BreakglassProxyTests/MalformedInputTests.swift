import NIOCore
import NIOEmbedded
import XCTest

@testable import BreakglassProxy

/// Each kind of bad input named in the issue, through the decoder on a channel as the proxy runs it:
/// a clean `WireProtocolError`, raised as soon as the header shows it, never a wait for declared bytes.
final class MalformedInputTests: XCTestCase {
    func channel(startupDone: Bool = false, limits: ProtocolLimits = .default) throws -> EmbeddedChannel {
        let channel = EmbeddedChannel(handler: ByteToMessageHandler(FrontendMessageDecoder(limits: limits)))
        if startupDone {
            try channel.writeInbound(buffer(FrontendMessage.startup(.init(parameters: [("user", "alice")])).bytes))
            _ = try channel.readInbound(as: FrontendMessage.self)
        }
        return channel
    }

    func assertRefused(_ bytes: [UInt8], startupDone: Bool = false, limits: ProtocolLimits = .default, _ expected: WireProtocolError,
                       file: StaticString = #filePath, line: UInt = #line) throws {
        let channel = try channel(startupDone: startupDone, limits: limits)
        XCTAssertThrowsError(try channel.writeInbound(buffer(bytes)), file: file, line: line) { error in
            XCTAssertEqual(error as? WireProtocolError, expected, file: file, line: line)
        }
        _ = try? channel.finish()
    }

    func testTypedLengthsBelowFourAreRefused() throws {
        try assertRefused(ascii("Q") + int32(3), startupDone: true, .lengthTooSmall(messageType: UInt8(ascii: "Q"), length: 3))
        try assertRefused(ascii("Q") + int32(-1), startupDone: true, .lengthTooSmall(messageType: UInt8(ascii: "Q"), length: -1))
        try assertRefused(ascii("S") + int32(Int32.min), startupDone: true, .lengthTooSmall(messageType: UInt8(ascii: "S"), length: Int32.min))
    }

    func testAHugeDeclaredLengthIsRefusedFromItsHeaderAlone() throws {
        // Five bytes declare 2 GiB - 1: refused at once, nothing is buffered for it.
        try assertRefused(ascii("Q") + int32(Int32.max), startupDone: true,
                          .messageTooLong(messageType: UInt8(ascii: "Q"), length: Int(Int32.max), limit: ProtocolLimits.default.maxMessageLength))
        try assertRefused(int32(1_000_000) + int32(FrontendMessage.protocolVersion3), .messageTooLong(messageType: nil, length: 1_000_000, limit: 10_000))
    }

    func testBadStartupPacketsAreRefused() throws {
        try assertRefused(int32(7) + [0, 3, 0], .lengthTooSmall(messageType: nil, length: 7))
        try assertRefused(int32(8) + int32(0x0002_0000), .unsupportedProtocolVersion(major: 2, minor: 0))
        try assertRefused(int32(8) + int32(0x0003_0002), .unsupportedProtocolVersion(major: 3, minor: 2))
        try assertRefused(int32(8) + int32(0x7777_7777), .unknownStartupCode(0x7777_7777))
        // Parameters without the final terminator, and a startup without a user.
        try assertRefused(int32(16) + int32(FrontendMessage.protocolVersion3) + cstring("user") + cstring("al"),
                          .malformedMessage(messageType: nil, reason: "parameter name: missing or unterminated string"))
        try assertRefused(int32(9) + int32(FrontendMessage.protocolVersion3) + [0], .malformedMessage(messageType: nil, reason: "no user parameter"))
        // An SSLRequest with a body.
        try assertRefused(int32(12) + int32(FrontendMessage.sslRequestCode) + int32(0), .malformedMessage(messageType: nil, reason: "4 trailing bytes"))
    }

    func testBytesSentWithAnSSLRequestAreRefused() throws {
        let startup = FrontendMessage.startup(.init(parameters: [("user", "mallory")])).bytes
        try assertRefused(FrontendMessage.sslRequest.bytes + startup, .dataAfterEncryptionRequest)
        try assertRefused(FrontendMessage.gssEncRequest.bytes + [0], .dataAfterEncryptionRequest)
    }

    func testNegotiationThenStartupIsAccepted() throws {
        // GSS refused, then SSL refused, then a plain startup: what libpq does with both preferred.
        let channel = try channel()
        for message in [FrontendMessage.gssEncRequest, .sslRequest, .startup(.init(parameters: [("user", "alice")])), .query("SELECT 1")] {
            try channel.writeInbound(buffer(message.bytes))
            XCTAssertEqual(try channel.readInbound(as: FrontendMessage.self), message)
        }
        XCTAssertEqual(try channel.finish().isClean, true)
    }

    func testARepeatedSSLRequestIsRefused() throws {
        let channel = try channel()
        try channel.writeInbound(buffer(FrontendMessage.sslRequest.bytes))
        XCTAssertThrowsError(try channel.writeInbound(buffer(FrontendMessage.sslRequest.bytes))) { error in
            XCTAssertEqual(error as? WireProtocolError, .repeatedEncryptionRequest)
        }
    }

    func testStartupPacketsInTheTypedPhaseAreRefused() throws {
        // Untyped packets begin with a zero byte, which no typed message has.
        for message in [FrontendMessage.sslRequest, .gssEncRequest, .cancelRequest(.init(processID: 1, secretKey: 2)),
                        .startup(.init(parameters: [("user", "alice")]))] {
            try assertRefused(message.bytes, startupDone: true, .unknownMessageType(0))
        }
    }

    func testNothingMayFollowACancelRequestOrTerminate() throws {
        try assertRefused(FrontendMessage.cancelRequest(.init(processID: 1, secretKey: 2)).bytes + [0x51], .dataAfterEnd)
        try assertRefused(FrontendMessage.terminate.bytes + FrontendMessage.sync.bytes, startupDone: true, .dataAfterEnd)
    }

    func testUnknownTypesAndBackendTypesFromAClientAreRefused() throws {
        try assertRefused(ascii("Z") + int32(5) + ascii("I"), startupDone: true, .unknownMessageType(UInt8(ascii: "Z")))
    }

    func testMalformedBodiesAreRefused() throws {
        try assertRefused(ascii("Q") + int32(7) + Array("abc".utf8), startupDone: true,
                          .malformedMessage(messageType: UInt8(ascii: "Q"), reason: "query: missing or unterminated string"))
        try assertRefused(ascii("S") + int32(5) + [0], startupDone: true, .malformedMessage(messageType: UInt8(ascii: "S"), reason: "1 trailing bytes"))
        // A Bind declaring 65 535 parameters in a 10-byte body.
        try assertRefused(ascii("B") + int32(12) + [0, 0, 0, 0] + [0xFF, 0xFF] + [0, 0], startupDone: true,
                          .malformedMessage(messageType: UInt8(ascii: "B"), reason: "parameter count: 65535 does not fit the body"))
        // A parameter length of -2.
        try assertRefused(ascii("B") + int32(16) + [0, 0, 0, 0, 0, 1] + int32(-2) + [0, 0], startupDone: true,
                          .malformedMessage(messageType: UInt8(ascii: "B"), reason: "parameter: negative length -2"))
        try assertRefused(ascii("D") + int32(6) + ascii("X") + [0], startupDone: true,
                          .malformedMessage(messageType: UInt8(ascii: "D"), reason: "kind is neither 'S' nor 'P'"))
    }

    func testAConnectionClosedInsideAMessageIsReportedAsTruncated() throws {
        let channel = try channel(startupDone: true)
        try channel.writeInbound(buffer(Array(FrontendMessage.query("SELECT 1").bytes.prefix(8))))
        XCTAssertNil(try channel.readInbound(as: FrontendMessage.self))
        XCTAssertThrowsError(try channel.finish()) { error in
            XCTAssertEqual(error as? WireProtocolError, .truncatedMessage(missingBytes: 6))
        }
    }

    func testTheBackendDecoderRefusesBadLengthsToo() throws {
        XCTAssertThrowsError(try decodeBackend(ascii("D") + int32(2))) { error in
            XCTAssertEqual(error as? WireProtocolError, .lengthTooSmall(messageType: UInt8(ascii: "D"), length: 2))
        }
        XCTAssertThrowsError(try decodeBackend(ascii("D") + int32(Int32.max))) { error in
            XCTAssertEqual(error as? WireProtocolError, .messageTooLong(messageType: UInt8(ascii: "D"), length: Int(Int32.max), limit: 64 << 20))
        }
        XCTAssertThrowsError(try decodeBackend(ascii("Z") + int32(5) + ascii("X"))) { error in
            XCTAssertEqual(error as? WireProtocolError, .malformedMessage(messageType: UInt8(ascii: "Z"), reason: "unknown transaction status"))
        }
    }
}
