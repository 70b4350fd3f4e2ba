import BreakglassProxy
import Foundation
import NIOCore
import XCTest

/// Cross-checks the hand-written vectors against what real libpq clients send, and the recorder
/// against a real client's message sequence: psql for the simple protocol, pgbench for the extended one.
final class RealClientTests: XCTestCase {
    func connection(_ port: Int) -> String {
        "host=127.0.0.1 port=\(port) user=alice dbname=payments sslmode=prefer gssencmode=disable connect_timeout=5"
    }

    func testPsqlSendsWhatTheGoldenVectorsSay() async throws {
        try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: "/usr/bin/psql"), "psql is not installed")
        let server = try await CapturingServer.start()
        let result = try await runClient("/usr/bin/psql", ["-X", "-w", "-d", connection(server.port), "-c", "SELECT 1"], password: "bg_session_token")
        var captures = server.captures.makeAsyncIterator()
        let nextCapture = await captures.next()
        let capture = try XCTUnwrap(nextCapture)
        try await server.stop()

        XCTAssertEqual(result.status, 0, result.output)
        // sslmode=prefer: an SSLRequest first, refused, then the startup on the same connection.
        XCTAssertEqual(Array(capture.bytes.prefix(8)), [0, 0, 0, 8, 0x04, 0xD2, 0x16, 0x2F])
        XCTAssertEqual(capture.messages.count, 5)
        XCTAssertEqual(capture.messages.first, .sslRequest)
        guard case .startup(let startup) = capture.messages[1] else { return XCTFail("no startup: \(capture.messages)") }
        XCTAssertEqual(startup.parameter("user"), "alice")
        XCTAssertEqual(startup.parameter("database"), "payments")
        XCTAssertEqual(Array(capture.messages.dropFirst(2)), [.password("bg_session_token"), .query("SELECT 1"), .terminate])
        // What the proxy would forward is exactly what psql sent.
        XCTAssertEqual(capture.messages.flatMap(\.bytes), capture.bytes)
    }

    func testPgbenchExtendedProtocolIsRecordedWithItsParameters() async throws {
        try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: "/usr/bin/pgbench"), "pgbench is not installed")
        let script = FileManager.default.temporaryDirectory.appendingPathComponent("proxy-\(UUID().uuidString).sql")
        try "\\set id 42\nSELECT :id AS answer, 'note' AS kind;\n".write(to: script, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: script) }
        for mode in ["extended", "prepared"] {
            let server = try await CapturingServer.start()
            let result = try await runClient("/usr/bin/pgbench", ["-n", "-M", mode, "-t", "2", "-c", "1", "-f", script.path, connection(server.port)],
                                             password: "bg_session_token")
            XCTAssertEqual(result.status, 0, "\(mode): \(result.output)")
            // pgbench logs in once to check the server, then once per client; the two may end in either order,
            // so the script's connection is the one that sent a Bind.
            var captures = server.captures.makeAsyncIterator()
            let first = await captures.next()
            let second = await captures.next()
            try await server.stop()
            let both = [try XCTUnwrap(first), try XCTUnwrap(second)]
            let sentBind = { (capture: CapturingServer.Capture) in capture.messages.contains { if case .bind = $0 { true } else { false } } }
            let capture = try XCTUnwrap(both.first(where: sentBind), mode)
            let check = try XCTUnwrap(both.first { !sentBind($0) }, mode)
            XCTAssertEqual(check.messages.last, .terminate)
            XCTAssertEqual(capture.messages.flatMap(\.bytes), capture.bytes, mode)

            var recorder = StatementRecorder()
            let all = capture.messages.flatMap { recorder.frontend($0) }
            // extended: a Parse before each Bind; prepared: one Parse, then Binds.
            XCTAssertEqual(all.filter { $0.origin == .parse(statement: mode == "extended" ? "" : "P_0") }.count, mode == "extended" ? 2 : 1, mode)
            let intents = all.filter { if case .extended = $0.origin { true } else { false } }
            XCTAssertEqual(intents.count, 2, "\(mode): \(capture.messages)")
            for intent in intents {
                XCTAssertEqual(intent.text, "SELECT $1 AS answer, 'note' AS kind;", mode)
                XCTAssertEqual(intent.parameters, [.text("42")], mode)
            }
            let outcomes = capture.replies.flatMap { recorder.backend($0) }
            XCTAssertEqual(outcomes.map(\.sequence), intents.map(\.sequence), mode)
            XCTAssertEqual(outcomes.map(\.outcome), [.completed(tag: "SELECT 1", rows: 1), .completed(tag: "SELECT 1", rows: 1)], mode)
            XCTAssertEqual(recorder.outstanding, 0, mode)
        }
    }
}
