import BreakglassCore
import BreakglassServer
import BreakglassTestSupport
import Foundation
import XCTest

/// Unauthenticated routes under attack: a flood of forged GitHub deliveries, oversized and mistyped bodies.
class FloodTests: RetroTestCase {
    /// With the standard per-address budget most of a flood from one address is answered 429.
    var expectsRateLimit: Bool { true }

    func testAFloodOfForgedDeliveriesDoesNotStopActivations() async throws {
        try await floodWhileActivating()
    }

    /// 2,000 forged deliveries, 64 in flight, while an engineer breaks glass five times.
    func floodWhileActivating() async throws {
        let body = try JSONSerialization.data(withJSONObject: pullRequest(action: "opened", number: 1, title: "x", branch: "x"))
        let http = http
        let floodSize = 2000
        let started = ContinuousClock.now
        async let flood: [Int] = withThrowingTaskGroup(of: Int.self) { group in
            var statuses: [Int] = []
            var sent = 0
            func launch() {
                sent += 1
                let n = sent
                group.addTask {
                    try await http.send(.POST, "/v1/hooks/github", rawBody: body, headers: [
                        "X-GitHub-Event": "pull_request", "X-GitHub-Delivery": "forged-\(n)", "Content-Type": "application/json",
                        "X-Hub-Signature-256": "sha256=" + String(repeating: "0", count: 64),
                    ]).status
                }
            }
            for _ in 0..<64 { launch() }
            while let status = try await group.next() {
                statuses.append(status)
                if sent < floodSize { launch() }
            }
            return statuses
        }
        // Meanwhile an engineer breaks glass, again and again.
        var latencies: [Duration] = []
        for _ in 0..<5 {
            let t0 = ContinuousClock.now
            let reply = try await requestSession(target: "payments-db", token: alice.token, secret: alice.secret)
            latencies.append(t0.duration(to: .now))
            XCTAssertEqual(reply.status, 201, reply.text)
            nextStep()
        }
        let statuses = try await flood
        let elapsed = started.duration(to: .now)
        XCTAssertEqual(statuses.count, floodSize)
        XCTAssertTrue(statuses.allSatisfy { $0 == 401 || $0 == 429 }, "\(Set(statuses))")
        let limited = statuses.filter { $0 == 429 }.count
        if expectsRateLimit { XCTAssertGreaterThan(limited, 0, "the per-address rate limit answered") }
        XCTAssertLessThan(latencies.max()!, .seconds(2), "activations during the flood: \(latencies)")
        print("FLOOD\(expectsRateLimit ? "" : " (no rate limit)") \(floodSize) forged deliveries in \(elapsed): \(statuses.count - limited) refused for signature, \(limited) rate limited; activation latencies \(latencies)")

        // Not one audit row per forged delivery: one aggregated event per interval (the clock moved 150 s during
        // the flood, so two or three intervals), counting every refusal.
        clock.advance(by: 61)
        let refused = statuses.count - limited
        let sum = "SELECT coalesce(sum((body::jsonb -> 'event' -> 'details' ->> 'count')::bigint), 0)::bigint FROM audit_events WHERE event_type = 'github.deliveries_rejected'"
        try await waitUntil { try await self.database.count(sum) == refused }
        let rows = try await database.count("SELECT count(*)::bigint FROM audit_events WHERE event_type LIKE 'github.%'")
        XCTAssertLessThanOrEqual(rows, 4, "aggregated, not one row per delivery")
        let metrics = try await http.send(.GET, "/metrics")
        XCTAssertTrue(metrics.text.contains("breakglass_github_deliveries_rejected_total \(refused)"), metrics.text)
        if expectsRateLimit {
            XCTAssertTrue(metrics.text.contains(#"breakglass_http_rate_limited_total{route="github_hook"} \#(limited)"#), metrics.text)
        }
    }

    func testRefusedDeliveriesCountedInMemoryAreAuditedWhenTheBrokerStops() async throws {
        for n in 0..<3 {
            let reply = try await gitHub("pull_request", delivery: "late-\(n)", payload: ["action": "opened"], secret: "wrong secret entirely")
            XCTAssertEqual(reply.status, 401)
        }
        await server.stop()
        let counted = try await database.count("""
            SELECT coalesce(sum((body::jsonb -> 'event' -> 'details' ->> 'count')::bigint), 0)::bigint FROM audit_events
            WHERE event_type = 'github.deliveries_rejected'
            """)
        XCTAssertEqual(counted, 3, "a graceful stop does not lose the count")
    }

    func testGuessedTokensAndCookiesAreRefusedWithoutTheDatabaseOnceAnAddressKeepsTrying() async throws {
        var statuses: [Int] = []
        for n in 0..<60 {
            statuses.append(try await http.send(.GET, "/v1/me", token: "bgt_guess\(n)").status)
        }
        XCTAssertEqual(statuses.prefix(20).filter { $0 == 401 }.count, 20, "\(statuses)")
        XCTAssertTrue(statuses.suffix(30).allSatisfy { $0 == 429 }, "\(statuses)")
        let page = try await http.send(.GET, "/compliance", headers: ["Cookie": "bg_compliance=bgs_guess"])
        XCTAssertEqual(page.status, 429)
        // A valid token from the same address is answered 429 too while the address waits: the limit is per address.
        let mine = try await http.send(.GET, "/v1/me", token: alice.token)
        XCTAssertEqual(mine.status, 429)
    }

    func testOversizedAndMistypedBodiesAreRefusedBeforeAnythingIsRead() async throws {
        let huge = Data(repeating: UInt8(ascii: " "), count: 1024 * 1024 + 10)
        let big = try await http.send(.POST, "/v1/hooks/github", rawBody: huge, headers: ["Content-Type": "application/json"])
        XCTAssertEqual(big.status, 413, big.text)
        let plain = try await http.send(.POST, "/v1/sessions", token: alice.token, rawBody: Data(#"{"target":"payments-db"}"#.utf8),
                                        headers: ["Content-Type": "text/plain"])
        XCTAssertEqual(plain.status, 415, plain.text)
        XCTAssertEqual(plain.errorCode, "unsupported_media_type")
        let form = try await http.send(.POST, "/v1/hooks/github", rawBody: Data("payload=%7B%7D".utf8),
                                       headers: ["Content-Type": "application/x-www-form-urlencoded", "X-GitHub-Event": "ping"])
        XCTAssertEqual(form.status, 415, form.text)
    }

    func testSignInRoutesAreRateLimitedPerAddress() async throws {
        guard expectsRateLimit else { return }
        // X-Forwarded-For from a client that is not a trusted proxy changes nothing.
        let spoofed = try await http.send(.POST, "/v1/login", json: ["user": "nobody", "totp": "123456"], headers: ["X-Forwarded-For": "203.0.113.77"])
        XCTAssertEqual(spoofed.errorCode, "login_failed")
        let recorded = try await database.count("""
            SELECT count(*)::bigint FROM audit_events WHERE (body::jsonb -> 'event' ->> 'clientAddress') = '203.0.113.77'
            """)
        XCTAssertEqual(recorded, 0)
        var statuses: [Int] = []
        for _ in 0..<40 {
            statuses.append(try await http.send(.POST, "/v1/login", json: ["user": "nobody", "totp": "123456"]).status)
        }
        XCTAssertTrue(statuses.contains(429), "\(statuses)")
        let limited = try await http.send(.POST, "/v1/enrollment/start", json: ["code": "ABCD"])
        XCTAssertEqual(limited.status, 429)
        XCTAssertNotNil(limited.headers["retry-after"])
    }
}

/// The same flood as if it came from many addresses (no rate limit applies): every forged delivery reaches the
/// signature check, and still none of them touches the database or slows an activation.
final class UnlimitedFloodTests: FloodTests {
    override var expectsRateLimit: Bool { false }
    override var serverSettings: Broker.Settings {
        var settings = super.serverSettings
        settings.rateLimits.hook = .init(burst: 1_000_000, perSecond: 1_000_000)
        return settings
    }
    // Inherits every test of FloodTests, run against this budget.
}
