import BreakglassAPI
import BreakglassCore
import Foundation
import HTTPTypes
import Hummingbird
import OpenAPIHummingbird
import OpenAPIRuntime

/// How the router admits a request to an operation of the contract, before its generated handler runs.
enum OperationAccess: Sendable, Equatable {
    /// Anyone, no budget (health, the contract, the JWKS, the revocation list).
    case open
    /// Anyone, within the per-address sign-in budget (enrolment, login).
    case signIn
    /// A bearer token, authenticated inside the use case's own first statement (breaking glass, drills).
    case activation
    /// A bearer token, resolved by `AuthMiddleware` before the handler.
    case token
    /// Served by a hand-written route; the generated registration is skipped so it cannot shadow it.
    case handWritten
}

extension OperationAccess {
    /// The exceptions; every other operation under /v1 needs a token (fail closed), and an operation outside /v1
    /// that is not listed stops the server from starting rather than being served with no decision made.
    static let table: [String: OperationAccess] = [
        "GET /healthz": .open, "GET /readyz": .open,
        // Served byte for byte as compiled in; the generated handler would decode and re-encode the document.
        "GET /openapi.json": .handWritten, "GET /.well-known/jwks.json": .open,
        "GET /.well-known/breakglass-revoked.json": .open,
        "POST /v1/enrollment/start": .signIn, "POST /v1/enrollment/confirm": .signIn, "POST /v1/login": .signIn,
        "POST /v1/sessions": .activation, "POST /v1/drills": .activation,
        // GitHub signs the raw body (HMAC): the generated handler hands over a decoded value, never the bytes.
        "POST /v1/hooks/github": .handWritten,
    ]

    static func of(method: String, path: String) -> OperationAccess? {
        if let listed = table["\(method) \(path)"] { return listed }
        return path.hasPrefix("/v1/") ? .token : nil
    }
}

/// A `ServerTransport` that registers each generated handler on the router group whose middleware its access
/// needs (swift-openapi-hummingbird makes `RouterGroup` a transport), so the middleware stacks stay as they were:
/// only the table above decides who reaches an operation. It also reads JSON bodies the way the API always has.
struct OperationRoutes: ServerTransport {
    let groups: [OperationAccess: RouterGroup<BreakglassRequestContext>]
    let guardian: AuthFailureGuard
    let broker: Broker

    static let maxBody = 16 * 1024
    private static let takesBody = Set(OpenAPIDocument.operations.filter(\.takesBody).map { "\($0.method) \($0.path)" })
    private static let typedQuery = Dictionary(OpenAPIDocument.operations.map { ("\($0.method) \($0.path)", $0.typedQuery) }) { first, _ in first }

    func register(_ handler: @escaping @Sendable (HTTPRequest, HTTPBody?, ServerRequestMetadata) async throws -> (HTTPResponse, HTTPBody?),
                  method: HTTPRequest.Method, path: String) throws {
        guard let access = OperationAccess.of(method: method.rawValue, path: path) else {
            throw BreakglassError(.internalFailure, "unrouted_operation", "no access decision for \(method.rawValue) \(path)")
        }
        guard access != .handWritten, let group = groups[access] else { return }
        let takesBody = Self.takesBody.contains("\(method.rawValue) \(path)")
        let typedQuery = Self.typedQuery["\(method.rawValue) \(path)"] ?? [:]
        var served: @Sendable (HTTPRequest, HTTPBody?, ServerRequestMetadata) async throws -> (HTTPResponse, HTTPBody?) = { request, body, metadata in
            var request = request
            request.path = request.path.map(Self.lenientQuery)
            try Self.checkTypedQuery(request.path ?? "", typedQuery)
            // The API never negotiated: an Accept header does not change (or refuse) the answer.
            request.headerFields[.accept] = nil
            let body = takesBody ? try await Self.readJSON(&request, body) : body
            let (response, responseBody) = try await handler(request, body, metadata)
            return (Self.finish(response), responseBody)
        }
        if access == .activation {
            let inner = served, guardian = guardian, broker = broker
            served = { request, body, metadata in
                try await Self.activation(request, body, metadata, guardian: guardian, broker: broker, next: inner)
            }
        }
        // Route templates as Hummingbird writes them (`:id`): the metrics label requests by template.
        group.register(served, method: method, path: path.replacingOccurrences(of: "{", with: ":").replacingOccurrences(of: "}", with: ""))
    }

