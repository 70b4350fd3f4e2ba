import BreakglassProxy
import BreakglassTestSupport
import Foundation
import Logging
import NIOCore
import NIOPosix
import PostgresNIO
import XCTest

/// psql through the proxy to the throwaway cluster, with the broker's side (session check, records)
/// played by closures: the proxy's own behaviour, without the broker's database.
final class ProxyServerTests: XCTestCase {
    actor Records {
        var all: [StatementRecord] = []
        var failing = false
        var slowText: String?
        func append(_ records: [StatementRecord]) async throws {
            struct Unavailable: Error {}
            if failing { throw Unavailable() }
            // A commit that takes its time, as a durable one can: the target answers meanwhile. Not a wait
            // for anything: the sleep only widens the window, and ends early when the proxy cancels it.
            if let slowText, records.contains(where: { $0.text == slowText }) { try? await Task.sleep(for: .milliseconds(200)) }
            all += records
        }
        func fail() { failing = true }
        func slow(_ text: String) { slowText = text }
    }

    actor Ends {
        var reasons: [String] = []
        func append(_ reason: String) { reasons.append(reason) }
    }

    let token = "bgp_test-token"
    let records = Records()
    let ends = Ends()
    var proxy: ProxyServer!
    var serving: Task<Void, any Error>?

