import BreakglassAPI
import BreakglassCore
import Foundation
import HTTPTypes
import NIOConcurrencyHelpers
import OpenAPIRuntime

/// What every request to the broker carries and how every answer is read, whatever the operation: the token and
/// the CLI's User-Agent go out; a broker that cannot be reached, or an answer that is not a success, becomes the
/// `CLIError` that says so (with the broker's own code and message); a success's bytes are kept for the caller.
///
/// Errors are mapped here rather than from each operation's documented cases so every command maps them the same
/// way, including statuses the contract does not list (a reverse proxy's 502).
struct BrokerExchange: ClientMiddleware {
    /// Largest answer read; an evidence pack or a page of audit events is far below it.
    static let maxAnswer = 64 * 1024 * 1024

    let baseURL: String
    let token: String?

    func intercept(_ request: HTTPRequest, body: HTTPBody?, baseURL url: URL, operationID: String,
                   next: @Sendable (HTTPRequest, HTTPBody?, URL) async throws -> (HTTPResponse, HTTPBody?)) async throws -> (HTTPResponse, HTTPBody?) {
        var request = request
        request.headerFields[.userAgent] = "breakglass-cli/1"
        if let token { request.headerFields[.authorization] = "Bearer \(token)" }
        let response: HTTPResponse
        let bytes: Data
        do {
            let (answer, answerBody) = try await next(request, body, url)
            response = answer
            if let answerBody {
                bytes = try await Data(collecting: answerBody, upTo: Self.maxAnswer)
            } else {
                bytes = Data()
            }
        } catch {
            let cause = (error as? ClientError)?.underlyingError ?? error
            throw CLIError(kind: .unavailable, code: "unreachable", message: "cannot reach the broker at \(baseURL): \(Self.describe(cause))")
        }
        let status = response.status.code
        BrokerReply.current?.record(status: status, path: request.path.map { String($0.prefix { $0 != "?" }) } ?? "", operationID: operationID,
                                    body: bytes)
        guard (200..<300).contains(status) else {
            let parsed = try? JSONDecoder().decode(Components.Schemas.ErrorResponse.self, from: bytes)
            throw CLIError.fromServer(status: status, code: parsed?.error.code ?? "http_\(status)",
                                      message: parsed?.error.message ?? "the broker answered \(status)")
        }
        return (response, HTTPBody(bytes))
    }

    static func describe(_ error: any Error) -> String {
        let text = "\(error)"
        if text.contains("connectTimeout") { return "connection timed out" }
        if text.contains("connectionRefused") || text.contains("Connection refused") { return "connection refused (is breakglassd running?)" }
        return text.count > 160 ? String(text.prefix(160)) + "…" : text
    }
}

/// The answer one `APIClient.call` received, as it crossed the wire: set by `BrokerExchange` in the caller's task.
final class BrokerReply: Sendable {
    @TaskLocal static var current: BrokerReply?

    private let received = NIOLockedValueBox<(status: Int, path: String, operationID: String, body: Data)>((0, "", "", Data()))

    func record(status: Int, path: String, operationID: String, body: Data) {
        received.withLockedValue { $0 = (status, path, operationID, body) }
    }

    var status: Int { received.withLockedValue { $0.status } }
    var path: String { received.withLockedValue { $0.path } }
    /// The contract's name for the operation (`requestSession`), to look up what it documents.
    var operationID: String { received.withLockedValue { $0.operationID } }
    var body: Data { received.withLockedValue { $0.body } }
}
