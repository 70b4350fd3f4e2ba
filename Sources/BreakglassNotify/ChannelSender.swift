import AsyncHTTPClient
import BreakglassCore
import Foundation
import NIOCore
import NIOHTTP1

/// What one send attempt produced. Never carries the URL: logs and the delivery log show the host only.
public struct SendResult: Sendable {
    public var status: Int?
    public var body: String
    public var retryAfter: String?
    public var latencyMs: Int
    public var errorClass: String?
}

/// Sends rendered pages over HTTP with explicit timeouts and a capped response body.
public struct ChannelSender: Sendable {
    let client: HTTPClient
    let source: String
    static let responseCap = 64 * 1024

    public init(client: HTTPClient, source: String) {
        self.client = client
        self.source = source
    }

    /// One client for the process: 5 s to connect, 15 s for the whole request.
    public static func makeClient() -> HTTPClient {
        var configuration = HTTPClient.Configuration()
        configuration.timeout = .init(connect: .seconds(5), read: .seconds(15))
        configuration.connectionPool.retryConnectionEstablishment = false
        configuration.redirectConfiguration = .disallow
        return HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }

    public func send(_ message: NotificationMessage, kind: ChannelKind, config: ChannelConfig, now: Date) async -> SendResult {
        let started = ContinuousClock.now
        func elapsed() -> Int {
            let d = ContinuousClock.now - started
            return Int(d.components.seconds * 1000 + d.components.attoseconds / 1_000_000_000_000_000)
        }
        do {
            let request = try Self.request(message, kind: kind, config: config, now: now, source: source)
            let response = try await client.execute(request, deadline: .now() + .seconds(15))
            var body = ""
            do {
                body = String(buffer: try await response.body.collect(upTo: Self.responseCap))
            } catch {
                // An oversized answer still has a status; only its body is dropped.
                body = ""
            }
            return SendResult(status: Int(response.status.code), body: body, retryAfter: response.headers.first(name: "Retry-After"),
                              latencyMs: elapsed(), errorClass: nil)
        } catch let error as BreakglassError {
            return SendResult(status: nil, body: "", retryAfter: nil, latencyMs: elapsed(), errorClass: "config:\(error.code)")
        } catch {
            return SendResult(status: nil, body: "", retryAfter: nil, latencyMs: elapsed(), errorClass: Self.classify(error))
        }
    }

    static func request(_ message: NotificationMessage, kind: ChannelKind, config: ChannelConfig, now: Date, source: String) throws -> HTTPClientRequest {
        var url = config.url
        let body: [UInt8]
        switch kind {
        case .slack:
            body = try encode(message.slackBody())
        case .pagerduty:
            if !url.hasSuffix("/v2/enqueue") { url = (url.hasSuffix("/") ? String(url.dropLast()) : url) + "/v2/enqueue" }
            body = try encode(message.pagerDutyBody(routingKey: config.routingKey ?? "", source: source))
        case .webhook:
            body = try encode(message.webhookBody())
        }
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.headers.add(name: "User-Agent", value: "breakglassd")
        if kind == .webhook {
            let timestamp = Int(now.timeIntervalSince1970)
            request.headers.add(name: "webhook-id", value: message.id)
            request.headers.add(name: "webhook-timestamp", value: String(timestamp))
            request.headers.add(name: "webhook-signature",
                                value: try StandardWebhook.signature(id: message.id, timestamp: timestamp, body: body, secrets: config.secrets))
        }
        request.body = .bytes(ByteBuffer(bytes: body))
        return request
    }

    private static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }()

    private static func encode<Body: Encodable>(_ body: Body) throws -> [UInt8] { Array(try encoder.encode(body)) }

    static func classify(_ error: any Error) -> String {
        let text = "\(error)"
        if text.contains("deadlineExceeded") || text.contains("Timeout") || text.contains("timeout") { return "timeout" }
        if text.contains("connectionRefused") || text.contains("Connection refused") || text.contains("connect") { return "connect" }
        if text.contains("remoteConnectionClosed") || text.contains("EOF") { return "connection_closed" }
        if text.contains("SSL") || text.contains("TLS") || text.contains("handshake") { return "tls" }
        return "io"
    }
}
