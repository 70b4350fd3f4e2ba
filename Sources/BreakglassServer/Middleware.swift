import BreakglassCore
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import OpenAPIRuntime

/// Turns every error into `{"error":{"code","message"}}` with a fitting status. Unknown errors become a
/// generic 500 whose details go to the log only: users never see a stack trace or driver message.
struct ErrorMiddleware: RouterMiddleware {
    typealias Context = BreakglassRequestContext

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            do {
                return try await next(request, context)
            } catch let error as ServerError {
                // A generated handler wraps what went wrong: the use case's own error, or why its input did not decode.
                throw Self.unwrap(error)
            }
        } catch let error as BreakglassError {
            if error.kind == .internalFailure || error.kind == .unavailable {
                context.logger.error("request failed", metadata: ["error.code": "\(error.code)"])
            }
            var response = Self.response(for: error)
            if error.kind == .rateLimited { response.headers[.retryAfter] = "1" }
            return response
        } catch let error as HTTPError {
            let code: String
            switch error.status {
            case .notFound: code = "not_found"
            case .methodNotAllowed: code = "method_not_allowed"
            case .contentTooLarge: code = "body_too_large"
            case .unsupportedMediaType: code = "unsupported_media_type"
            default: code = error.status.code < 500 ? "bad_request" : "internal_error"
            }
            let message = error.body ?? (error.status == .notFound ? "no such endpoint: \(request.method) \(request.uri.path)" : error.status.reasonPhrase)
            return Self.json(status: error.status, code: code, message: message)
        } catch {
            context.logger.error("unexpected error", metadata: ["error.type": "\(type(of: error))"])
            return Self.json(status: .internalServerError, code: "internal_error", message: "the broker hit an unexpected error; nothing was issued")
        }
    }

    /// What a generated operation's failure means to the client: the use case's error as thrown, a body or
    /// parameter that did not decode as the field it names (the messages the API always gave), anything else as is.
    static func unwrap(_ error: ServerError) -> any Error {
        switch error.underlyingError {
        case let error as BreakglassError:
            return error
        case DecodingError.keyNotFound(let key, _):
            return BreakglassError.invalid(key.stringValue, "the field '\(key.stringValue)' is required")
        case DecodingError.typeMismatch(_, let context), DecodingError.valueNotFound(_, let context):
            let field = context.codingPath.last?.stringValue ?? "body"
            return BreakglassError.invalid(field, "the field '\(field)' has the wrong type")
        case DecodingError.dataCorrupted(let context) where !context.codingPath.isEmpty:
            let field = context.codingPath.last?.stringValue ?? "body"
            return BreakglassError.invalid(field, "the field '\(field)' has a value the API does not accept")
        case is DecodingError:
            return BreakglassError(.invalidInput, "invalid_json", "the request body is not a JSON object of the expected shape")
        default:
            // A query or path parameter that is not of its declared type, before any use case ran.
            guard error.operationInput == nil else { return error.underlyingError }
            return BreakglassError(.invalidInput, "invalid_request", "the request does not match the API contract: \(error.causeDescription)")
        }
    }

    static func response(for error: BreakglassError) -> Response {
        let status: HTTPResponse.Status
        switch error.kind {
        case .invalidInput: status = .badRequest
        case .unauthenticated: status = .unauthorized
        case .forbidden: status = .forbidden
        case .notFound: status = .notFound
        case .conflict: status = .conflict
        case .locked: status = .init(code: 423, reasonPhrase: "Locked")
        case .tooLarge: status = .contentTooLarge
        case .unsupportedMediaType: status = .unsupportedMediaType
        case .rateLimited: status = .tooManyRequests
        case .unavailable: status = .serviceUnavailable
        case .internalFailure: status = .internalServerError
        }
        return json(status: status, code: error.code, message: error.message)
    }

    static func json(status: HTTPResponse.Status, code: String, message: String) -> Response {
        struct Body: Encodable { var error: [String: String] }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let data = (try? encoder.encode(Body(error: ["code": code, "message": message]))) ?? Data()
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        headers[.cacheControl] = "no-store"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}

/// Resolves `Authorization: Bearer …` for routes that need a user.
struct AuthMiddleware: RouterMiddleware {
    typealias Context = BreakglassRequestContext
    let broker: Broker
    let guardian: AuthFailureGuard

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let bearer = Self.bearerToken(request) else { throw BreakglassError.unauthenticated }
        var context = context
        context.user = try await guardian.authenticate(address: context.clientAddress) { try await broker.authenticate(bearer: bearer) }
        return try await next(request, context)
    }

    static func bearerToken(_ request: Request) -> String? {
        guard let header = request.headers[.authorization], header.lowercased().hasPrefix("bearer ") else { return nil }
        return String(header.dropFirst(7)).trimmingCharacters(in: .whitespaces)
    }
}

/// Behind a reverse proxy every client shares the proxy's address, which would make per-address limits
/// per-proxy (one attacker spends everyone's budget) and audit rows useless. From a configured proxy only,
/// the client is the right-most `X-Forwarded-For` entry that is not itself a trusted proxy.
struct ClientAddressMiddleware: RouterMiddleware {
    typealias Context = BreakglassRequestContext
    let trustedProxies: Set<String>

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let peer = context.remoteAddress, trustedProxies.contains(peer),
              let forwarded = request.headers[HTTPField.Name("X-Forwarded-For")!] else {
            return try await next(request, context)
        }
        let hops = forwarded.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        var context = context
        context.clientAddress = hops.last { !trustedProxies.contains($0) }.map { String($0.prefix(64)) } ?? peer
        return try await next(request, context)
    }
}

/// HSTS on every answer of a TLS listener (RFC 6797): a browser that has seen the compliance pages over
/// HTTPS will not be talked down to plain HTTP.
struct StrictTransportSecurityMiddleware: RouterMiddleware {
    typealias Context = BreakglassRequestContext

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var response = try await next(request, context)
        response.headers[.strictTransportSecurity] = "max-age=31536000"
        return response
    }
}
