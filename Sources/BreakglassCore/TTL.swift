import Foundation

/// Durations as people type them: `90s`, `30m`, `1h30m`, `2d`.
public enum TTL {
    public static func parse(_ text: String) -> TimeInterval? {
        let trimmed = text.trimmingCharacters(in: .whitespaces).lowercased()
        guard !trimmed.isEmpty else { return nil }
        var total: TimeInterval = 0
        var digits = ""
        var sawUnit = false
        for ch in trimmed {
            if ch.isASCII && ch.isNumber {
                digits.append(ch)
                continue
            }
            guard let value = Double(digits), digits.count <= 7 else { return nil }
            switch ch {
            case "s": total += value
            case "m": total += value * 60
            case "h": total += value * 3600
            case "d": total += value * 86400
            default: return nil
            }
            digits = ""
            sawUnit = true
        }
        guard digits.isEmpty, sawUnit, total > 0 else { return nil }
        return total
    }

    public static func format(_ seconds: TimeInterval) -> String {
        var rest = Int(seconds.rounded())
        var out = ""
        for (unit, size) in [("d", 86400), ("h", 3600), ("m", 60), ("s", 1)] where rest >= size {
            out += "\(rest / size)\(unit)"
            rest %= size
        }
        return out.isEmpty ? "0s" : out
    }
}
