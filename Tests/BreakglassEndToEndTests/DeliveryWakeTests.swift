import BreakglassCore
import BreakglassStore
import BreakglassTestSupport
import Foundation
import XCTest

/// Pages are sent as soon as they commit, not at the delivery loop's next poll: the API server below does not
/// deliver, and a second instance whose poll is 30 s does, so a page reaches the receiver within a second only
/// if the commit woke that instance (NOTIFY) — also after its listening connection was killed.
final class DeliveryWakeTests: BrokerTestCase {
    override var serverDelivers: Bool { false }

    var receiver: LoopbackReceiver!
    var deliverer: TestServer!
    var admin: (secret: String, token: String)!

    override func setUp() async throws {
        try await super.setUp()
        receiver = LoopbackReceiver()
        try await receiver.start()
        admin = try await enrolledUser("alice", roles: [.admin, .engineer])
        try await makeTarget("payments-db", admin: admin)
        let hook = try await adminSend(.PUT, "/v1/notify/channels/hook", as: admin,
                                       json: ["kind": "webhook", "url": receiver.url("/hook"), "events": ["session.activated"]])
        XCTAssertEqual(hook.status, 200, hook.text)
        deliverer = TestServer(database: database, clock: clock, masterKey: server.masterKey)
        try await deliverer.start(deliveryPoll: .seconds(30))
    }

    override func tearDown() async throws {
        await deliverer?.stop()
        await receiver?.stop()
        try await super.tearDown()
    }

    func testPageArrivesLongBeforeThePoll() async throws {
        let listener = try await listeningBackend()
        // Several in a row: the first could ride on the pass the instance makes when it starts listening; the
        // later ones can only have been woken by their commit.
        for _ in 0..<3 {
            try await activateAndExpectPage(within: .seconds(2))
        }
        let still = try await listeningBackend()
        XCTAssertEqual(still, listener, "the listener kept its connection")
    }

    func testPagesStillArriveAfterTheListenerConnectionIsKilled() async throws {
        let killed = try await listeningBackend()
        try await database.asSuperuser("SELECT pg_terminate_backend(\(killed))")
        // Committed while no connection may be listening: sent once the listener is back (it makes a pass then).
        try await activateAndExpectPage(within: .seconds(5))
        let replacement = try await listeningBackend()
        XCTAssertNotEqual(replacement, killed)
        // And the new connection hears commits again.
        try await activateAndExpectPage(within: .seconds(2))
    }

    /// The pid of the delivering instance's LISTEN connection, once there is one.
    private func listeningBackend(timeout: Duration = .seconds(10)) async throws -> Int {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            let pids = try await database.lines("""
                SELECT pid::text FROM pg_stat_activity
                WHERE application_name = '\(OutboxListener.applicationName)' AND datname = '\(database.name)' AND query LIKE 'LISTEN %'
                """).compactMap { Int($0) }
            if pids.count == 1 { return pids[0] }
            XCTAssertLessThanOrEqual(pids.count, 1, "one listening connection per instance")
            try await Task.sleep(for: .milliseconds(20))
        }
        throw NoListener(timeout: timeout)
    }

    struct NoListener: Error, CustomStringConvertible {
        let timeout: Duration
        var description: String { "the delivering instance had no LISTEN connection within \(timeout)" }
    }

    private func activateAndExpectPage(within limit: Duration) async throws {
        let reply = try await requestSession(target: "payments-db", token: admin.token, secret: admin.secret, ttl: "5m")
        XCTAssertEqual(reply.status, 201, reply.text)
        let committed = ContinuousClock.now
        nextStep()
        let id = try XCTUnwrap((reply.json["session"] as? [String: Any])?["id"] as? String)
        while ContinuousClock.now - committed < limit {
            if await receiver.received("/hook").contains(where: { ($0.json["data"] as? [String: Any])?["session_id"] as? String == id }) { return }
            try await Task.sleep(for: .milliseconds(10))
        }
        XCTFail("the page of \(id) did not arrive within \(limit) (the fallback poll is 30 s)")
    }
}
