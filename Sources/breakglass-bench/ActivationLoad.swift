import AsyncHTTPClient
import BreakglassCore
import Foundation
import NIOCore
import NIOHTTP1

/// Breaks glass once per enrolled engineer over HTTP, `clients` requests in flight, each proving its own
/// fresh TOTP code, and prints activations/s and latency percentiles.
struct ActivationLoad {
    var baseURL: String
    var target: String
    var clients: Int
    /// More than one only against `breakglass-bench floor`, which checks no code: a TOTP code works once.
    var rounds = 1

    private struct Engineer: Sendable {
        var token: String
        var otp: OneTimePassword
    }

    func run(engineersFile: String) async throws {
        let enrolled = try String(contentsOfFile: engineersFile, encoding: .utf8).split(separator: "\n").map { line -> Engineer in
            let fields = line.split(separator: " ")
            guard fields.count == 2, let seed = Base32.decode(String(fields[1])) else { throw BenchFailure("bad line in \(engineersFile)") }
            return Engineer(token: String(fields[0]), otp: OneTimePassword(secret: seed))
        }
        let engineers = Array(repeatElement(enrolled, count: rounds).joined())
        var configuration = HTTPClient.Configuration(timeout: .init(connect: .seconds(5), read: .seconds(30)))
        configuration.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit = clients
        let http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        do {
            try await fire(engineers, through: http)
        } catch {
            try? await http.shutdown()
            throw error
        }
        try await http.shutdown()
    }

    private func fire(_ engineers: [Engineer], through http: HTTPClient) async throws {
        let url = baseURL + "/v1/sessions"
        let target = target
        let started = ContinuousClock.now
        let results = try await withThrowingTaskGroup(of: (UInt, Duration).self) { group in
            var results: [(UInt, Duration)] = []
            var next = 0
            func launch() {
                let engineer = engineers[next]
                next += 1
                group.addTask {
                    // The next step's code: later than the step enrolment spent, inside the verifier's window.
                    let code = engineer.otp.code(at: Date() + 30)
                    var request = HTTPClientRequest(url: url)
                    request.method = .POST
                    request.headers.add(name: "Authorization", value: "Bearer \(engineer.token)")
                    request.headers.add(name: "Content-Type", value: "application/json")
                    request.body = .bytes(ByteBuffer(string: """
                        {"target":"\(target)","reason":"benchmark activation under load","incident":"BENCH-1","ttl":"30m","totp":"\(code)"}
                        """))
                    let t0 = ContinuousClock.now
                    let response = try await http.execute(request, timeout: .seconds(30))
                    _ = try await response.body.collect(upTo: 1 << 20)
                    return (response.status.code, ContinuousClock.now - t0)
                }
            }
            for _ in 0..<min(clients, engineers.count) { launch() }
            while let result = try await group.next() {
                results.append(result)
                if next < engineers.count { launch() }
            }
            return results
        }
        let seconds = Latencies.milliseconds(ContinuousClock.now - started) / 1000
        let failed = results.filter { $0.0 != 201 }
        if let first = failed.first {
            throw BenchFailure("\(failed.count) of \(results.count) activations failed (first status \(first.0))")
        }
        let latencies = Latencies(results.map(\.1))
        print(String(format: "activations %d clients %d seconds %.2f rate %.0f p50_ms %.1f p99_ms %.1f max_ms %.1f",
                     results.count, clients, seconds, Double(results.count) / seconds, latencies.percentile(0.5), latencies.percentile(0.99),
                     latencies.max))
    }
}
