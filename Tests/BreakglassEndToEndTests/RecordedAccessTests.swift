import BreakglassCore
import BreakglassServer
import BreakglassStore
import BreakglassTestSupport
import Foundation
import Logging
import NIOCore
import NIOPosix
import PostgresNIO
import XCTest

/// `recorded` access end to end: the broker's own PostgreSQL proxy in front of a real target, reached with
/// `breakglass psql` and with postgres-nio (Bind parameters), every statement in the session's log and
/// evidence pack in order, the connection cut at revoke and refused after expiry.
final class RecordedAccessTests: PostgresTargetTestCase {
    override var access: String { "recorded" }
    override var serverProxy: Bool { true }

    /// Breaks glass over HTTP and returns the session id and the proxy login shown once.
    func breakGlassRecorded() async throws -> (id: String, proxy: [String: Any]) {
        let reply = try await requestSession(target: "payments-db", token: engineer.token, secret: engineer.secret)
        XCTAssertEqual(reply.status, 201, reply.text)
        nextStep()
        let session = try XCTUnwrap(reply.json["session"] as? [String: Any])
        let credential = try XCTUnwrap(reply.json["credential"] as? [String: Any])
        XCTAssertNil(credential["postgres"], "in recorded mode the engineer never sees the role's password")
        return (try XCTUnwrap(session["id"] as? String), try XCTUnwrap(credential["proxy"] as? [String: Any], reply.text))
    }

    func proxyEnvironment(_ proxy: [String: Any], token: String? = nil) -> [String: String] {
        ["PGHOST": "127.0.0.1", "PGPORT": String(proxy["port"] as! Int), "PGUSER": proxy["user"] as! String,
         "PGPASSWORD": token ?? proxy["password"] as! String, "PGDATABASE": proxy["database"] as! String, "PGSSLMODE": "prefer",
         "PGCONNECT_TIMEOUT": "5"]
    }

    /// A postgres-nio connection through the proxy, closed when the test ends if the proxy has not closed it.
    func connectThroughProxy(_ id: String, _ proxy: [String: Any], connectionID: Int) async throws -> PostgresConnection {
        let connection = try await PostgresConnection.connect(
            configuration: .init(host: "127.0.0.1", port: proxy["port"] as! Int, username: id, password: try XCTUnwrap(proxy["password"] as? String),
                                 database: targetDatabase, tls: .disable),
            id: connectionID, logger: Logger(label: "recorded-access-test"))
        addTeardownBlock { try? await connection.close() }
        return connection
    }

