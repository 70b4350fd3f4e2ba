import AsyncHTTPClient
import Foundation
import NIOHTTP1

/// Whether a channel's server answers, without sending it a page: a `HEAD /` to the URL's scheme, host and
/// port. The channel's path (for Slack and webhooks, itself a secret) is never requested. Any HTTP answer,
/// even 404 or 405, proves that name resolution, the network path and TLS work.
public enum ChannelProbe {
    public struct Result: Sendable {
        public var reachable: Bool
        /// The answer's status, or the class of the failure (`connect`, `tls`, `timeout`, …).
        public var detail: String
        public var latencyMs: Int
    }

    public static func probe(url text: String, client: HTTPClient, timeout: Duration = .seconds(5)) async -> Result {
        let started = ContinuousClock.now
        func elapsed() -> Int { Int((ContinuousClock.now - started) / .milliseconds(1)) }
        guard let components = URLComponents(string: text), let scheme = components.scheme, let host = components.host else {
            return Result(reachable: false, detail: "the channel URL does not parse", latencyMs: 0)
        }
        var origin = URLComponents()
        origin.scheme = scheme
        origin.host = host
        origin.port = components.port
        origin.path = "/"
        guard let url = origin.string else { return Result(reachable: false, detail: "the channel URL does not parse", latencyMs: 0) }
        var request = HTTPClientRequest(url: url)
        request.method = .HEAD
        do {
            let response = try await client.execute(request, timeout: .seconds(Int64(timeout / .seconds(1))))
            return Result(reachable: true, detail: "HTTP \(response.status.code)", latencyMs: elapsed())
        } catch {
            return Result(reachable: false, detail: ChannelSender.classify(error), latencyMs: elapsed())
        }
    }
}
