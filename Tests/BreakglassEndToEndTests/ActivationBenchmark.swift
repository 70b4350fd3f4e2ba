import BreakglassCore
import BreakglassTestSupport
import Foundation
import XCTest

/// Not a test: a measurement, run by `scripts/bench-activation.sh` (skipped otherwise). Many engineers break
/// glass at once over real HTTP against a real PostgreSQL; prints activations per second and latency.
final class ActivationBenchmark: BrokerTestCase {
    func testActivationThroughput() async throws {
        let env = ProcessInfo.processInfo.environment
        guard env["BREAKGLASS_BENCH"] == "1" else { throw XCTSkip("benchmark: run scripts/bench-activation.sh") }
        let users = Int(env["BENCH_USERS"] ?? "400") ?? 400
        let concurrency = Int(env["BENCH_CONCURRENCY"] ?? "32") ?? 32
        let admin = try await enrolledUser("root", roles: [.admin])
        try await makeTarget("payments-db", admin: admin)

        // Enrol every engineer through the broker itself (codes computed from the shown secret).
        var engineers: [(token: String, code: String)] = []
        for i in 0..<users {
            let grant = try await server.broker.createUser(name: "eng\(i)", roles: [.engineer], actor: nil, origin: .server)
            let challenge = try await server.broker.startEnrollment(code: grant.enrollmentCode, origin: .server)
            let otp = OneTimePassword(secret: Base32.decode(challenge.secret)!)
            let result = try await server.broker.confirmEnrollment(code: grant.enrollmentCode, totp: otp.code(at: clock.now()), origin: .server)
            engineers.append((result.apiToken, otp.code(at: clock.now() + 30)))
        }
        nextStep()

        let http = http
        let started = ContinuousClock.now
        let latencies = try await withThrowingTaskGroup(of: (Int, Duration).self) { group in
            var results: [(Int, Duration)] = []
            var next = 0
            func launch() {
                let engineer = engineers[next]
                next += 1
                group.addTask {
                    let t0 = ContinuousClock.now
                    let reply = try await http.send(.POST, "/v1/sessions", token: engineer.token, json: [
                        "target": "payments-db", "reason": "benchmark activation under load", "incident": "BENCH-1", "ttl": "30m",
                        "totp": engineer.code,
                    ])
                    return (reply.status, ContinuousClock.now - t0)
                }
            }
            for _ in 0..<min(concurrency, engineers.count) { launch() }
            while let result = try await group.next() {
                results.append(result)
                if next < engineers.count { launch() }
            }
            return results
        }
        let elapsed = ContinuousClock.now - started
        XCTAssertEqual(latencies.filter { $0.0 == 201 }.count, users, "every activation succeeded")
        let sorted = latencies.map { Double($0.1.components.attoseconds) / 1e15 + Double($0.1.components.seconds) * 1000 }.sorted()
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        let report = String(format: "activations: %d, concurrency %d, %.2f s, %.0f activations/s, latency p50 %.1f ms, p99 %.1f ms, max %.1f ms\n",
                            users, concurrency, seconds, Double(users) / seconds, sorted[sorted.count / 2],
                            sorted[min(sorted.count - 1, Int(Double(sorted.count) * 0.99))], sorted.last!)
        FileHandle.standardError.write(Data(("BENCH " + report).utf8))
        let chain = try await http.send(.GET, "/v1/audit/verify", token: admin.token)
        XCTAssertEqual(chain.json["intact"] as? Bool, true, "the chain stays intact under concurrent appends")
    }
}
