import BreakglassCore
import Foundation
import Hummingbird

/// JSON on the wire: snake_case keys, UTC ISO 8601 times with milliseconds.
enum APICoding {
    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = Timestamp.encodingStrategy
        return encoder
    }()

    /// Only `application/json` bodies are parsed: a `text/plain` POST is what a cross-site HTML form can
    /// send without a preflight, so accepting it would let any page drive the API. An empty body without
    /// a content type reads as `{}` (actions whose only field is optional).
    static func requireJSON(_ contentType: String?, bodyEmpty: Bool) throws {
        guard let type = contentType else {
            if bodyEmpty { return }
            throw unsupportedMediaType("none")
        }
        let media = type.split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() } ?? ""
        guard media == "application/json" else { throw unsupportedMediaType(String(media.prefix(60))) }
    }

    static func unsupportedMediaType(_ given: String) -> BreakglassError {
        BreakglassError(.unsupportedMediaType, "unsupported_media_type", "the request body must be application/json (Content-Type was \(given))")
    }

    static func response<T: Encodable>(_ value: T, status: HTTPResponse.Status = .ok) throws -> Response {
        response(json: ByteBuffer(bytes: try encoder.encode(value)), status: status)
    }

    static func response(json body: ByteBuffer, status: HTTPResponse.Status = .ok) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        headers[.cacheControl] = "no-store"
        return Response(status: status, headers: headers, body: .init(byteBuffer: body))
    }
}

func parseDuration(_ text: String?, field: String) throws -> TimeInterval? {
    guard let text else { return nil }
    guard let value = TTL.parse(text) else {
        throw BreakglassError.invalid(field, "'\(text)' is not a duration; use forms like 90s, 30m, 1h30m, 2d")
    }
    return value
}
