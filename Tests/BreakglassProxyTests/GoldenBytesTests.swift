import NIOCore
import XCTest

@testable import BreakglassProxy

/// Byte vectors written by hand from the protocol 3.0 spec (message formats, PostgreSQL 15). Each is
/// checked both ways: the bytes decode to the message, and the message encodes to the bytes.
final class GoldenBytesTests: XCTestCase {
    func assertFrontend(_ message: FrontendMessage, _ bytes: [UInt8], startup: Bool = false, file: StaticString = #filePath, line: UInt = #line) throws {
        XCTAssertEqual(message.bytes, bytes, "encoding", file: file, line: line)
        XCTAssertEqual(try decodeFrontend(bytes, startup: startup), [message], "decoding", file: file, line: line)
    }

    func assertBackend(_ message: BackendMessage, _ bytes: [UInt8], file: StaticString = #filePath, line: UInt = #line) throws {
        XCTAssertEqual(message.bytes, bytes, "encoding", file: file, line: line)
        XCTAssertEqual(try decodeBackend(bytes), [message], "decoding", file: file, line: line)
    }

    func testStartupPacketsHaveNoTypeByte() throws {
        try assertFrontend(.sslRequest, [0, 0, 0, 8, 0x04, 0xD2, 0x16, 0x2F], startup: true)
        try assertFrontend(.gssEncRequest, [0, 0, 0, 8, 0x04, 0xD2, 0x16, 0x30], startup: true)
        try assertFrontend(.cancelRequest(.init(processID: 4242, secretKey: -7)),
                           [0, 0, 0, 16, 0x04, 0xD2, 0x16, 0x2E] + int32(4242) + int32(-7), startup: true)
        // 4 (length) + 4 (version) + "user\0alice\0database\0payments\0" (29) + terminator = 38.
        try assertFrontend(.startup(.init(parameters: [("user", "alice"), ("database", "payments")])),
                           [0, 0, 0, 38, 0, 3, 0, 0] + cstring("user") + cstring("alice") + cstring("database") + cstring("payments") + [0],
                           startup: true)
    }

    func testSimpleQuery() throws {
        try assertFrontend(.query("SELECT 1"), ascii("Q") + [0, 0, 0, 13] + cstring("SELECT 1"))
    }

    func testExtendedProtocolMessages() throws {
        try assertFrontend(.parse(.init(statement: "s1", query: "SELECT $1", parameterTypes: [23])),
                           ascii("P") + [0, 0, 0, 23] + cstring("s1") + cstring("SELECT $1") + [0, 1] + int32(23))
        try assertFrontend(.bind(.init(portal: "", statement: "s1", parameterFormats: [0], parameters: [ByteBuffer(string: "42"), nil],
                                       resultFormats: [1])),
                           ascii("B") + [0, 0, 0, 28] + [0] + cstring("s1") + [0, 1, 0, 0] + [0, 2] + int32(2) + Array("42".utf8) + int32(-1)
                               + [0, 1, 0, 1])
        try assertFrontend(.execute(.init(portal: "", maxRows: 0)), ascii("E") + [0, 0, 0, 9] + [0] + int32(0))
        try assertFrontend(.describe(.init(kind: .statement, name: "s1")), ascii("D") + [0, 0, 0, 8] + ascii("S") + cstring("s1"))
        try assertFrontend(.close(.init(kind: .portal, name: "")), ascii("C") + [0, 0, 0, 6] + ascii("P") + [0])
        try assertFrontend(.sync, ascii("S") + [0, 0, 0, 4])
        try assertFrontend(.flush, ascii("H") + [0, 0, 0, 4])
        try assertFrontend(.terminate, ascii("X") + [0, 0, 0, 4])
    }

    func testFunctionCall() throws {
        // lo_open(16385, 0x20000): OID 952, both arguments binary int4, binary result; body 28 bytes.
        try assertFrontend(.functionCall(.init(functionOID: 952, argumentFormats: [1], arguments: [ByteBuffer(bytes: int32(16385)),
                                                                                                    ByteBuffer(bytes: int32(0x20000))], resultFormat: 1)),
                           ascii("F") + [0, 0, 0, 32] + int32(952) + [0, 1, 0, 1] + [0, 2] + int32(4) + int32(16385) + int32(4) + int32(0x20000) + [0, 1])
    }

