import BreakglassCore
import BreakglassStore
import BreakglassTestSupport
import Foundation
import XCTest

/// A database written by an older build (every earlier head, 0001…0005) upgrades to this build, and then
/// every read a user makes works over HTTP and a pre-existing account still breaks glass.
final class UpgradeTests: XCTestCase {
    var legacy: LegacyDatabase?
    var server: TestServer?
    var receiver: LoopbackReceiver?

    override func tearDown() async throws {
        await server?.stop()
        await receiver?.stop()
        await legacy?.database.drop()
        try await super.tearDown()
    }

    func testUpgradeFromHead1() async throws { try await checkUpgrade(from: 1) }
    func testUpgradeFromHead2() async throws { try await checkUpgrade(from: 2) }
    func testUpgradeFromHead3() async throws { try await checkUpgrade(from: 3) }
    func testUpgradeFromHead4() async throws { try await checkUpgrade(from: 4) }
    func testUpgradeFromHead5() async throws { try await checkUpgrade(from: 5) }

    /// The rows 0005 gave a placeholder ladder are repaired to "no rungs": nothing is paged retroactively.
    func testPreExistingObligationsGetAnEmptyLadderAndNoDueRung() async throws {
        let legacy = try await upgraded(from: 4)
        let repaired = try await legacy.database.lines("""
            SELECT ladder::text || ' ' || coalesce(next_due_at::text, 'none') FROM retro_obligations ORDER BY session_id
            """)
        XCTAssertEqual(repaired, [#"{"rungs": []} none"#, #"{"rungs": []} none"#])
    }

    /// A row that does not decode is the broker's fault, reported as such (500), not as an outage (503).
    func testAnUndecodableRowIsAnInternalErrorNamingIt() async throws {
        let legacy = try await upgraded(from: 5)
        let server = try await startServer(on: legacy)
        try await legacy.database.asSuperuser(
            "UPDATE retro_obligations SET ladder = '{\"rungs\": \"none\"}' WHERE session_id = '\(legacy.endedSession)'")
        let http = HTTPTestClient(baseURL: server.baseURL)
        for path in ["/v1/compliance/queue", "/v1/retro?all=true", "/v1/compliance/sessions/\(legacy.endedSession)"] {
            let reply = try await http.send(.GET, path, token: legacy.reviewer.token)
            XCTAssertEqual(reply.status, 500, "\(path): \(reply.text)")
            XCTAssertEqual(reply.errorCode, "corrupt_row", reply.text)
            XCTAssertTrue(reply.errorMessage?.contains("retro_obligations.ladder") == true, reply.text)
            XCTAssertTrue(reply.errorMessage?.contains(legacy.endedSession) == true, reply.text)
        }
    }

    /// A state outside its closed set (a row altered by hand, or written by a newer build) is never read as a
    /// default: an altered retro status must not turn into "owed", nor an unknown session state into "expired".
    func testAnUnknownStateInARowIsAnInternalErrorNotADefault() async throws {
        let legacy = try await upgraded(from: 5)
        let server = try await startServer(on: legacy)
        for sql in ["ALTER TABLE retro_obligations DROP CONSTRAINT retro_obligations_status_check",
                    "UPDATE retro_obligations SET status = 'pending_review' WHERE session_id = '\(legacy.endedSession)'",
                    "ALTER TABLE sessions DROP CONSTRAINT sessions_state_check",
                    "UPDATE sessions SET state = 'paused' WHERE id = '\(legacy.activeSession)'"] {
            try await legacy.database.asSuperuser(sql)
        }
        let http = HTTPTestClient(baseURL: server.baseURL)
        let unreadable = [("/v1/retro?all=true", "retro_obligations.status", legacy.endedSession),
                          ("/v1/compliance/sessions/\(legacy.endedSession)", "retro_obligations.status", legacy.endedSession),
                          ("/v1/sessions?all=true", "sessions.state", legacy.activeSession),
                          ("/v1/sessions/\(legacy.activeSession)", "sessions.state", legacy.activeSession)]
        for (path, column, session) in unreadable {
            let reply = try await http.send(.GET, path, token: legacy.reviewer.token)
            XCTAssertEqual(reply.status, 500, "\(path): \(reply.text)")
            XCTAssertEqual(reply.errorCode, "corrupt_row", reply.text)
            XCTAssertTrue(reply.errorMessage?.contains(column) == true, reply.text)
            XCTAssertTrue(reply.errorMessage?.contains(session) == true, reply.text)
            XCTAssertFalse(reply.text.contains("pending_review") || reply.text.contains("paused"), "the stored text is not echoed: \(reply.text)")
        }
    }

    /// One row this build cannot read must not stop the work queued behind it: a session whose credential
    /// reference is unreadable still expires (and is paged), and a channel of an unknown kind does not stop
    /// pages to the others.
    func testOneUnreadableRowStopsNeitherExpiryNorPagesToOtherChannels() async throws {
        let legacy = try await upgraded(from: 5)
        for sql in ["UPDATE sessions SET credential_ref = '{\"kind\": \"carrier_pigeon\"}'::jsonb WHERE id = '\(legacy.activeSession)'",
                    "ALTER TABLE channels DROP CONSTRAINT channels_kind_check",
                    """
                    INSERT INTO channels (id, name, kind, config_enc, host, events, targets, created_at, updated_at, updated_by)
                    SELECT gen_random_uuid(), 'pigeon-loft', 'carrier_pigeon', config_enc, host, events, targets, created_at, updated_at, updated_by
                    FROM channels WHERE name = 'sec-hook'
                    """] {
            try await legacy.database.asSuperuser(sql)
        }
        let clock = ManualClock(legacy.now)
        let server = TestServer(database: legacy.database, clock: clock, masterKey: legacy.masterKey)
        try await server.start()
        self.server = server
        clock.advance(by: 1800)
        let receiver = try XCTUnwrap(receiver)
        let deadline = ContinuousClock.now + .seconds(15)
        var expiredPage = false
        while !expiredPage && ContinuousClock.now < deadline {
            expiredPage = await receiver.received("/hook").contains {
                $0.json["type"] as? String == "session.expired"
                    && ($0.json["data"] as? [String: Any])?["session_id"] as? String == legacy.activeSession
            }
            if !expiredPage { try await Task.sleep(for: .milliseconds(100)) }
        }
        XCTAssertTrue(expiredPage, "the session expired and its page reached the readable channel")
        let state = try await legacy.database.count("SELECT count(*)::bigint FROM sessions WHERE id = '\(legacy.activeSession)' AND state = 'expired'")
        XCTAssertEqual(state, 1)
    }

    func testDecodingFailuresInsideTheStoreAreInternalErrors() async throws {
        let database = try await TestDatabase.create(migrate: false)
        addTeardownBlock { await database.drop() }
        let failure: (any Error)? = await {
            do {
                try await Database.withDatabase(database.owner, logger: TestDatabase.logger) { db in
                    try await db.read { _ in throw DecodingError.dataCorrupted(.init(codingPath: [], debugDescription: "bad")) }
                }
                return nil
            } catch { return error }
        }()
        let error = try XCTUnwrap(failure as? BreakglassError)
        XCTAssertEqual(error.kind, .internalFailure)
        XCTAssertEqual(error.code, "corrupt_row")
    }

    // MARK: helpers

    func upgraded(from level: Int) async throws -> LegacyDatabase {
        let receiver = LoopbackReceiver()
        try await receiver.start()
        self.receiver = receiver
        let clock = ManualClock.nearRealTime()
        let legacy = try await LegacyDatabase.create(level: level, masterKey: SecretBox.generateKey(), now: clock.now(),
                                                     hookURL: receiver.url("/hook"))
        self.legacy = legacy
        try await legacy.upgrade()
        return legacy
    }

    func startServer(on legacy: LegacyDatabase) async throws -> TestServer {
        let server = TestServer(database: legacy.database, clock: ManualClock(legacy.now), masterKey: legacy.masterKey)
        try await server.start()
        self.server = server
        return server
    }

    func checkUpgrade(from level: Int) async throws {
        let legacy = try await upgraded(from: level)
        let server = try await startServer(on: legacy)
        let http = HTTPTestClient(baseURL: server.baseURL)
        let token = legacy.reviewer.token
        var sessions = [legacy.endedSession, legacy.activeSession]
        if level >= 5 { sessions.append(legacy.newerSession) }

        let list = try await http.send(.GET, "/v1/sessions?all=true", token: token)
        XCTAssertEqual(list.status, 200, list.text)
        let retro = try await http.send(.GET, "/v1/retro?all=true", token: token)
        XCTAssertEqual(retro.status, 200, retro.text)
        for id in sessions {
            XCTAssertTrue(list.text.contains(id), "session \(id) listed")
            XCTAssertTrue(retro.text.contains(id), "obligation of \(id) listed")
            for path in ["/v1/sessions/\(id)", "/v1/compliance/sessions/\(id)", "/v1/compliance/sessions/\(id)/evidence"] {
                let reply = try await http.send(.GET, path, token: token)
                XCTAssertEqual(reply.status, 200, "\(path): \(reply.text)")
            }
        }
        let queue = try await http.send(.GET, "/v1/compliance/queue", token: token)
        XCTAssertEqual(queue.status, 200, queue.text)
        XCTAssertTrue(queue.text.contains(legacy.endedSession), "the overdue pre-existing obligation is in the queue: \(queue.text)")
        if level >= 5 { XCTAssertTrue(queue.text.contains(legacy.newerSession), "the linked PR awaits review: \(queue.text)") }
        let log = try await http.send(.GET, "/v1/notify/log", token: token)
        XCTAssertEqual(log.status, 200, log.text)
        let verify = try await http.send(.GET, "/v1/audit/verify", token: token)
        XCTAssertEqual(verify.status, 200, verify.text)
        XCTAssertEqual(verify.json["intact"] as? Bool, true, verify.text)
        let metrics = try await http.send(.GET, "/metrics")
        XCTAssertEqual(metrics.status, 200, metrics.text)
        XCTAssertTrue(metrics.text.contains("breakglass_retro_obligations"), metrics.text)

        if level >= 4, let receiver {
            // A page the old build committed but never routed reaches the channel the old build configured.
            let pages = try await receiver.waitFor(1, at: "/hook")
            XCTAssertTrue(pages.contains { ($0.json["data"] as? [String: Any])?["session_id"] as? String == legacy.activeSession }, "\(pages.map(\.json))")
        }

        // The engineer enrolled under the old build breaks glass with a fresh code from their authenticator.
        let code = try await Tools.oathtool(secret: legacy.engineer.secret, at: legacy.now)
        let session = try await http.send(.POST, "/v1/sessions", token: legacy.engineer.token, json: [
            "target": "payments-db", "reason": "INC-95 after the upgrade", "incident": "INC-95", "ttl": "15m", "totp": code,
        ])
        XCTAssertEqual(session.status, 201, session.text)
    }
}
