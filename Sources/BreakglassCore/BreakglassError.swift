import Foundation

/// Every refusal the broker can give, as a domain value. The server maps `kind` to an HTTP status and the
/// CLI maps the status to an exit code; `code` is stable for scripts and `message` is for humans.
/// Messages never contain secrets.
public struct BreakglassError: Error, Equatable, Sendable, CustomStringConvertible {
    public enum Kind: String, Sendable {
        case invalidInput      // 400
        case unauthenticated   // 401
        case forbidden         // 403
        case notFound          // 404
        case conflict          // 409
        case locked            // 423
        case tooLarge          // 413
        case unsupportedMediaType // 415
        case rateLimited       // 429
        case unavailable       // 503
        case internalFailure   // 500
    }

    public let kind: Kind
    public let code: String
    public let message: String

    public init(_ kind: Kind, _ code: String, _ message: String) {
        self.kind = kind
        self.code = code
        self.message = message
    }

    public var description: String { "\(code): \(message)" }
}

extension BreakglassError {
    public static func invalid(_ field: String, _ message: String) -> Self {
        .init(.invalidInput, "invalid_\(field)", message)
    }
    /// A stored row the broker cannot read: a manual edit or an incompatible version, never "the database is
    /// unreachable". `what` names the table and row, never its content (which may be a secret's ciphertext).
    public static func corruptRow(_ what: String) -> Self {
        .init(.internalFailure, "corrupt_row", "\(what) could not be read: the row was altered or written by an incompatible version")
    }
    public static let totpWrong = Self(.forbidden, "totp_wrong", "the TOTP code is wrong")
    public static let totpReused = Self(
        .forbidden, "totp_reused", "this TOTP code (or a later one) was already used; wait for the next code")
    public static func accountLocked(until: Date) -> Self {
        .init(.locked, "account_locked",
              "too many failed TOTP codes; the account is locked until \(Timestamp.format(until)) (an admin can unlock it)")
    }
    public static let notEnrolled = Self(
        .forbidden, "not_enrolled", "this account has no confirmed TOTP enrolment; enrol first")
    public static let unauthenticated = Self(
        .unauthenticated, "unauthenticated", "missing, invalid or revoked API token; run `breakglass login` (or `breakglass enroll`) or set BREAKGLASS_TOKEN")
    public static func tokenExpired(at: Date) -> Self {
        .init(.unauthenticated, "token_expired", "your API token expired at \(Timestamp.format(at)); run `breakglass login` with a TOTP code for a new one")
    }
    /// Every route refuses a locked account's token, so a stolen token of a locked admin is worth nothing.
    public static func accountLockedToken(until: Date) -> Self {
        .init(.forbidden, "account_locked", "this account is locked until \(Timestamp.format(until)) after failed TOTP codes; its tokens are refused until an admin unlocks it")
    }
    public static func forbidden(_ message: String) -> Self { .init(.forbidden, "forbidden", message) }
    public static func targetUnknown(_ name: String) -> Self {
        .init(.notFound, "target_unknown", "no target named '\(name)'")
    }
    public static func sessionUnknown(_ id: String) -> Self {
        .init(.notFound, "session_unknown", "no session '\(id)'")
    }
    public static func userUnknown(_ name: String) -> Self {
        .init(.notFound, "user_unknown", "no user named '\(name)'")
    }
    public static func sessionNotActive(_ id: String, state: String) -> Self {
        .init(.conflict, "session_not_active", "session \(id) is \(state); only an active session can change")
    }
    public static let storeUnavailable = Self(
        .unavailable, "database_unavailable", "the audit database is unreachable; nothing was issued")
}

/// One timestamp format everywhere a human or an auditor reads one: UTC, ISO 8601, milliseconds.
public enum Timestamp {
    public static func format(_ date: Date) -> String {
        // Nearest, not floor: a stored millisecond value read back through microsecond storage may land a hair below it.
        let millis = (date.timeIntervalSince1970 * 1000).rounded()
        let whole = Date(timeIntervalSince1970: (millis / 1000).rounded(.down))
        let ms = Int(millis.truncatingRemainder(dividingBy: 1000))
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let c = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: whole)
        return String(format: "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
                      c.year!, c.month!, c.day!, c.hour!, c.minute!, c.second!, ms)
    }

    /// Truncates to the millisecond precision audit bodies carry, so a stored time and its body agree.
    public static func truncated(_ date: Date) -> Date {
        // The half-microsecond nudge keeps this idempotent despite binary floating point.
        Date(timeIntervalSince1970: (date.timeIntervalSince1970 * 1000 + 0.0005).rounded(.down) / 1000)
    }

    /// JWT NumericDate values: whole seconds, never later than the instant given.
    public static func wholeSeconds(_ date: Date) -> Date {
        Date(timeIntervalSince1970: (date.timeIntervalSince1970 + 0.0000005).rounded(.down))
    }

    /// JSON date coding in this format, for every encoder and decoder of the API and the audit chain.
    public static let encodingStrategy: JSONEncoder.DateEncodingStrategy = .custom { date, encoder in
        var container = encoder.singleValueContainer()
        try container.encode(format(date))
    }

    public static let decodingStrategy: JSONDecoder.DateDecodingStrategy = .custom { decoder in
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let date = parse(text) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "'\(text)' is not an ISO 8601 time"))
        }
        return date
    }

    public static func parse(_ text: String) -> Date? {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        if let date = formatter.date(from: text) { return date }
        formatter.formatOptions = [.withInternetDateTime]
        return formatter.date(from: text)
    }
}
