import BreakglassCore
import BreakglassServer
import BreakglassTestSupport
import Foundation
import NIOHTTP1
import XCTest

/// Each test gets its own database and a real server on loopback, with a manual clock that starts near
/// real time (so tokens verify against the real clock too), 5 s into a TOTP step.
class BrokerTestCase: XCTestCase {
    var database: TestDatabase!
    var server: TestServer!
    var clock: ManualClock!
    var scratch: URL!
    var http: HTTPTestClient { HTTPTestClient(baseURL: server.baseURL) }
    /// Whether the in-process server runs the delivery service (off to stand in for a broker that crashed).
    var serverDelivers: Bool { true }
    var serverSettings: Broker.Settings { .init() }
    /// Whether the in-process server runs the recording PostgreSQL proxy.
    var serverProxy: Bool { false }

    override func setUp() async throws {
        try await super.setUp()
        database = try await TestDatabase.create()
        clock = ManualClock.nearRealTime()
        server = TestServer(database: database, clock: clock)
        try await server.start(settings: serverSettings, delivers: serverDelivers, proxy: serverProxy)
        scratch = FileManager.default.temporaryDirectory.appendingPathComponent("bg-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
    }

    override func tearDown() async throws {
        await server?.stop()
        await database?.drop()
        if let scratch { try? FileManager.default.removeItem(at: scratch) }
        try await super.tearDown()
    }

    /// Moves to the next TOTP step, so a fresh code exists.
    func nextStep() { clock.advance(by: 30) }

    func code(_ secret: String) async throws -> String { try await Tools.oathtool(secret: secret, at: clock.now()) }

    /// A user enrolled through the HTTP API; returns their TOTP secret and API token.
    func enrolledUser(_ name: String, roles: [Role]) async throws -> (secret: String, token: String) {
        let grant = try await server.broker.createUser(name: name, roles: roles, actor: nil, origin: .server)
        let start = try await http.send(.POST, "/v1/enrollment/start", json: ["code": grant.enrollmentCode])
        XCTAssertEqual(start.status, 200, start.text)
        let secret = start.json["secret"] as! String
        let confirm = try await http.send(.POST, "/v1/enrollment/confirm", json: ["code": grant.enrollmentCode, "totp": try code(secret)])
        XCTAssertEqual(confirm.status, 201, confirm.text)
        nextStep()
        return (secret, confirm.json["api_token"] as! String)
    }

    func makeTarget(_ name: String, admin: (secret: String, token: String), maxTTL: String = "1h", maxTotal: String = "2h") async throws {
        let reply = try await adminSend(.PUT, "/v1/targets/\(name)", as: admin,
                                        json: ["max_ttl": maxTTL, "max_total": maxTotal, "retro_deadline": "24h", "audience": "\(name)-api"])
        XCTAssertEqual(reply.status, 201, reply.text)
    }

    /// An admin change over HTTP: the admin's token plus a fresh TOTP code (the step-up every admin change
    /// needs); then moves to the next step so the next proof has a fresh code.
    func adminSend(_ method: HTTPMethod, _ path: String, as admin: (secret: String, token: String),
                   json: [String: Any] = [:]) async throws -> HTTPTestClient.Reply {
        var body = json
        body["totp"] = try await code(admin.secret)
        defer { nextStep() }
        return try await http.send(method, path, token: admin.token, json: body)
    }

    func requestSession(target: String, token: String, secret: String, ttl: String = "30m") async throws -> HTTPTestClient.Reply {
        try await http.send(.POST, "/v1/sessions", token: token, json: [
            "target": target, "reason": "INC-4521 lock pile-up, kill blockers", "incident": "INC-4521", "ttl": ttl, "totp": try code(secret),
        ])
    }

    /// Polls (real time) until `condition` holds, for work the server's background services do.
    func waitUntil(timeout seconds: Int = 10, _ condition: @escaping () async throws -> Bool) async throws {
        do {
            try await waitFor("condition", timeout: .seconds(seconds), condition)
        } catch is WaitTimedOut {
            XCTFail("condition not met within \(seconds) s")
        }
    }

    /// Waits until each loop, in the order given, has twice looked and found nothing to do (delivery: with nothing
    /// in flight) on every server: only after that does "nothing more happened" mean something.
    func settle(_ loops: IdlePasses.Loop..., servers: [TestServer]? = nil) async throws {
        for loop in loops {
            for server in servers ?? [server] {
                let passes = server.broker.idlePasses
                let mark = passes.count(loop)
                try await waitUntil { passes.count(loop) >= mark + 2 }
            }
        }
    }

    func credentialsPath(_ name: String) -> String { scratch.appendingPathComponent("\(name)-credentials.json").path }

    func cli(_ args: [String], as user: String, stdin: String? = nil) async throws -> CommandResult {
        try await Tools.cli(args, server: server, credentials: credentialsPath(user), stdin: stdin)
    }
}