    func testPasswordMessageAndSASLResponseShareTheirType() throws {
        try assertFrontend(.password("bg_token"), ascii("p") + [0, 0, 0, 13] + cstring("bg_token"))
        // SASLInitialResponse: mechanism, then a length-prefixed payload; not a password, passed through.
        let sasl = cstring("SCRAM-SHA-256") + int32(3) + Array("n,,".utf8)
        try assertFrontend(.other(type: UInt8(ascii: "p"), body: buffer(sasl)), ascii("p") + int32(Int32(4 + sasl.count)) + sasl)
    }

    func testAuthenticationRequests() throws {
        try assertBackend(.authentication(.cleartextPassword), ascii("R") + [0, 0, 0, 8] + int32(3))
        try assertBackend(.authentication(.ok), ascii("R") + [0, 0, 0, 8] + int32(0))
        try assertBackend(.authentication(.md5Password(salt: 0x0102_0304)), ascii("R") + [0, 0, 0, 12] + int32(5) + [1, 2, 3, 4])
        let sasl = cstring("SCRAM-SHA-256") + [0]
        try assertBackend(.authentication(.other(code: 10, data: buffer(sasl))), ascii("R") + int32(Int32(8 + sasl.count)) + int32(10) + sasl)
    }

    func testSessionStartMessages() throws {
        try assertBackend(.parameterStatus(name: "server_version", value: "15.0"),
                          ascii("S") + [0, 0, 0, 24] + cstring("server_version") + cstring("15.0"))
        try assertBackend(.backendKeyData(.init(processID: 99, secretKey: 12345)), ascii("K") + [0, 0, 0, 12] + int32(99) + int32(12345))
        try assertBackend(.readyForQuery(.idle), ascii("Z") + [0, 0, 0, 5] + ascii("I"))
        try assertBackend(.readyForQuery(.failedTransaction), ascii("Z") + [0, 0, 0, 5] + ascii("E"))
    }

    func testResultMessages() throws {
        try assertBackend(.commandComplete(tag: "SELECT 1"), ascii("C") + [0, 0, 0, 13] + cstring("SELECT 1"))
        try assertBackend(.errorResponse(.init(fields: [.init(code: UInt8(ascii: "S"), value: "ERROR"), .init(code: UInt8(ascii: "C"), value: "42601"),
                                                        .init(code: UInt8(ascii: "M"), value: "syntax error")])),
                          ascii("E") + [0, 0, 0, 33] + ascii("S") + cstring("ERROR") + ascii("C") + cstring("42601") + ascii("M")
                              + cstring("syntax error") + [0])
        try assertBackend(.dataRow(.init(columns: [ByteBuffer(string: "1"), nil])),
                          ascii("D") + [0, 0, 0, 15] + [0, 2] + int32(1) + Array("1".utf8) + int32(-1))
        try assertBackend(.rowDescription([.init(name: "?column?", tableOID: 0, columnAttributeNumber: 0, typeOID: 23, typeSize: 4,
                                                 typeModifier: -1, format: 0)]),
                          ascii("T") + [0, 0, 0, 33] + [0, 1] + cstring("?column?") + int32(0) + int16(0) + int32(23) + int16(4) + int32(-1)
                              + int16(0))
        try assertBackend(.emptyQueryResponse, ascii("I") + [0, 0, 0, 4])
        try assertBackend(.portalSuspended, ascii("s") + [0, 0, 0, 4])
        try assertBackend(.other(type: UInt8(ascii: "1"), body: ByteBuffer()), ascii("1") + [0, 0, 0, 4])
    }

    func testErrorTheProxyRaisesCarriesWhatPsqlShows() {
        let error = BackendMessage.ErrorFields(severity: "FATAL", sqlState: "28P01", message: "session bg_1 is not active")
        XCTAssertEqual(error.sqlState, "28P01")
        XCTAssertEqual(error.severity, "FATAL")
        XCTAssertEqual(error.message, "session bg_1 is not active")
    }
}