    override func setUp() async throws {
        try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: "/usr/bin/psql"), "psql is not installed")
        let environment = ProcessInfo.processInfo.environment
        guard let host = environment["PGHOST"], let port = environment["PGPORT"].flatMap(Int.init), let user = environment["PGUSER"],
            let password = environment["PGPASSWORD"]
        else { throw XCTSkip("no PostgreSQL cluster: run under scripts/with-postgres.sh") }
        let grant = ProxyGrant(session: "bg_TESTSESSION", target: .init(host: host, port: port, database: "postgres"), role: user, password: password)
        let token = self.token
        let records = self.records, ends = self.ends
        proxy = try await ProxyServer.bind(
            host: "127.0.0.1", port: 0,
            hooks: ProxyHooks(authenticate: { user, password, _ in user == grant.session && password == token ? grant : nil },
                              record: { _, new in try await records.append(new) }, closed: { _, reason in await ends.append(reason) }),
            startupTimeout: .seconds(2), logger: Logger(label: "proxy-test"))
        serving = Task { [proxy] in try await proxy!.run() }
    }

    override func tearDown() async throws {
        serving?.cancel()
        await proxy?.close()
    }

    func psql(_ sql: String, user: String = "bg_TESTSESSION", password: String? = nil) async throws -> (status: Int32, output: String) {
        try await runClient("/usr/bin/psql", ["-X", "-w", "-At", "-d",
                                              "host=127.0.0.1 port=\(proxy.port) user=\(user) dbname=anything sslmode=prefer connect_timeout=5",
                                              "-c", sql], password: password ?? token)
    }

    func testPsqlRunsThroughTheProxyAndEachStatementIsRecordedWithItsResult() async throws {
        let result = try await psql("SELECT 40 + 2")
        XCTAssertEqual(result.status, 0, result.output)
        XCTAssertEqual(result.output.trimmingCharacters(in: .whitespacesAndNewlines), "42")
        let recorded = await records.all
        XCTAssertEqual(recorded.map(\.text), ["SELECT 40 + 2", nil], "the result refers to its intent; it does not repeat the text")
        XCTAssertNil(recorded.first?.outcome, "the intent is recorded before the statement runs")
        XCTAssertEqual(recorded.last?.outcome, .completed(tag: "SELECT 1", rows: 1))
    }

    func testAWrongTokenIsRefusedAsABadPassword() async throws {
        let result = try await psql("SELECT 1", password: "bgp_wrong")
        XCTAssertNotEqual(result.status, 0)
        XCTAssertTrue(result.output.contains("password authentication failed"), result.output)
        let recorded = await records.all
        XCTAssertTrue(recorded.isEmpty)
    }

    func testAStatementThatCannotBeRecordedIsNotRun() async throws {
        await records.fail()
        let table = "proxy_fail_closed_\(UInt32.random(in: 0...UInt32.max))"
        let result = try await psql("CREATE TABLE \(table) (id int)")
        XCTAssertNotEqual(result.status, 0)
        XCTAssertTrue(result.output.contains("could not record this statement"), result.output)
        // Straight to the cluster, not through the proxy: the statement never reached it.
        let check = try await runClient("/usr/bin/psql", ["-X", "-w", "-At", "-d", direct(), "-c", "SELECT to_regclass('\(table)') IS NULL"],
                                        password: ProcessInfo.processInfo.environment["PGPASSWORD"] ?? "")
        XCTAssertEqual(check.output.trimmingCharacters(in: .whitespacesAndNewlines), "t", check.output)
    }

    func direct() -> String {
        let environment = ProcessInfo.processInfo.environment
        return "host=\(environment["PGHOST"] ?? "") port=\(environment["PGPORT"] ?? "") user=\(environment["PGUSER"] ?? "") dbname=postgres sslmode=disable"
    }

    func testACancelRequestWithTheConnectionsKeyCancelsItsStatement() async throws {
        // psql under XCTest never gets the SIGINT that would make it cancel, so this client is written out:
        // log in through the proxy, start a long statement, cancel it with the key the proxy replayed.
        let port = proxy.port
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connect(host: "127.0.0.1", port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandlers(ByteToMessageHandler(BackendMessageDecoder()),
                                                                    MessageToByteHandler(FrontendMessageEncoder()))
                    return try NIOAsyncChannel<BackendMessage, FrontendMessage>(wrappingChannelSynchronously: channel)
                }
            }
        let started = Date()
        let records = self.records
        let token = self.token
        let sqlState = try await channel.executeThenClose { inbound, outbound in
            var messages = inbound.makeAsyncIterator()
            try await outbound.write(.startup(.init(parameters: [(name: "user", value: "bg_TESTSESSION"), (name: "database", value: "x")])))
            var key: FrontendMessage.BackendKey?
            while let message = try await messages.next() {
                if case .authentication(.cleartextPassword) = message { try await outbound.write(.password(WireText(token))) }
                if case .backendKeyData(let k) = message { key = k }
                if case .readyForQuery = message { break }
            }
            let backendKey = try XCTUnwrap(key)
            try await outbound.write(.query("SELECT pg_sleep(30)"))
            // The intent is committed before the query reaches the target: cancel once the target runs it, not before.
            try await waitFor("the query recorded and running on the target") {
                guard await !records.all.isEmpty else { return false }
                return try await Self.onTarget("SELECT count(*) FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(30)' AND state = 'active'") == "1"
            }
            let cancel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton).connect(host: "127.0.0.1", port: port).get()
            var buffer = ByteBuffer()
            FrontendMessage.cancelRequest(backendKey).encode(into: &buffer)
            try await cancel.writeAndFlush(buffer).get()
            try await cancel.closeFuture.get()
            while let message = try await messages.next() {
                if case .errorResponse(let fields) = message { return fields.sqlState }
                if case .readyForQuery = message { return nil }
            }
            return nil
        }
        XCTAssertEqual(sqlState, "57014")
        XCTAssertLessThan(Date().timeIntervalSince(started), 20)
    }

    /// One value from the target itself, straight (not through the proxy), as the test cluster's superuser.
    static func onTarget(_ sql: String) async throws -> String {
        let environment = ProcessInfo.processInfo.environment
        let dsn = "host=\(environment["PGHOST"] ?? "") port=\(environment["PGPORT"] ?? "") user=\(environment["PGUSER"] ?? "") dbname=postgres"
        let result = try await runClient("/usr/bin/psql", ["-X", "-w", "-At", "-d", dsn, "-c", sql], password: environment["PGPASSWORD"] ?? "")
        return result.output.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    func testACancelRequestWithAKeyOfNoProxiedBackendEndsThatConnectionOnly() async throws {
        // A key no connection of the proxy was given (the registry has none): the proxy closes that connection and serves the next.
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton).connect(host: "127.0.0.1", port: proxy.port).get()
        var buffer = ByteBuffer()
        FrontendMessage.cancelRequest(.init(processID: 1, secretKey: 2)).encode(into: &buffer)
        try await channel.writeAndFlush(buffer).get()
        try await channel.closeFuture.get()
        let result = try await psql("SELECT 1")
        XCTAssertEqual(result.status, 0, result.output)
    }

    func testCuttingTheSessionEndsAnOpenConnection() async throws {
        let started = Date()
        let port = proxy.port, token = token
        async let result = runClient("/usr/bin/psql", ["-X", "-w", "-At", "-d", "host=127.0.0.1 port=\(port) user=bg_TESTSESSION sslmode=prefer",
                                                      "-c", "SELECT pg_sleep(30)"], password: token)
        try await waitFor("the connection registered") { await proxy.connections.count(session: "bg_TESTSESSION") > 0 }
        let cut = await proxy.connections.cut(session: "bg_TESTSESSION")
        XCTAssertEqual(cut, 1)
        let ended = try await result
        XCTAssertNotEqual(ended.status, 0)
        XCTAssertLessThan(Date().timeIntervalSince(started), 20)
    }

    /// A client that sends two statements and Terminate and resets its socket at once (the proxy's answers
    /// unread): while the second statement is being recorded, the target answers the first and the proxy
    /// finds the client gone, before its task has taken the Terminate. The Terminate is still what ended
    /// the connection, and the statement recorded meanwhile still runs.
    func testAClientThatSaysTerminateThenResetsEndsTheOrdinaryWay() async throws {
        await records.slow("SELECT 2")
        for _ in 0..<3 {
            try await RawClient.login(port: proxy.port, user: "bg_TESTSESSION", password: token)
                .sendAndReset([.query("SELECT 1"), .query("SELECT 2"), .terminate])
        }
        try await assertEnds(Array(repeating: "ended", count: 3), answers: 6, "both statements ran and their answers were recorded")
    }

    /// Without Terminate, a reset and a plain close are the same thing, told the same way: which of the two
    /// the kernel sends depends only on whether unread bytes were left in the socket.
    func testAClientThatLeavesWithoutTerminateIsRecordedSoWhetherItResetsOrCloses() async throws {
        for reset in [true, false, true, false] {
            let client = try await RawClient.login(port: proxy.port, user: "bg_TESTSESSION", password: token)
            try await reset ? client.sendAndReset([.query("SELECT 1")]) : client.sendAndClose([.query("SELECT 1")])
        }
        try await assertEnds(Array(repeating: "ended: the client closed the connection without Terminate", count: 4), answers: 4,
                             "the target's answer to a client that left is still recorded")
    }

    /// Waits until as many connections as expected recorded their end, then checks why they ended and how
    /// many statement results were recorded.
    func assertEnds(_ expected: [String], answers: Int, _ message: String, line: UInt = #line) async throws {
        try await waitFor("every connection recorded its end") { await self.ends.reasons.count == expected.count }
        let reasons = await ends.reasons
        XCTAssertEqual(reasons, expected, line: line)
        let answered = await records.all.filter { $0.outcome != nil }
        XCTAssertEqual(answered.count, answers, message, line: line)
    }

    func testMalformedStartupBytesCloseTheConnectionAndTheProxyGoesOn() async throws {
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton).connect(host: "127.0.0.1", port: proxy.port).get()
        try await channel.writeAndFlush(ByteBuffer(bytes: [0xFF, 0xFF, 0xFF, 0xFF, 1, 2, 3, 4])).get()
        try await channel.closeFuture.get()
        let result = try await psql("SELECT 7")
        XCTAssertEqual(result.status, 0, result.output)
    }
}

