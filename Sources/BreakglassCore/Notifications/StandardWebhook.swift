import Crypto
import Foundation

/// Signing per the Standard Webhooks specification (standardwebhooks.com): HMAC-SHA256 over
/// `id.timestamp.body` with the base64 secret after its `whsec_` prefix, sent as `v1,<base64>`.
/// During a secret rotation every current secret signs, space-separated, so receivers on either accept.
public enum StandardWebhook {
    public static func secretBytes(_ secret: String) throws -> [UInt8] {
        let encoded = secret.hasPrefix("whsec_") ? String(secret.dropFirst(6)) : secret
        guard let bytes = Data(base64Encoded: encoded), (24...64).contains(bytes.count) else {
            throw BreakglassError.invalid("secret", "a webhook secret is whsec_ followed by 24 to 64 random bytes in base64")
        }
        return Array(bytes)
    }

    public static func signature(id: String, timestamp: Int, body: [UInt8], secrets: [String]) throws -> String {
        var content = Array("\(id).\(timestamp).".utf8)
        content += body
        return try secrets.map { secret in
            let mac = HMAC<SHA256>.authenticationCode(for: content, using: SymmetricKey(data: try secretBytes(secret)))
            return "v1," + Data(mac).base64EncodedString()
        }.joined(separator: " ")
    }

    public static func generateSecret() -> String {
        "whsec_" + Data(Secrets.randomBytes(32)).base64EncodedString()
    }
}
