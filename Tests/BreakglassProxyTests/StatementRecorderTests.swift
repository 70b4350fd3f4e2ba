import NIOCore
import XCTest

@testable import BreakglassProxy

/// The recorder fed the messages a real server exchanges for each flow, in order.
final class StatementRecorderTests: XCTestCase {
    let syntaxError = BackendMessage.errorResponse(.init(severity: "ERROR", sqlState: "42601", message: "syntax error at or near \"SELEC\""))
    let row = BackendMessage.dataRow(.init(columns: [ByteBuffer(string: "1")]))

    /// Feeds a conversation; returns the intents (from the client side) and the outcomes.
    func run(_ recorder: inout StatementRecorder, client: [FrontendMessage], server: [BackendMessage]) -> (intents: [StatementRecord], outcomes: [StatementRecord]) {
        let intents = client.flatMap { recorder.frontend($0) }
        let outcomes = server.flatMap { recorder.backend($0) }
        return (intents, outcomes)
    }

    func testASimpleQueryWithTwoStatementsGivesOneRecordPerResult() {
        var recorder = StatementRecorder()
        let (intents, outcomes) = run(&recorder, client: [.query("SELECT 1; UPDATE accounts SET frozen = true WHERE id = 7")], server: [
            .rowDescription([]), row, .commandComplete(tag: "SELECT 1"), .commandComplete(tag: "UPDATE 1"), .readyForQuery(.idle),
        ])
        XCTAssertEqual(intents, [StatementRecord(sequence: 0, origin: .simpleQuery, text: "SELECT 1; UPDATE accounts SET frozen = true WHERE id = 7")])
        XCTAssertEqual(outcomes.map(\.outcome), [.completed(tag: "SELECT 1", rows: 1), .completed(tag: "UPDATE 1", rows: 0)])
        XCTAssertEqual(outcomes.map(\.resultIndex), [0, 1])
        XCTAssertEqual(Set(outcomes.map(\.sequence)), [0])
        XCTAssertEqual(recorder.outstanding, 0)
    }

    func testASimpleQueryStopsAtItsFirstError() {
        var recorder = StatementRecorder()
        let (_, outcomes) = run(&recorder, client: [.query("SELECT 1; SELEC 2; SELECT 3"), .query("")], server: [
            .rowDescription([]), row, .commandComplete(tag: "SELECT 1"), syntaxError, .readyForQuery(.idle),
            .emptyQueryResponse, .readyForQuery(.idle),
        ])
        XCTAssertEqual(outcomes.map(\.outcome), [
            .completed(tag: "SELECT 1", rows: 1), .failed(sqlState: "42601", message: "syntax error at or near \"SELEC\"", rows: 0), .empty,
        ])
        XCTAssertEqual(outcomes.map(\.sequence), [0, 0, 1])
    }

    func testAnExecuteIsRecordedWithItsTextAndParameters() {
        var recorder = StatementRecorder()
        let (intents, outcomes) = run(&recorder, client: [
            .parse(.init(statement: "", query: "SELECT * FROM payments WHERE id = $1 AND blob = $2")),
            .bind(.init(portal: "", statement: "", parameterFormats: [0, 1], parameters: [ByteBuffer(string: "42"), ByteBuffer(bytes: [0xDE, 0xAD])],
                        resultFormats: [])),
            .describe(.init(kind: .portal, name: "")), .execute(.init(portal: "")), .sync,
        ], server: [
            .other(type: UInt8(ascii: "1"), body: ByteBuffer()), .other(type: UInt8(ascii: "2"), body: ByteBuffer()), .rowDescription([]),
            row, row, .commandComplete(tag: "SELECT 2"), .readyForQuery(.idle),
        ])
        XCTAssertEqual(intents, [
            StatementRecord(sequence: 0, origin: .parse(statement: ""), text: "SELECT * FROM payments WHERE id = $1 AND blob = $2"),
            StatementRecord(sequence: 1, origin: .extended(statement: "", portal: ""), text: "SELECT * FROM payments WHERE id = $1 AND blob = $2",
                            parameters: [.text("42"), .binary(hex: "dead")]),
        ])
        XCTAssertEqual(outcomes.map(\.outcome), [.completed(tag: "SELECT 2", rows: 2)])
        XCTAssertEqual(recorder.outstanding, 0)
    }

