import Crypto
import Foundation

/// HOTP (RFC 4226) and TOTP (RFC 6238) code generation.
public struct OneTimePassword: Sendable {
    public enum Algorithm: String, Sendable, CaseIterable {
        case sha1 = "SHA1", sha256 = "SHA256", sha512 = "SHA512"
    }

    public let secret: [UInt8]
    public let algorithm: Algorithm
    public let digits: Int
    public let period: Int

    /// Defaults are the only parameters every authenticator app honours.
    public init(secret: [UInt8], algorithm: Algorithm = .sha1, digits: Int = 6, period: Int = 30) {
        precondition((6...10).contains(digits) && period > 0)
        self.secret = secret
        self.algorithm = algorithm
        self.digits = digits
        self.period = period
    }

    public func step(at date: Date) -> Int64 {
        Int64((date.timeIntervalSince1970 / Double(period)).rounded(.down))
    }

    public func code(at date: Date) -> String { hotp(counter: UInt64(max(0, step(at: date)))) }

    public func hotp(counter: UInt64) -> String {
        var big = counter.bigEndian
        let message = withUnsafeBytes(of: &big) { Array($0) }
        let key = SymmetricKey(data: secret)
        let mac: [UInt8]
        switch algorithm {
        case .sha1: mac = Array(HMAC<Insecure.SHA1>.authenticationCode(for: message, using: key))
        case .sha256: mac = Array(HMAC<SHA256>.authenticationCode(for: message, using: key))
        case .sha512: mac = Array(HMAC<SHA512>.authenticationCode(for: message, using: key))
        }
        let offset = Int(mac[mac.count - 1] & 0x0F)
        let binary = (UInt64(mac[offset] & 0x7F) << 24)
            | (UInt64(mac[offset + 1]) << 16)
            | (UInt64(mac[offset + 2]) << 8)
            | UInt64(mac[offset + 3])
        var modulus: UInt64 = 1
        for _ in 0..<digits { modulus *= 10 }
        let value = String(binary % modulus)
        return String(repeating: "0", count: digits - value.count) + value
    }

    /// The `otpauth://` URI an authenticator app scans. Issuer appears in the label and as a parameter,
    /// as Google Authenticator's key-uri format asks.
    public func provisioningURI(issuer: String, account: String) -> String {
        let label = "\(percentEncode(issuer)):\(percentEncode(account))"
        return "otpauth://totp/\(label)?secret=\(Base32.encode(secret))&issuer=\(percentEncode(issuer))"
            + "&algorithm=\(algorithm.rawValue)&digits=\(digits)&period=\(period)"
    }

    private func percentEncode(_ text: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return text.addingPercentEncoding(withAllowedCharacters: allowed) ?? text
    }
}
