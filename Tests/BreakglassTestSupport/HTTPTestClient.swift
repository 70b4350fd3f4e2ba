import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1

/// Raw HTTP against a test server, for what the CLI does not expose (concurrency, malformed bodies).
public struct HTTPTestClient: Sendable {
    public let baseURL: String

    public init(baseURL: String) { self.baseURL = baseURL }

    /// Redirects are not followed: tests assert the 303 and its cookie themselves.
    static let client = HTTPClient(eventLoopGroupProvider: .singleton,
                                   configuration: .init(redirectConfiguration: .disallow))

    public struct Reply: Sendable {
        public let status: Int
        public let body: Data
        /// Response headers, names lowercased.
        public var headers: [String: String] = [:]
        public var json: [String: Any] { (try? JSONSerialization.jsonObject(with: body)) as? [String: Any] ?? [:] }
        public var errorCode: String? { (json["error"] as? [String: Any])?["code"] as? String }
        public var errorMessage: String? { (json["error"] as? [String: Any])?["message"] as? String }
        public var text: String { String(decoding: body, as: UTF8.self) }
    }

    public func send(_ method: HTTPMethod, _ path: String, token: String? = nil, json: [String: Any]? = nil,
                     rawBody: Data? = nil, headers: [String: String] = [:], timeout: TimeAmount = .seconds(30)) async throws -> Reply {
        var request = HTTPClientRequest(url: baseURL + path)
        request.method = method
        if let token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let json {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(bytes: try JSONSerialization.data(withJSONObject: json)))
        } else if let rawBody {
            request.body = .bytes(ByteBuffer(bytes: rawBody))
        }
        let response = try await Self.client.execute(request, timeout: timeout)
        let body = try await response.body.collect(upTo: 64 * 1024 * 1024)
        var fields: [String: String] = [:]
        for header in response.headers { fields[header.name.lowercased()] = header.value }
        return Reply(status: Int(response.status.code), body: Data(body.readableBytesView), headers: fields)
    }
}
