import BreakglassCore
import BreakglassServer
import BreakglassTestSupport
import Foundation
import XCTest

/// The OpenAPI document is the API: the broker serves the repository's file, and schemathesis, fuzzing the
/// running broker from what it serves, finds no 5xx and no answer the document does not describe.
final class APIContractTests: BrokerTestCase {
    static let document = TestDatabase.repositoryRoot.appendingPathComponent("Sources/BreakglassAPI/openapi.json")
    /// Where `scripts/ensure-deps.sh --for-tests` installs it.
    static var schemathesis: URL {
        let cache = ProcessInfo.processInfo.environment["XDG_CACHE_HOME"].map { URL(fileURLWithPath: $0) }
            ?? FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".cache")
        return cache.appendingPathComponent("breakglass/schemathesis/bin/schemathesis")
    }

    var receiver: LoopbackReceiver?

    override func tearDown() async throws {
        await receiver?.stop()
        try await super.tearDown()
    }

    /// One account that may do everything (so one token reaches every operation), wrong TOTP codes that never
    /// lock it (the fuzzer guesses codes on every step-up route), request budgets it does not spend (else most
    /// answers are 429 and the logic behind them goes untested; FloodTests test the limits), and GitHub webhooks.
    override var serverSettings: Broker.Settings {
        let unlimited = RateLimits.Budget(burst: 1_000_000, perSecond: 1_000_000)
        return .init(lockout: LockoutPolicy(maxFailures: 1_000_000), githubWebhookSecret: "fuzz-webhook-secret", allowAdminCompliance: true,
                     rateLimits: RateLimits(hook: unlimited, signIn: unlimited, authFailures: unlimited))
    }

    func testServedDocumentIsTheRepositoryFile() async throws {
        let reply = try await http.send(.GET, "/openapi.json")
        XCTAssertEqual(reply.status, 200)
        XCTAssertEqual(reply.headers["content-type"], "application/json")
        XCTAssertEqual(reply.body, try Data(contentsOf: Self.document))
    }

    func testFuzzedBrokerAnswersAsItsContractSays() async throws {
        XCTAssertTrue(FileManager.default.isExecutableFile(atPath: Self.schemathesis.path),
                      "schemathesis is missing: run scripts/ensure-deps.sh --for-tests")
        let world = try await populatedBroker()
        let config = scratch.appendingPathComponent("schemathesis.toml")
        try world.config.write(to: config, atomically: true, encoding: .utf8)
        // The fuzzer never knows a valid TOTP code, so no admin change it sends passes the step-up: the only
        // channel stays the loopback receiver, and no target it invents is ever connected to.
        let result = try await run(Self.schemathesis.path, [
            "--config-file", config.path, "run", server.baseURL + "/openapi.json", "--url", server.baseURL,
            "--header", "Authorization: Bearer \(world.token)",
            "--checks", "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,response_headers_conformance",
            "--phases", "examples,coverage,fuzzing", "--max-examples", "100", "--seed", "20261126", "--workers", "2",
            "--generation-database", "none", "--request-timeout", "10", "--no-color",
        ])
        XCTAssertEqual(result.status, 0, "schemathesis found answers the contract does not allow:\n\(String(result.stdout.suffix(20_000)))\n\(result.stderr)")
    }

    /// Enrolled users, a target with drills, a webhook channel on loopback, an active session with its retro PR
    /// linked and a drill, so most operations reach their successful answer; path parameters are drawn from
    /// them half the time (the other half is the fuzzer's own).
    private func populatedBroker() async throws -> (token: String, config: String) {
        let receiver = LoopbackReceiver()
        self.receiver = receiver
        try await receiver.start()
        let alice = try await enrolledUser("alice", roles: [.admin, .compliance, .engineer])
        _ = try await enrolledUser("bob", roles: [.engineer])
        let target = try await adminSend(.PUT, "/v1/targets/payments-db", as: alice, json: [
            "max_ttl": "1h", "max_total": "2h", "retro_deadline": "24h", "audience": "payments-api", "drill_deadline": "2m",
        ])
        XCTAssertEqual(target.status, 201, target.text)
        let channel = try await adminSend(.PUT, "/v1/notify/channels/siem", as: alice, json: ["kind": "webhook", "url": receiver.url("/hook")])
        XCTAssertEqual(channel.status, 200, channel.text)
        let session = try await requestSession(target: "payments-db", token: alice.token, secret: alice.secret)
        XCTAssertEqual(session.status, 201, session.text)
        nextStep()
        let sessionId = try XCTUnwrap((session.json["session"] as? [String: Any])?["id"] as? String)
        let link = try await http.send(.POST, "/v1/retro/\(sessionId)/link", token: alice.token,
                                       json: ["url": "https://github.com/acme/payments/pull/4521"])
        XCTAssertEqual(link.status, 200, link.text)
        let drill = try await http.send(.POST, "/v1/drills", token: alice.token, json: [
            "target": "payments-db", "reason": "quarterly rehearsal of the payments runbook", "incident": "DRILL-7", "totp": try code(alice.secret),
        ])
        XCTAssertEqual(drill.status, 201, drill.text)
        nextStep()
        let drillId = try XCTUnwrap((drill.json["session"] as? [String: Any])?["id"] as? String)
        // Bob's token, not Alice's: she may revoke her own with the token alone, and the run would go on unauthenticated.
        let tokens = try await http.send(.GET, "/v1/tokens?user=bob", token: alice.token)
        let tokenIds = ((try JSONSerialization.jsonObject(with: tokens.body) as? [[String: Any]]) ?? []).compactMap { $0["id"] as? String }
        XCTAssertEqual(tokenIds.count, 1, tokens.text)
        func strings(_ values: [String]) -> String { "[" + values.map { "\"\($0)\"" }.joined(separator: ", ") + "]" }
        // No cache: schemathesis would keep one in the working directory, the repository.
        let config = """
            [cache]
            enabled = false
            [dictionaries.ids]
            values = \(strings([sessionId, drillId] + tokenIds))
            [dictionaries.names]
            values = \(strings(["alice", "bob", "payments-db", "siem"]))
            [parameters]
            "path.id" = { dictionary = "ids", probability = 0.5 }
            "path.name" = { dictionary = "names", probability = 0.5 }
            "query.session" = { dictionary = "ids", probability = 0.5 }
            # The fuzzer learns Alice's token id from GET /v1/tokens; revoking it (hers, so no step-up) would leave the
            # rest of the run unauthenticated. It may only try Bob's, which needs the step-up it cannot pass.
            [[operations]]
            include-operation-id = "revokeAPIToken"
            parameters = { "path.id" = "\(tokenIds.first ?? "")" }
            """
        return (alice.token, config)
    }

    /// Off the cooperative pool: the in-process broker answers the fuzzer on it meanwhile.
    private func run(_ executable: String, _ arguments: [String]) async throws -> CommandResult {
        try await withCheckedThrowingContinuation { continuation in
            Thread.detachNewThread { continuation.resume(with: Result { try Tools.run(executable, arguments) }) }
        }
    }
}
