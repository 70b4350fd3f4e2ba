import Foundation

/// Whether a host name or address stays on this machine. Parsed, not prefix-matched: `127.evil.example`
/// is a DNS name that can point anywhere.
public enum LoopbackAddress {
    public static func isLoopback(_ host: String) -> Bool {
        let bare = host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
        if bare.lowercased() == "localhost" || bare == "::1" || bare == "0:0:0:0:0:0:0:1" { return true }
        guard let octets = ipv4Octets(bare) else { return false }
        return octets[0] == 127
    }

    /// A literal IPv4 or IPv6 address (not a name).
    public static func isIPAddress(_ text: String) -> Bool {
        if ipv4Octets(text) != nil { return true }
        let hex = text.split(separator: ":", omittingEmptySubsequences: false)
        return text.contains(":") && hex.count <= 8 && text.allSatisfy { $0.isHexDigit && $0.isASCII || $0 == ":" || $0 == "." }
    }

    static func ipv4Octets(_ text: String) -> [Int]? {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        let octets = parts.compactMap { part -> Int? in
            guard (1...3).contains(part.count), part.allSatisfy({ $0.isASCII && $0.isNumber }), let value = Int(part), value <= 255 else { return nil }
            return value
        }
        return octets.count == 4 ? octets : nil
    }
}
