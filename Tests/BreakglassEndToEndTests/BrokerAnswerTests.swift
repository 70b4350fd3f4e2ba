import BreakglassTestSupport
import Foundation
import XCTest

/// The CLI reads every answer through the client generated from the contract. A broker, or whatever answers in its
/// place, that strays from the contract gets a clear error and the exit code of its kind, never a half-read success.
final class BrokerAnswerTests: XCTestCase {
    var broker: LoopbackReceiver!
    let endPath = "/v1/sessions/bg_TEST/end"

    override func setUp() async throws {
        broker = LoopbackReceiver()
        try await broker.start()
    }

    override func tearDown() async throws {
        await broker.stop()
    }

    func end(_ extra: [String] = []) async throws -> CommandResult {
        try await Tools.run(Tools.binDirectory.appendingPathComponent("breakglass").path, ["end", "bg_TEST"] + extra,
                            environment: ["BREAKGLASS_URL": broker.url(""), "BREAKGLASS_TOKEN": "bgt_test",
                                          "BREAKGLASS_CREDENTIALS": "/nonexistent/breakglass/credentials.json"])
    }

    func answer(_ status: Int, _ body: String, type: String = "application/json") async {
        await broker.script(endPath, [.init(status: status, headers: ["Content-Type": type], body: body)])
    }

    func testAnAnswerMissingAFieldOfTheContractIsNotUnderstood() async throws {
        await answer(200, #"{"id":"bg_TEST"}"#)
        let result = try await end()
        XCTAssertEqual(result.status, 70, result.stderr)
        XCTAssertEqual(result.stderr, "breakglass: the broker's answer to \(endPath) (HTTP 200) was not understood: 'requester' is missing\n")
        XCTAssertEqual(result.stdout, "")
        // What every request carries, whatever the operation.
        let received = await broker.received(endPath)
        let request = try XCTUnwrap(received.first)
        XCTAssertEqual(request.headers["user-agent"], "breakglass-cli/1")
        XCTAssertEqual(request.headers["authorization"], "Bearer bgt_test")
    }

    func testASuccessStatusTheContractDoesNotListIsNotUnderstood() async throws {
        await answer(204, "")
        let result = try await end()
        XCTAssertEqual(result.status, 70, result.stderr)
        XCTAssertEqual(result.stderr, "breakglass: the broker's answer to \(endPath) (HTTP 204) was not understood\n")
    }

    func testARefusalCarriesTheBrokersCodeAndMessageInTheContractsShape() async throws {
        await answer(409, #"{"error":{"code":"session_not_active","message":"session bg_TEST is ended, not active"}}"#)
        let result = try await end(["--json"])
        XCTAssertEqual(result.status, 77, result.stderr)
        XCTAssertEqual(result.stderr, #"{"error":{"code":"session_not_active","message":"session bg_TEST is ended, not active"}}"# + "\n")
    }

    func testAProxysErrorPageIsReportedByItsStatus() async throws {
        await answer(502, "<html><body>Bad Gateway</body></html>", type: "text/html")
        let result = try await end()
        XCTAssertEqual(result.status, 69, result.stderr)
        XCTAssertEqual(result.stderr, "breakglass: the broker answered 502\n")
    }
}