    func testAPipelineOfTwoExecutesPairsEachWithItsResult() {
        var recorder = StatementRecorder()
        let bind = { (portal: WireText, value: String) in
            FrontendMessage.bind(.init(portal: portal, statement: "ins", parameterFormats: [], parameters: [ByteBuffer(string: value), nil], resultFormats: []))
        }
        let (intents, outcomes) = run(&recorder, client: [
            .parse(.init(statement: "ins", query: "INSERT INTO notes VALUES ($1, $2)")), bind("p1", "first"), .execute(.init(portal: "p1")),
            .parse(.init(statement: "sel", query: "SELECT note FROM notes")),
            .bind(.init(portal: "p2", statement: "sel", parameterFormats: [], parameters: [], resultFormats: [])), .execute(.init(portal: "p2")),
            .sync,
        ], server: [
            .other(type: UInt8(ascii: "1"), body: ByteBuffer()), .other(type: UInt8(ascii: "2"), body: ByteBuffer()), .commandComplete(tag: "INSERT 0 1"),
            .other(type: UInt8(ascii: "1"), body: ByteBuffer()), .other(type: UInt8(ascii: "2"), body: ByteBuffer()), row, row, row,
            .commandComplete(tag: "SELECT 3"), .readyForQuery(.idle),
        ])
        let binds = intents.filter { if case .extended = $0.origin { true } else { false } }
        XCTAssertEqual(binds.map(\.text), ["INSERT INTO notes VALUES ($1, $2)", "SELECT note FROM notes"])
        XCTAssertEqual(binds[0].parameters, [.text("first"), .null])
        XCTAssertEqual(outcomes.map(\.sequence), binds.map(\.sequence))
        XCTAssertEqual(outcomes.map(\.outcome), [.completed(tag: "INSERT 0 1", rows: 0), .completed(tag: "SELECT 3", rows: 3)])
    }

    func testAnErrorMidPipelineFailsItsExecuteAndSkipsTheRestUntilSync() {
        var recorder = StatementRecorder()
        let execute = { (portal: WireText) in FrontendMessage.execute(.init(portal: portal)) }
        let bind = { (portal: WireText) in FrontendMessage.bind(.init(portal: portal, statement: "", parameterFormats: [], parameters: [], resultFormats: [])) }
        let violation = BackendMessage.errorResponse(.init(severity: "ERROR", sqlState: "23505", message: "duplicate key"))
        let (intents, outcomes) = run(&recorder, client: [
            .parse(.init(statement: "", query: "INSERT INTO t VALUES (1)")), bind("a"), execute("a"),
            bind("b"), execute("b"),
            .parse(.init(statement: "", query: "SELECT 1")), bind("c"), execute("c"), .sync,
            // After the Sync the connection works again.
            .query("SELECT 1"),
        ], server: [
            .other(type: UInt8(ascii: "1"), body: ByteBuffer()), .other(type: UInt8(ascii: "2"), body: ByteBuffer()), .commandComplete(tag: "INSERT 0 1"),
            .other(type: UInt8(ascii: "2"), body: ByteBuffer()), violation, .readyForQuery(.idle),
            row, .commandComplete(tag: "SELECT 1"), .readyForQuery(.idle),
        ])
        // parse 0, binds a 1 and b 2, parse 3, bind c 4, the query 5.
        XCTAssertEqual(intents.map(\.sequence), [0, 1, 2, 3, 4, 5])
        XCTAssertEqual(outcomes.map(\.sequence), [1, 2, 4, 5])
        XCTAssertEqual(outcomes.map(\.outcome), [
            .completed(tag: "INSERT 0 1", rows: 0), .failed(sqlState: "23505", message: "duplicate key", rows: 0), .skipped,
            .completed(tag: "SELECT 1", rows: 1),
        ])
        XCTAssertEqual(recorder.outstanding, 0)
    }

    func testAFailedParseSkipsTheExecutesOfItsPipeline() {
        var recorder = StatementRecorder()
        let (_, outcomes) = run(&recorder, client: [
            .parse(.init(statement: "", query: "SELEC 1")),
            .bind(.init(portal: "", statement: "", parameterFormats: [], parameters: [], resultFormats: [])), .execute(.init(portal: "")), .sync,
        ], server: [syntaxError, .readyForQuery(.idle)])
        XCTAssertEqual(outcomes.map(\.outcome), [.failed(sqlState: "42601", message: "syntax error at or near \"SELEC\"", rows: 0), .skipped])
        XCTAssertEqual(outcomes.first?.origin, .parse(statement: ""))
        XCTAssertEqual(recorder.outstanding, 0)
    }