extension ProxyServerTests {
    func testBindParametersOfAnExtendedProtocolClientAreRecorded() async throws {
        let configuration = PostgresConnection.Configuration(host: "127.0.0.1", port: proxy.port, username: "bg_TESTSESSION", password: token,
                                                             database: "anything", tls: .disable)
        let connection = try await PostgresConnection.connect(configuration: configuration, id: 1, logger: Logger(label: "proxy-client"))
        let amount = 4521
        let rows = try await connection.query("SELECT \(amount)::int + 1 AS total", logger: Logger(label: "proxy-client"))
        var totals: [Int] = []
        for try await (total) in rows.decode(Int.self) { totals.append(total) }
        try await connection.close()
        XCTAssertEqual(totals, [4522])
        let all = await records.all
        // The Parse with its text, the Bind with text and value (postgres-nio binds an Int as 8 binary bytes),
        // then the outcome under the Bind's sequence.
        let recorded = all.filter { $0.text == "SELECT $1::int + 1 AS total" }
        XCTAssertEqual(recorded.map(\.origin), [.parse(statement: ""), .extended(statement: "", portal: ""), .extended(statement: "", portal: "")], "\(all)")
        XCTAssertEqual(recorded[1].parameters, [.binary(hex: "00000000000011a9")])
        XCTAssertEqual(recorded[2].sequence, recorded[1].sequence)
        XCTAssertEqual(recorded.last?.outcome, .completed(tag: "SELECT 1", rows: 1))
    }
}

extension ProxyServerTests {
    func testAClientThatNeverLogsInIsDisconnected() async throws {
        let started = Date()
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton).connect(host: "127.0.0.1", port: proxy.port).get()
        try await channel.closeFuture.get()
        XCTAssertLessThan(Date().timeIntervalSince(started), 10)
        let result = try await psql("SELECT 1")
        XCTAssertEqual(result.status, 0, result.output)
    }
}