    /// The session's statement log as `breakglass session log --json` prints it: (type, details) in order.
    func statementLog(_ id: String) async throws -> [(type: String, details: [String: String])] {
        let result = try await bob(["session", "log", id, "--json"])
        XCTAssertEqual(result.status, 0, result.stderr)
        let events = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [[String: Any]], result.stdout)
        return events.map { view in
            let event = view["event"] as! [String: Any]
            return (event["type"] as! String, event["details"] as? [String: String] ?? [:])
        }
    }

    override func setUp() async throws {
        try await super.setUp()
        try await makePostgresTarget()
    }

    /// The CLI as the engineer: the proxy login it saves lands next to its credentials, in this test's scratch.
    func bob(_ arguments: [String]) async throws -> CommandResult {
        try await Tools.cli(arguments, server: server, credentials: credentialsPath("bob"),
                            extra: ["BREAKGLASS_TOKEN": engineer.token, "BREAKGLASS_PSQL": "/usr/bin/psql"])
    }

    func testPsqlThroughBreakglassIsRecordedStatementByStatementWithBindParametersInOrder() async throws {
        let request = try await bob(["request", "payments-db", "--reason", "INC-4521 lock pile-up, kill blockers", "--incident", "INC-4521",
                                     "--ttl", "30m", "--totp", try code(engineer.secret)])
        XCTAssertEqual(request.status, 0, request.stderr + request.stdout)
        let id = try XCTUnwrap(request.stdout.split(separator: "\n").compactMap { line -> String? in
            let words = line.split(separator: " ")
            return words.count == 3 && words[0] == "breakglass" && words[1] == "psql" ? String(words[2]) : nil
        }.first, request.stdout)
        nextStep()

        // The token was saved 0600 and printed nowhere.
        let saved = scratch.appendingPathComponent("sessions/\(id).json").path
        let attributes = try FileManager.default.attributesOfItem(atPath: saved)
        XCTAssertEqual((attributes[.posixPermissions] as? NSNumber)?.intValue, 0o600)
        let login = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: saved))) as? [String: Any])
        let token = try XCTUnwrap(login["token"] as? String)
        XCTAssertTrue(token.hasPrefix("bgp_"))
        XCTAssertFalse(request.stdout.contains(token) || request.stderr.contains(token))

        let psql = try await bob(["psql", id, "--", "-At", "-v", "ON_ERROR_STOP=1", "-c", "SELECT current_user", "-c", "SELECT amount FROM payments"])
        XCTAssertEqual(psql.status, 0, psql.stderr)
        XCTAssertEqual(psql.stdout.split(separator: "\n"), [Substring(id.lowercased()), "4521"])

        // A client that binds its parameters (the extended protocol): the value is recorded with the statement.
        let env = try await bob(["psql", id, "--print-env"])
        XCTAssertEqual(env.status, 0, env.stderr)
        XCTAssertTrue(env.stdout.contains("export PGPASSWORD=\(token)"), env.stdout)
        let port = try XCTUnwrap(server.proxyPort)
        let connection = try await PostgresConnection.connect(
            configuration: .init(host: "127.0.0.1", port: port, username: id, password: token, database: targetDatabase, tls: .disable),
            id: 1, logger: Logger(label: "recorded-access-test"))
        let amount = try await connection.query("SELECT amount FROM payments WHERE id = \(TextParameter("1"))::int", logger: connection.logger)
            .collect().first?.decode(Int.self)
        XCTAssertEqual(amount, 4521)
        do {
            _ = try await connection.query("DELETE FROM payments", logger: connection.logger).collect()
            XCTFail("the role has only what the granted role has")
        } catch let error as PSQLError {
            XCTAssertEqual(error.serverInfo?[.sqlState], "42501")
        }
        // postgres-nio's close() drops the socket without a word; closeGracefully() says Terminate once the
        // last answer (the ReadyForQuery behind the error) is in.
        try await connection.closeGracefully()

        // Results are committed behind their statements without holding up the answer: wait for them.
        try await waitUntil {
            let log = try await self.statementLog(id)
            return log.filter { $0.type == "session.statement_result" }.count == 4 && log.filter { $0.type == "session.proxy_disconnected" }.count == 2
        }
        let log = try await statementLog(id)
        XCTAssertEqual(log.filter { $0.type == "session.proxy_disconnected" }.map { $0.details["reason"] }, ["ended", "ended"],
                       "a client that says Terminate ended its own connection")
        let intents = log.filter { $0.type == "session.statement" }
        // A prepared statement's text is recorded at its Parse, then with its parameters at Bind (the execution).
        XCTAssertEqual(intents.filter { $0.details["protocol"] == "parse" }.map { $0.details["sql"] },
                       ["SELECT amount FROM payments WHERE id = $1::int", "DELETE FROM payments"])
        let statements = intents.filter { $0.details["protocol"] != "parse" }
        XCTAssertEqual(statements.map { $0.details["sql"] },
                       ["SELECT current_user", "SELECT amount FROM payments", "SELECT amount FROM payments WHERE id = $1::int", "DELETE FROM payments"])
        XCTAssertEqual(statements[2].details["parameters"], "[\"1\"]")
        let results = log.filter { $0.type == "session.statement_result" }
        XCTAssertEqual(results.map { $0.details["result"] }, ["completed", "completed", "completed", "failed"])
        XCTAssertEqual(results.last?.details["sqlstate"], "42501")
        // Each statement's intent is committed before its result, and each connection opens and closes.
        XCTAssertEqual(log.first?.type, "session.proxy_connected")
        XCTAssertEqual(log.filter { $0.type == "session.proxy_connected" }.count, 2)
        for statement in statements {
            let index = log.firstIndex { $0.type == "session.statement" && $0.details == statement.details }!
            let result = log.firstIndex { $0.type == "session.statement_result" && $0.details["connection"] == statement.details["connection"]
                && $0.details["sequence"] == statement.details["sequence"] }!
            XCTAssertLessThan(index, result)
        }
        let human = try await bob(["session", "log", id])
        XCTAssertTrue(human.stdout.contains("SELECT amount FROM payments WHERE id = $1::int  parameters [\"1\"]"), human.stdout)
        XCTAssertTrue(human.stdout.contains("→ ERROR 42501"), human.stdout)

        // The evidence pack carries them, in the same order.
        let compliance = try await enrolledUser("carol", roles: [.compliance])
        let pack = try await http.send(.GET, "/v1/compliance/sessions/\(id)/evidence", token: compliance.token)
        XCTAssertEqual(pack.status, 200, pack.text)
        let packed = ((pack.json["audit"] as? [String: Any])?["events"] as? [[String: Any]] ?? []).compactMap { view -> String? in
            let event = view["event"] as? [String: Any]
            return event?["type"] as? String == "session.statement" ? (event?["details"] as? [String: String])?["sql"] : nil
        }
        XCTAssertEqual(packed, intents.map { $0.details["sql"]! })
        // And the compliance session page, each statement beside what the target answered.
        let page = try await http.send(.GET, "/compliance/sessions/\(id)", token: compliance.token)
        XCTAssertEqual(page.status, 200)
        let table = try XCTUnwrap(page.text.firstMatch(of: /<table id="statements">.*?<\/table>/.dotMatchesNewlines())?.0, page.text)
        XCTAssertTrue(table.contains("<code>SELECT amount FROM payments WHERE id = $1::int</code></td><td>[&quot;1&quot;]</td><td>SELECT 1 (1 rows)</td>"),
                      String(table))
        XCTAssertTrue(table.contains("ERROR 42501: permission denied for table payments"), String(table))

        // Verify holds, and names a superuser's edit of a recorded statement.
        let verifyCLI = try await Tools.cli(["audit", "verify"], server: server, credentials: credentialsPath("carol"),
                                            extra: ["BREAKGLASS_TOKEN": compliance.token])
        XCTAssertEqual(verifyCLI.status, 0, verifyCLI.stdout + verifyCLI.stderr)
        try await database.asSuperuser("""
            DO $$ BEGIN
                SET LOCAL session_replication_role = replica;
                UPDATE audit_events SET body = replace(body, 'DELETE FROM payments', 'SELECT 1 FROM payments')
                WHERE event_type = 'session.statement' AND session_id = '\(id)';
            END $$
            """)
        let edited = try await database.lines("""
            SELECT id::text FROM audit_events WHERE event_type = 'session.statement' AND session_id = '\(id)' AND body LIKE '%SELECT 1 FROM payments%' ORDER BY id
            """)
        let broken = try await Tools.cli(["audit", "verify"], server: server, credentials: credentialsPath("carol"),
                                         extra: ["BREAKGLASS_TOKEN": compliance.token])
        XCTAssertEqual(broken.status, 1)
        XCTAssertTrue(broken.stdout.contains("event \(edited.first ?? "?") "), broken.stdout)
    }

    func testTheConnectionIsCutAtRevokeAndRefusedAfterwardsAndAfterExpiry() async throws {
        let (id, proxy) = try await breakGlassRecorded()
        let open = try await Tools.start("/usr/bin/psql", ["-X", "-At", "-c", "SELECT pg_sleep(60)"], environment: proxyEnvironment(proxy))
        defer { open.stop(SIGKILL) }
        // And one idle between statements: both are the broker's to end.
        let idle = try await connectThroughProxy(id, proxy, connectionID: 3)
        try await waitUntil {
            try await !self.rows(database: "postgres", "SELECT usename::text FROM pg_stat_activity WHERE usename = '\(id.lowercased())'").isEmpty
        }
        let revoked = try await adminSend(.POST, "/v1/sessions/\(id)/revoke", as: admin, json: ["reason": "INC-4521 access no longer needed"])
        XCTAssertEqual(revoked.status, 200, revoked.text)
        var result: CommandResult?
        try await waitUntil { result = try await open.exited(); return result != nil }
        XCTAssertNotEqual(result?.status, 0)
        // psql has gone; the idle connection is dropped by the proxy on its own event loop, a moment later.
        try await waitUntil { await self.server.broker.recordingProxy.connections.count(session: id) == 0 }
        let after = try await Tools.run("/usr/bin/psql", ["-X", "-At", "-c", "SELECT 1"], environment: proxyEnvironment(proxy))
        XCTAssertNotEqual(after.status, 0)
        XCTAssertTrue(after.stderr.contains("password authentication failed"), after.stderr)
        try await waitUntil {
            try await self.statementLog(id).filter { $0.type == "session.proxy_disconnected" && $0.details["reason"]?.contains("cut by the broker") == true }
                .count == 2
        }
        XCTAssertTrue(idle.isClosed)
        let stored = try await database.count("SELECT count(*)::bigint FROM session_proxy_credentials WHERE session_id = '\(id)'")
        XCTAssertEqual(stored, 0, "a closed session's proxy secrets are forgotten")

        let (second, secondProxy) = try await breakGlassRecorded()
        let (_, thirdProxy) = try await breakGlassRecorded()
        let reconnected = try await Tools.run("/usr/bin/psql", ["-X", "-At", "-c", "SELECT 1"], environment: proxyEnvironment(secondProxy))
        XCTAssertEqual(reconnected.status, 0)
        // Another active session's valid token does not open this one.
        let crossed = try await Tools.run("/usr/bin/psql", ["-X", "-At", "-c", "SELECT 1"],
                                          environment: proxyEnvironment(secondProxy, token: thirdProxy["password"] as? String))
        XCTAssertNotEqual(crossed.status, 0)
        XCTAssertTrue(crossed.stderr.contains("password authentication failed"), crossed.stderr)
        clock.advance(by: 31 * 60)
        try await waitUntil {
            try await self.server.broker.database.read { try await $0.sessions.find(id: second) }?.session.state == .expired
        }
        let expired = try await Tools.run("/usr/bin/psql", ["-X", "-At", "-c", "SELECT 1"], environment: proxyEnvironment(secondProxy))
        XCTAssertNotEqual(expired.status, 0)
        XCTAssertTrue(expired.stderr.contains("password authentication failed"), expired.stderr)
    }

    /// A psql killed mid-statement says no Terminate: its end is recorded as the client's leaving, and the
    /// statement it left running is recorded with what the target answered.
    func testAPsqlKilledMidStatementIsRecordedAsLeavingWithoutTerminate() async throws {
        let (id, proxy) = try await breakGlassRecorded()
        let psql = try await Tools.start("/usr/bin/psql", ["-X", "-At", "-c", "SELECT pg_sleep(2)"], environment: proxyEnvironment(proxy))
        defer { psql.stop(SIGKILL) }
        try await waitUntil { try await self.statementLog(id).contains { $0.type == "session.statement" } }
        psql.signal(SIGKILL)
        try await waitUntil {
            let log = try await self.statementLog(id)
            return log.contains { $0.type == "session.proxy_disconnected" } && log.contains { $0.type == "session.statement_result" }
        }
        let log = try await statementLog(id)
        XCTAssertEqual(log.filter { $0.type == "session.proxy_disconnected" }.map { $0.details["reason"] },
                       ["ended: the client closed the connection without Terminate"])
        XCTAssertEqual(log.filter { $0.type == "session.statement_result" }.map { $0.details["result"] }, ["completed"])
    }

    /// A target backend that goes away under an idle client (terminated here; a SIGKILL would restart the
    /// cluster the broker's own store shares) ends the connection as the target's doing, not an ordinary end.
    func testATargetBackendThatGoesAwayIsRecordedAsTheTargetsEnd() async throws {
        let (id, proxy) = try await breakGlassRecorded()
        let idle = try await connectThroughProxy(id, proxy, connectionID: 5)
        try await onTarget(database: "postgres", "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '\(id.lowercased())'")
        try await waitUntil { try await self.statementLog(id).contains { $0.type == "session.proxy_disconnected" } }
        let reasons = try await statementLog(id).filter { $0.type == "session.proxy_disconnected" }.map { $0.details["reason"] }
        XCTAssertEqual(reasons, ["ended: the target closed the connection"])
        try await waitUntil { idle.isClosed }
    }

    func testABrokerThatWasDownAtTheCloseForgetsTheProxySecretsWhenItReconciles() async throws {
        let (id, proxy) = try await breakGlassRecorded()
        // Closed in the store by an instance that died before revoking: the role and the proxy secrets remain.
        try await database.asSuperuser("UPDATE sessions SET state = 'ended', closed_at = now() - interval '1 hour', closed_by = 'bob' WHERE id = '\(id)'")
        let refused = try await Tools.run("/usr/bin/psql", ["-X", "-At", "-c", "SELECT 1"], environment: proxyEnvironment(proxy))
        XCTAssertNotEqual(refused.status, 0, "the proxy admits active sessions only")
        let removed = try await server.broker.reconcileCredentials()
        XCTAssertEqual(removed, 1)
        let stored = try await database.count("SELECT count(*)::bigint FROM session_proxy_credentials WHERE session_id = '\(id)'")
        XCTAssertEqual(stored, 0)
        let exists = try await roleExists(id.lowercased())
        XCTAssertFalse(exists)
    }

    func testAConnectionOfASessionClosedWhereNobodyCutItEndsAtTheNextActivityCheck() async throws {
        let (id, proxy) = try await breakGlassRecorded()
        let open = try await connectThroughProxy(id, proxy, connectionID: 4)
        // Closed by another instance whose revoke of the role failed: this instance was never told.
        try await database.asSuperuser("UPDATE sessions SET state = 'ended', closed_at = now(), closed_by = 'bob' WHERE id = '\(id)'")
        try await waitUntil { open.isClosed }
        try await waitUntil {
            try await self.statementLog(id).contains { $0.type == "session.proxy_disconnected" && $0.details["reason"]?.contains("cut by the broker") == true }
        }
    }

    func testAnAddressGuessingTokensIsRefusedBeforeAnyLookupEvenWithTheRightToken() async throws {
        let (id, proxy) = try await breakGlassRecorded()
        let budget = Int(serverSettings.rateLimits.authFailures.burst)
        // A few past the budget: the bucket refills at one a second while psql runs.
        for _ in 0..<(budget + 5) {
            let wrong = try await Tools.run("/usr/bin/psql", ["-X", "-At", "-c", "SELECT 1"], environment: proxyEnvironment(proxy, token: "bgp_guess"))
            XCTAssertNotEqual(wrong.status, 0)
        }
        let right = try await Tools.run("/usr/bin/psql", ["-X", "-At", "-c", "SELECT 1"], environment: proxyEnvironment(proxy))
        XCTAssertNotEqual(right.status, 0, "the address spent its budget of failed logins")
        let statements = try await statementLog(id).filter { $0.type == "session.proxy_connected" }
        XCTAssertEqual(statements.count, 0)
    }

    func testWithoutAProxyARecordedTargetIsRefusedBeforeAnythingIsIssued() async throws {
        let endpoint = server.broker.recordingProxy.endpoint
        server.broker.recordingProxy.listening(at: nil)
        defer { server.broker.recordingProxy.listening(at: endpoint) }
        let reply = try await requestSession(target: "payments-db", token: engineer.token, secret: engineer.secret)
        XCTAssertEqual(reply.status, 503, reply.text)
        XCTAssertEqual((reply.json["error"] as? [String: Any])?["code"] as? String, "proxy_not_listening")
        let sessions = try await database.count("SELECT count(*)::bigint FROM sessions")
        XCTAssertEqual(sessions, 0)
        let roles = try await rows(database: "postgres", "SELECT rolname::text FROM pg_roles WHERE rolname LIKE 'bg\\_%' AND pg_has_role(rolname, '\(oncall)', 'MEMBER')")
        XCTAssertEqual(roles, [])
    }

    func testARedactingTargetKeepsParameterValuesOutOfTheRecord() async throws {
        let set = try await Tools.cli(["admin", "set-target", "payments-db", "--redact-parameters", "--totp", try code(admin.secret)], server: server,
                                      credentials: credentialsPath("alice"), extra: ["BREAKGLASS_TOKEN": admin.token])
        XCTAssertEqual(set.status, 0, set.stderr)
        nextStep()
        let (id, proxy) = try await breakGlassRecorded()
        let token = try XCTUnwrap(proxy["password"] as? String)
        let connection = try await PostgresConnection.connect(
            configuration: .init(host: "127.0.0.1", port: proxy["port"] as! Int, username: id, password: token,
                                 database: targetDatabase, tls: .disable),
            id: 2, logger: Logger(label: "recorded-access-test"))
        let amount = try await connection.query("SELECT amount FROM payments WHERE id = \(TextParameter("1"))::int", logger: connection.logger)
            .collect().first?.decode(Int.self)
        XCTAssertEqual(amount, 4521)
        try await connection.close()
        try await waitUntil { try await self.statementLog(id).contains { $0.type == "session.statement_result" } }
        let log = try await statementLog(id)
        let statement = try XCTUnwrap(log.first { $0.type == "session.statement" && $0.details["protocol"] == "extended" })
        XCTAssertEqual(statement.details["sql"], "SELECT amount FROM payments WHERE id = $1::int", "statement text is always kept")
        XCTAssertEqual(statement.details["parameters"], "[\"<redacted 1 bytes>\"]")
        let targets = try await Tools.cli(["admin", "targets"], server: server, credentials: credentialsPath("alice"), extra: ["BREAKGLASS_TOKEN": admin.token])
        XCTAssertTrue(targets.stdout.contains("access=recorded redact-parameters"), targets.stdout)
    }

    func testStartupParametersCannotUndoTheRolesSettingsAndTheTargetLogNamesTheSession() async throws {
        let (id, proxy) = try await breakGlassRecorded()
        var env = proxyEnvironment(proxy)
        env["PGOPTIONS"] = "-c statement_timeout=0 -c search_path=pg_temp"
        env["PGAPPNAME"] = "innocent"
        let shown = try await Tools.run("/usr/bin/psql", ["-X", "-At", "-c", "SELECT current_setting('statement_timeout') || ' ' || current_setting('application_name')"],
                                        environment: env)
        XCTAssertEqual(shown.status, 0, shown.stderr)
        XCTAssertEqual(shown.stdout.trimmingCharacters(in: .whitespacesAndNewlines), "5min breakglass \(id)")
        let log = try await statementLog(id)
        let connected = try XCTUnwrap(log.first { $0.type == "session.proxy_connected" })
        XCTAssertTrue(connected.details["parameters"]?.contains("application_name=breakglass \(id)") ?? false, "\(connected.details)")
        XCTAssertFalse(connected.details["parameters"]?.contains("options") ?? true)
    }

    func testGarbageOnTheProxyPortEndsThatConnectionOnlyAndTheProxyGoesOn() async throws {
        let (id, proxy) = try await breakGlassRecorded()
        let port = try XCTUnwrap(server.proxyPort)
        var generator = SystemRandomNumberGenerator()
        for round in 0..<40 {
            // Random bytes, a huge declared length, a startup with an unknown version, a cancel for no backend of ours.
            let payload: [UInt8] = switch round % 4 {
            case 0: (0..<Int.random(in: 1...300, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) }
            case 1: [0x7f, 0xff, 0xff, 0xff, 0, 3, 0, 0]
            case 2: [0, 0, 0, 8, 0, 9, 0, 0]
            default: [0, 0, 0, 16, 0x04, 0xd2, 0x16, 0x2e] + (0..<8).map { _ in UInt8.random(in: 0...255, using: &generator) }
            }
            try await LoopbackSocket.sendAndClose(payload, port: port)
        }
        let answered = try await Tools.run("/usr/bin/psql", ["-X", "-At", "-c", "SELECT 1"], environment: proxyEnvironment(proxy))
        XCTAssertEqual(answered.stdout, "1\n")
        let statements = try await statementLog(id).filter { $0.type == "session.statement" }
        XCTAssertEqual(statements.map { $0.details["sql"] }, ["SELECT 1"])
    }
}

/// A parameter postgres-nio sends in text format, as psycopg and JDBC do: what a reviewer reads in the log.
struct TextParameter: PostgresEncodable {
    let value: String
    init(_ value: String) { self.value = value }
    static var psqlType: PostgresDataType { .text }
    static var psqlFormat: PostgresFormat { .text }
    func encode<JSONEncoder: PostgresJSONEncoder>(into byteBuffer: inout ByteBuffer, context: PostgresEncodingContext<JSONEncoder>) {
        byteBuffer.writeString(value)
    }
}

/// Raw bytes to a loopback port, then a close: what a scanner or a broken client does.
enum LoopbackSocket {
    static func sendAndClose(_ bytes: [UInt8], port: Int) async throws {
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton).connect(host: "127.0.0.1", port: port).get()
        try? await channel.writeAndFlush(ByteBuffer(bytes: bytes)).get()
        try? await Task.sleep(for: .milliseconds(5))
        try? await channel.close().get()
    }
}