    func testARowLimitSuspendsThePortalAndEachExecuteAddsAnOutcomeToItsBind() {
        var recorder = StatementRecorder()
        let (_, outcomes) = run(&recorder, client: [
            .parse(.init(statement: "", query: "SELECT generate_series(1, 3)")),
            .bind(.init(portal: "cur", statement: "", parameterFormats: [], parameters: [], resultFormats: [])),
            .execute(.init(portal: "cur", maxRows: 2)), .execute(.init(portal: "cur", maxRows: 2)), .sync,
        ], server: [
            .other(type: UInt8(ascii: "1"), body: ByteBuffer()), .other(type: UInt8(ascii: "2"), body: ByteBuffer()), row, row, .portalSuspended,
            row, .commandComplete(tag: "SELECT 1"), .readyForQuery(.idle),
        ])
        XCTAssertEqual(outcomes.map(\.outcome), [.suspended(rows: 2), .completed(tag: "SELECT 1", rows: 1)])
        XCTAssertEqual(outcomes.map(\.sequence), [1, 1])
    }

    func testTheLoginsReadyForQueryIsNotTakenForASync() {
        // Found by replaying pgbench's conversation: the ReadyForQuery ending the login skipped the
        // first pipeline when the client's messages were already queued.
        var recorder = StatementRecorder()
        let (_, outcomes) = run(&recorder, client: [
            .startup(.init(parameters: [("user", "alice")])), .password("bg_token"),
            .parse(.init(statement: "", query: "SELECT 1")),
            .bind(.init(portal: "", statement: "", parameterFormats: [], parameters: [], resultFormats: [])), .execute(.init(portal: "")), .sync,
        ], server: [
            .authentication(.cleartextPassword), .authentication(.ok), .parameterStatus(name: "server_version", value: "15.0"),
            .backendKeyData(.init(processID: 1, secretKey: 2)), .readyForQuery(.idle),
            .other(type: UInt8(ascii: "1"), body: ByteBuffer()), .other(type: UInt8(ascii: "2"), body: ByteBuffer()), row,
            .commandComplete(tag: "SELECT 1"), .readyForQuery(.idle),
        ])
        XCTAssertEqual(outcomes.map(\.outcome), [.completed(tag: "SELECT 1", rows: 1)])
        XCTAssertEqual(recorder.outstanding, 0)
    }

    func testAFunctionCallIsRecordedWithItsArgumentsAndResult() {
        var recorder = StatementRecorder()
        let (intents, outcomes) = run(&recorder, client: [
            .functionCall(.init(functionOID: 952, argumentFormats: [1], arguments: [ByteBuffer(bytes: int32(16385)), nil], resultFormat: 1)),
            .query("SELECT 1"),
        ], server: [
            .other(type: UInt8(ascii: "V"), body: ByteBuffer(bytes: int32(4) + int32(7))), .readyForQuery(.idle),
            .commandComplete(tag: "SELECT 0"), .readyForQuery(.idle),
        ])
        XCTAssertEqual(intents.first, StatementRecord(sequence: 0, origin: .functionCall(oid: 952), text: nil, parameters: [.binary(hex: "00004001"), .null]))
        XCTAssertEqual(outcomes.map(\.outcome), [.returned(.binary(hex: "00000007")), .completed(tag: "SELECT 0", rows: 0)])
        XCTAssertEqual(recorder.outstanding, 0)
    }

    func testRedactionKeepsTheSizeButNotTheValue() {
        var recorder = StatementRecorder(redaction: .redactValues)
        _ = recorder.frontend(.parse(.init(statement: "", query: "UPDATE cards SET pan = $1")))
        let intents = recorder.frontend(.bind(.init(portal: "", statement: "", parameterFormats: [],
                                                    parameters: [ByteBuffer(string: "4111111111111111"), nil], resultFormats: [])))
        XCTAssertEqual(recorder.frontend(.execute(.init(portal: ""))), [], "the Bind was the intent")
        XCTAssertEqual(intents.first?.parameters, [.redacted(byteCount: 16), .null])
        XCTAssertEqual(intents.first?.text, "UPDATE cards SET pan = $1")
    }

    // MARK: what ran is what is recorded (found in review, each sequence confirmed on PostgreSQL 15)

