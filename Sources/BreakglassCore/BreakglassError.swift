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
        // Every audit event, page and API answer formats several times: plain arithmetic for the years the broker
        // lives in, Foundation's calendar (and its cost) only outside them.
        if millis >= 0, millis < 253_402_300_800_000 { return formatCivil(millis: Int64(millis)) }
        let whole = Date(timeIntervalSince1970: (millis / 1000).rounded(.down))
        let ms = Int(millis.truncatingRemainder(dividingBy: 1000))
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let c = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: whole)
        return String(format: "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
                      c.year!, c.month!, c.day!, c.hour!, c.minute!, c.second!, ms)
    }

    /// Proleptic Gregorian date from days since 1970 (H. Hinnant's `civil_from_days`), the same fields as
    /// Foundation's Gregorian calendar in UTC gives for years 1970 through 9999.
    static func formatCivil(millis: Int64) -> String {
        let seconds = millis / 1000, ms = Int(millis % 1000)
        let days = seconds / 86400, secondOfDay = Int(seconds % 86400)
        let z = days + 719_468
        let era = z / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let mp = (5 * dayOfYear + 2) / 153
        let day = Int(dayOfYear - (153 * mp + 2) / 5 + 1)
        let month = Int(mp < 10 ? mp + 3 : mp - 9)
        let year = Int(yearOfEra + era * 400) + (month <= 2 ? 1 : 0)
        var out = [UInt8](repeating: 0, count: 24)
        func put(_ value: Int, at offset: Int, digits: Int) {
            var value = value
            for i in stride(from: offset + digits - 1, through: offset, by: -1) {
                out[i] = UInt8(48 + value % 10)
                value /= 10
            }
        }
        put(year, at: 0, digits: 4)
        out[4] = 0x2D
        put(month, at: 5, digits: 2)
        out[7] = 0x2D
        put(day, at: 8, digits: 2)
        out[10] = 0x54
        put(secondOfDay / 3600, at: 11, digits: 2)
        out[13] = 0x3A
        put(secondOfDay / 60 % 60, at: 14, digits: 2)
        out[16] = 0x3A
        put(secondOfDay % 60, at: 17, digits: 2)
        out[19] = 0x2E
        put(ms, at: 20, digits: 3)
        out[23] = 0x5A
        return String(decoding: out, as: UTF8.self)
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
}
