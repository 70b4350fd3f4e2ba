import Hummingbird

/// Hummingbird's own refusals (an unknown route, a wrong method, a body over its limit) in the API's error shape
/// rather than Hummingbird's, with a code a script can match like any other.
struct RouterRefusal: HTTPResponseError {
    let status: HTTPResponse.Status
    let code: String
    let message: String

    init(_ error: HTTPError, request: Request) {
        status = error.status
        switch error.status {
        case .notFound: code = "not_found"
        case .methodNotAllowed: code = "method_not_allowed"
        case .contentTooLarge: code = "body_too_large"
        case .unsupportedMediaType: code = "unsupported_media_type"
        default: code = error.status.code < 500 ? "bad_request" : "internal_error"
        }
        message = error.body ?? (error.status == .notFound ? "no such endpoint: \(request.method) \(request.uri.path)" : error.status.reasonPhrase)
    }

    func response(from request: Request, context: some RequestContext) throws -> Response {
        .apiError(status: status, code: code, message: message)
    }
}
