import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1

/// Sends the same authenticated GET `count` times, one after another, after a few unmeasured warm-up requests,
/// and prints the response times: how long a reader (the compliance queue, its CSV) waits for an answer.
struct ReadLoad {
    var url: String
    var token: String
    var count: Int
    var warmUp = 10

    func run() async throws {
        let http = HTTPClient(eventLoopGroupProvider: .singleton,
                              configuration: .init(timeout: .init(connect: .seconds(5), read: .seconds(60))))
        do {
            try await measure(through: http)
        } catch {
            try? await http.shutdown()
            throw error
        }
        try await http.shutdown()
    }

    private func measure(through http: HTTPClient) async throws {
        var request = HTTPClientRequest(url: url)
        request.headers.add(name: "Authorization", value: "Bearer \(token)")
        var durations: [Duration] = []
        var bytes = 0
        for index in 0..<(warmUp + count) {
            let started = ContinuousClock.now
            let response = try await http.execute(request, timeout: .seconds(60))
            let body = try await response.body.collect(upTo: 64 << 20)
            let elapsed = ContinuousClock.now - started
            guard response.status == .ok else {
                throw BenchFailure("GET \(url) answered \(response.status.code): \(String(buffer: body).prefix(300))")
            }
            bytes = body.readableBytes
            if index >= warmUp { durations.append(elapsed) }
        }
        let latencies = Latencies(durations)
        print(String(format: "requests %d bytes %d p50_ms %.2f p99_ms %.2f max_ms %.2f", latencies.count, bytes, latencies.percentile(0.5),
                     latencies.percentile(0.99), latencies.max))
    }
}