    func testAParseIsRecordedBeforeItReachesTheServerSoSQLsExecuteNamesRecordedText() {
        var recorder = StatementRecorder()
        let intents = recorder.frontend(.parse(.init(statement: "s9", query: "DELETE FROM t")))
        XCTAssertEqual(intents, [StatementRecord(sequence: 0, origin: .parse(statement: "s9"), text: "DELETE FROM t")])
    }

    func testAPortalKeepsTheTextItWasBoundWithWhenItsStatementIsReplacedOrClosed() {
        var recorder = StatementRecorder()
        _ = recorder.frontend(.parse(.init(statement: "", query: "DELETE FROM t")))
        _ = recorder.frontend(.bind(.init(portal: "", statement: "", parameterFormats: [], parameters: [], resultFormats: [])))
        _ = recorder.frontend(.parse(.init(statement: "", query: "SELECT 1")))
        _ = recorder.frontend(.execute(.init(portal: "")))
        _ = recorder.frontend(.parse(.init(statement: "s2", query: "DELETE FROM u")))
        _ = recorder.frontend(.bind(.init(portal: "p", statement: "s2", parameterFormats: [], parameters: [], resultFormats: [])))
        _ = recorder.frontend(.close(.init(kind: .statement, name: "s2")))
        _ = recorder.frontend(.execute(.init(portal: "p")))
        _ = recorder.frontend(.sync)
        let one = BackendMessage.other(type: UInt8(ascii: "1"), body: ByteBuffer()), two = BackendMessage.other(type: UInt8(ascii: "2"), body: ByteBuffer())
        let outcomes = [one, two, one, .commandComplete(tag: "DELETE 5"), one, two, .other(type: UInt8(ascii: "3"), body: ByteBuffer()),
                        .commandComplete(tag: "DELETE 2"), .readyForQuery(.idle)].flatMap { recorder.backend($0) }
        XCTAssertEqual(outcomes.map(\.text), ["DELETE FROM t", "DELETE FROM u"])
        XCTAssertEqual(outcomes.map(\.outcome), [.completed(tag: "DELETE 5", rows: 0), .completed(tag: "DELETE 2", rows: 0)])
    }

    func testARefusedParseOfAnExistingNameDoesNotChangeTheTextItsBindsAreRecordedWith() {
        var recorder = StatementRecorder()
        _ = recorder.frontend(.parse(.init(statement: "s1", query: "DELETE FROM t")))
        _ = recorder.frontend(.sync)
        _ = recorder.frontend(.parse(.init(statement: "s1", query: "SELECT 1")))  // the server answers 42P05
        _ = recorder.frontend(.sync)
        let bind = recorder.frontend(.bind(.init(portal: "", statement: "s1", parameterFormats: [], parameters: [], resultFormats: [])))
        XCTAssertEqual(bind.map(\.text), ["DELETE FROM t"])
    }

    func testAnExecuteOfAPortalNoBindMadeIsRecordedByName() {
        // DECLARE c CURSOR FOR … (recorded as SQL) opens portal "c", which an Execute can then fetch from.
        var recorder = StatementRecorder()
        let intents = recorder.frontend(.execute(.init(portal: "c")))
        XCTAssertEqual(intents, [StatementRecord(sequence: 0, origin: .extended(statement: "", portal: "c"), text: nil)])
    }

    func testAQueryStringWithManyResultsKeepsTheFirstOnesAndCountsTheRest() {
        var recorder = StatementRecorder()
        _ = recorder.frontend(.query(WireText(String(repeating: "SELECT 1;", count: 150))))
        var outcomes: [StatementRecord] = []
        for _ in 0..<150 { outcomes += recorder.backend(.commandComplete(tag: "SELECT 1")) }
        outcomes += recorder.backend(.readyForQuery(.idle))
        XCTAssertEqual(outcomes.count, StatementRecorder.resultsKeptPerQuery + 1)
        XCTAssertEqual(outcomes.last?.outcome, .omitted(results: 150 - StatementRecorder.resultsKeptPerQuery, failed: 0))
        XCTAssertTrue(outcomes.allSatisfy { $0.text == nil }, "results refer to the query's intent; they do not repeat its text")
        XCTAssertEqual(recorder.outstanding, 0)
    }

    func testTextThatIsNotUTF8IsRecordedAsHex() {
        XCTAssertEqual(RedactionPolicy.recordValues.record(ByteBuffer(bytes: [0x63, 0x61, 0x66, 0xE9]), format: 0), .binary(hex: "636166e9"))
        XCTAssertEqual(RedactionPolicy.recordValues.record(ByteBuffer(string: "café"), format: 0), .text("café"))
    }
}
