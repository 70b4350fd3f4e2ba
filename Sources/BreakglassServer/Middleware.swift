import BreakglassCore
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import OpenAPIRuntime

/// What only a middleware can do for errors: unwrap the use case's error from the generated handler's
/// `ServerError`, log internal failures (their codes only, never a message or a secret), put Hummingbird's own refusals in the API's shape, and turn anything unknown into a generic 500 whose
/// details go to the log only. The errors render themselves (`HTTPResponseError`); they are rendered here rather
/// than rethrown so the middlewares outside this one (HSTS, metrics) see an answer, as for any other request.
struct ErrorMiddleware: RouterMiddleware {
    typealias Context = BreakglassRequestContext

    static let unexpected = BreakglassError(.internalFailure, "internal_error", "the broker hit an unexpected error; nothing was issued")

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
            return try error.response(from: request, context: context)
        } catch let error as HTTPError {
            return try RouterRefusal(error, request: request).response(from: request, context: context)
        } catch {
            context.logger.error("unexpected error", metadata: ["error.type": "\(type(of: error))"])
            return try Self.unexpected.response(from: request, context: context)
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
