import BreakglassCore
import Foundation
import HTTPTypes
import Hummingbird

/// The broker's refusals render themselves, through Hummingbird's own protocol: anything that catches an
/// `HTTPResponseError` (the router, `ErrorMiddleware`) answers with the API's body, status and headers.
/// Core and server are one package, so this is not a retroactive conformance (Swift 6 does not warn about it).
extension BreakglassError: HTTPResponseError {
    public var status: HTTPResponse.Status {
        switch kind {
        case .invalidInput: .badRequest
        case .unauthenticated: .unauthorized
        case .forbidden: .forbidden
        case .notFound: .notFound
        case .conflict: .conflict
        case .locked: .init(code: 423, reasonPhrase: "Locked")
        case .tooLarge: .contentTooLarge
        case .unsupportedMediaType: .unsupportedMediaType
        case .rateLimited: .tooManyRequests
        case .unavailable: .serviceUnavailable
        case .internalFailure: .internalServerError
        }
    }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        var response = Response.apiError(status: status, code: code, message: message)
        // A refusal from inside a use case (not the per-address budget, which knows its wait) says when to come back.
        if kind == .rateLimited { response.headers[.retryAfter] = "1" }
        return response
    }
}

extension Response {
    /// `{"error":{"code","message"}}`: the one shape of every error the API gives, never cached.
    static func apiError(status: HTTPResponse.Status, code: String, message: String) -> Response {
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