    /// Breaking glass authenticates inside its own first statement; a request that fails before the use case ran
    /// (a bad body) is authenticated here so a caller without a valid token hears that, not what is wrong with
    /// the body, and the refusal counts toward the same budget.
    private static func activation(_ request: HTTPRequest, _ body: HTTPBody?, _ metadata: ServerRequestMetadata,
                                   guardian: AuthFailureGuard, broker: Broker, next: @Sendable (HTTPRequest, HTTPBody?, ServerRequestMetadata) async throws -> (HTTPResponse, HTTPBody?))
        async throws -> (HTTPResponse, HTTPBody?) {
        let caller = try APICaller.require()
        guard let bearer = caller.bearer else { throw BreakglassError.unauthenticated }
        do {
            return try await next(request, body, metadata)
        } catch {
            if (error as? ServerError)?.operationInput == nil {
                _ = try await guardian.authenticate(address: caller.origin.address) { try await broker.authenticate(bearer: bearer) }
            }
            throw error
        }
    }

    /// The body capped before anything reads it; only `application/json` (a `text/plain` POST is what a
    /// cross-site HTML form can send without a preflight); an empty body without a content type reads as `{}`
    /// (actions whose fields are all optional), so a missing field is named like any other.
    private static func readJSON(_ request: inout HTTPRequest, _ body: HTTPBody?) async throws -> HTTPBody {
        let bytes: [UInt8]
        do {
            if let body { bytes = try await [UInt8](collecting: body, upTo: maxBody) } else { bytes = [] }
        } catch {
            throw BreakglassError(.tooLarge, "body_too_large", "the request body is larger than \(maxBody / 1024) KiB")
        }
        try APICoding.requireJSON(request.headerFields[.contentType], bodyEmpty: bytes.isEmpty)
        guard !bytes.isEmpty else {
            request.headerFields[.contentType] = "application/json"
            return HTTPBody("{}")
        }
        return HTTPBody(bytes)
    }

    /// Query parameters read as the API always read them (its clients rely on it, the contract describes it): a
    /// flag is on only when `true`, `format` is CSV only when `csv`, and a repeated parameter counts once, first.
    static func lenientQuery(_ path: String) -> String {
        guard let mark = path.firstIndex(of: "?") else { return path }
        var seen = Set<Substring>(), items: [String] = []
        for item in path[path.index(after: mark)...].split(separator: "&") {
            let parts = item.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let key = parts[0], value = parts.count > 1 ? parts[1] : ""
            guard seen.insert(key).inserted else { continue }
            switch key {
            case "all", "drills", "dead": items.append("\(key)=\(value == "true")")
            case "format": if value == "csv" { items.append("format=csv") }
            default: items.append(String(item))
            }
        }
        return String(path[..<mark]) + (items.isEmpty ? "" : "?" + items.joined(separator: "&"))
    }

    /// A time or a number in the query is the whole value, or a 400 naming the parameter: the generated decoder
    /// refuses it too, but without saying which parameter it was. Read as the generated decoder reads it (`+` is a
    /// space, then percent-decoding), so what passes here is what the operation gets.
    static func checkTypedQuery(_ path: String, _ typed: [String: OpenAPIDocument.QueryValue]) throws {
        guard !typed.isEmpty, let mark = path.firstIndex(of: "?") else { return }
        func decoded(_ text: Substring) -> String { text.replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? "" }
        for item in path[path.index(after: mark)...].split(separator: "&") {
            let parts = item.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let name = decoded(parts[0]), value = parts.count > 1 ? decoded(parts[1]) : ""
            switch typed[name] {
            case .time? where Timestamp.parseExact(value) == nil:
                throw BreakglassError.invalid(name, "the query parameter '\(name)' is not an ISO 8601 time such as 2026-11-25T14:00:00Z (in a URL, write an offset's + as %2B)")
            case .integer? where Int64(value) == nil:
                throw BreakglassError.invalid(name, "the query parameter '\(name)' is not a whole number")
            default:
                continue
            }
        }
    }

    /// Answers carry the headers they always had: `application/json` without a charset parameter, CSV with
    /// its charset and file name, and `no-store` unless the operation set its own caching.
    private static func finish(_ response: HTTPResponse) -> HTTPResponse {
        var response = response
        switch response.headerFields[.contentType] {
        case "application/json; charset=utf-8":
            response.headerFields[.contentType] = "application/json"
            if response.headerFields[.cacheControl] == nil { response.headerFields[.cacheControl] = "no-store" }
        case "text/csv":
            response.headerFields[.contentType] = "text/csv; charset=utf-8"
            response.headerFields[.contentDisposition] = "attachment; filename=\"retro-queue.csv\""
            response.headerFields[.cacheControl] = "no-store"
        default:
            break
        }
        return response
    }
}
