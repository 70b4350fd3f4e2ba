import Foundation

/// Input rules shared by the server (which enforces them) and the CLI (which checks early for a quicker message).
public enum Validation {
    public static func userName(_ name: String) throws -> String {
        try token(name, field: "user", pattern: "^[a-z][a-z0-9._-]{1,62}$",
                  plain: TokenShape(first: isLower, rest: { isLower($0) || isDigit($0) || "._-".utf8.contains($0) }, length: 2...63),
                  rule: "2-63 characters: lower-case letters, digits, '.', '_' or '-', starting with a letter")
    }

    public static func targetName(_ name: String) throws -> String {
        try token(name, field: "target", pattern: "^[a-z0-9][a-z0-9._-]{0,62}$",
                  plain: TokenShape(first: { isLower($0) || isDigit($0) }, rest: { isLower($0) || isDigit($0) || "._-".utf8.contains($0) },
                                    length: 1...63),
                  rule: "1-63 characters: lower-case letters, digits, '.', '_' or '-'")
    }

    public static func incident(_ id: String) throws -> String {
        try token(id.trimmingCharacters(in: .whitespaces), field: "incident",
                  pattern: "^[A-Za-z0-9][A-Za-z0-9._:/#-]{1,63}$",
                  plain: TokenShape(first: { isAlphanumeric($0) }, rest: { isAlphanumeric($0) || "._:/#-".utf8.contains($0) }, length: 2...64),
                  rule: "an incident id such as INC-4521 (2-64 characters, no spaces) is required")
    }

    public static let minimumReasonLength = 12

    /// A justification an auditor can read later: not empty, not a placeholder, not a novel.
    public static func reason(_ text: String, field: String = "reason") throws -> String {
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        let words = trimmed.split(whereSeparator: { $0.isWhitespace }).count
        let placeholders: Set<String> = ["test", "testing", "fix", "n/a", "na", "none", "asdf", "todo", "incident", "emergency", "access"]
        guard trimmed.count >= minimumReasonLength, words >= 2, !placeholders.contains(trimmed.lowercased()) else {
            throw BreakglassError.invalid(
                field, "\(field) must say what you will do and why: at least \(minimumReasonLength) characters and two words")
        }
        guard trimmed.count <= 1000 else { throw BreakglassError.invalid(field, "\(field) is longer than 1000 characters") }
        guard !trimmed.unicodeScalars.contains(where: { $0.properties.generalCategory == .control && $0 != "\n" }) else {
            throw BreakglassError.invalid(field, "\(field) contains control characters")
        }
        return trimmed
    }

    /// The ASCII strings a pattern accepts, checked byte by byte: every activation validates names, and the
    /// regular expression engine costs more than the rest of the validation.
    private struct TokenShape {
        var first: (UInt8) -> Bool
        var rest: (UInt8) -> Bool
        var length: ClosedRange<Int>

        func matches(_ value: String) -> Bool {
            let bytes = value.utf8
            guard length.contains(bytes.count), let head = bytes.first, first(head) else { return false }
            return bytes.dropFirst().allSatisfy(rest)
        }
    }

    private static func isLower(_ byte: UInt8) -> Bool { byte >= 0x61 && byte <= 0x7A }
    private static func isDigit(_ byte: UInt8) -> Bool { byte >= 0x30 && byte <= 0x39 }
    private static func isAlphanumeric(_ byte: UInt8) -> Bool { isLower(byte | 0x20) || isDigit(byte) }

    /// `plain` accepts a subset of `pattern` (what the pattern's `$` also lets through before a final line
    /// break is left to the pattern), so only unusual input pays for the regular expression.
    private static func token(_ value: String, field: String, pattern: String, plain: TokenShape, rule: String) throws -> String {
        if plain.matches(value) { return value }
        guard value.range(of: pattern, options: .regularExpression) != nil else {
            let shown = value.count > 40 ? String(value.prefix(40)) + "…" : value
            throw BreakglassError.invalid(field, "'\(shown)' is not a valid \(field) name: \(rule)")
        }
        return value
    }
}
