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

    static let decoder: JSONDecoder = {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return decoder
    }()

    static let maxBody = 16 * 1024

    /// Only `application/json` bodies are parsed: a `text/plain` POST is what a cross-site HTML form can
    /// send without a preflight, so accepting it would let any page drive the API. An empty body without
    /// a content type reads as `{}` (actions whose only field is optional).
    static func requireJSON(_ request: Request, bodyEmpty: Bool) throws {
        guard let type = request.headers[.contentType] else {
            if bodyEmpty { return }
            throw unsupportedMediaType("none")
        }
        let media = type.split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() } ?? ""
        guard media == "application/json" else { throw unsupportedMediaType(String(media.prefix(60))) }
    }

    static func unsupportedMediaType(_ given: String) -> BreakglassError {
        BreakglassError(.unsupportedMediaType, "unsupported_media_type", "the request body must be application/json (Content-Type was \(given))")
    }

    static func decode<T: Decodable>(_ type: T.Type, from request: Request) async throws -> T {
        var request = request
        let buffer: ByteBuffer
        do {
            buffer = try await request.collectBody(upTo: maxBody)
        } catch {
            throw BreakglassError(.tooLarge, "body_too_large", "the request body is larger than \(maxBody / 1024) KiB")
        }
        try requireJSON(request, bodyEmpty: buffer.readableBytes == 0)
        do {
            return try decoder.decode(T.self, from: buffer.readableBytes == 0 ? Data("{}".utf8) : Data(buffer.readableBytesView))
        } catch DecodingError.keyNotFound(let key, _) {
            throw BreakglassError.invalid(snake(key.stringValue), "the field '\(snake(key.stringValue))' is required")
        } catch DecodingError.typeMismatch(_, let context), DecodingError.valueNotFound(_, let context) {
            let field = context.codingPath.last.map { snake($0.stringValue) } ?? "body"
            throw BreakglassError.invalid(field, "the field '\(field)' has the wrong type")
        } catch {
            throw BreakglassError(.invalidInput, "invalid_json", "the request body is not a JSON object of the expected shape")
        }
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

    private static func snake(_ key: String) -> String {
        key.reduce(into: "") { out, ch in
            if ch.isUppercase { out += "_" + ch.lowercased() } else { out.append(ch) }
        }
    }
}

struct CreateUserBody: Decodable { var name: String; var roles: [String]; var totp: String? }
struct GitHubLoginBody: Decodable { var login: String?; var totp: String? }
/// Admin actions with no other input still carry the admin's fresh TOTP code.
struct StepUpBody: Decodable { var totp: String? }
struct LoginBody: Decodable { var user: String; var totp: String }
struct EnrollmentStartBody: Decodable { var code: String }
struct EnrollmentConfirmBody: Decodable { var code: String; var totp: String }
struct TargetBody: Decodable {
    var kind: String?
    var audience: String?
    var maxTtl: String
    var maxTotal: String?
    var retroDeadline: String?
    var retroFrom: String?
    var requesters: [String]?
    var drillDeadline: String?
    /// `postgres` targets.
    var pgHost: String?
    var pgPort: Int?
    var pgDatabase: String?
    var pgTls: String?
    var managingRole: String?
    var managingPassword: String?
    var grantRole: String?
    var connectionLimit: Int?
    var statementTimeout: String?
    var redactParameters: Bool?
    var access: String?
    var totp: String?
}
struct SessionRequestBody: Decodable { var target: String; var reason: String; var incident: String; var ttl: String?; var totp: String }
struct ExtendBody: Decodable { var ttl: String; var totp: String }
struct RevokeBody: Decodable { var reason: String }
struct VerifyBody: Decodable { var expectedHeads: [ChainHead]? }

struct UserView: Encodable {
    var name: String
    var roles: [Role]
    var enrolled: Bool
    var lockedUntil: Date?
}

struct AuditHeadView: Encodable {
    var digest: String
    var events: Int64
    var heads: [ChainHead]
}

func parseDuration(_ text: String?, field: String) throws -> TimeInterval? {
    guard let text else { return nil }
    guard let value = TTL.parse(text) else {
        throw BreakglassError.invalid(field, "'\(text)' is not a duration; use forms like 90s, 30m, 1h30m, 2d")
    }
    return value
}

struct ChannelBody: Decodable {
    var kind: String
    var url: String
    var routingKey: String?
    var secrets: [String]?
    var events: [String]?
    var targets: [String]?
    var minInterval: String?
    var totp: String?
}
