import Crypto
import Foundation

/// Encrypts secrets at rest (TOTP seeds, signing keys) with AES-256-GCM. The associated data binds each
/// ciphertext to its row, so a seed copied onto another user's row does not decrypt.
public struct SecretBox: Sendable {
    private let key: SymmetricKey

    public init(keyBytes: [UInt8]) throws {
        guard keyBytes.count == 32 else {
            throw BreakglassError(.internalFailure, "bad_master_key", "the master key must be exactly 32 bytes (256 bits)")
        }
        key = SymmetricKey(data: keyBytes)
    }

    public static func generateKey() -> [UInt8] {
        SymmetricKey(size: .bits256).withUnsafeBytes { Array($0) }
    }

    public func seal(_ plaintext: [UInt8], context: String) throws -> [UInt8] {
        let box = try AES.GCM.seal(plaintext, using: key, authenticating: Data(context.utf8))
        guard let combined = box.combined else {
            throw BreakglassError(.internalFailure, "encryption_failed", "could not encrypt a secret")
        }
        return Array(combined)
    }

    public func open(_ ciphertext: [UInt8], context: String) throws -> [UInt8] {
        do {
            let box = try AES.GCM.SealedBox(combined: ciphertext)
            return Array(try AES.GCM.open(box, using: key, authenticating: Data(context.utf8)))
        } catch {
            throw BreakglassError(.internalFailure, "decryption_failed",
                                  "a stored secret could not be decrypted: wrong master key or altered row")
        }
    }
}

/// Random identifiers and bearer secrets, all from the system CSPRNG.
public enum Secrets {
    public static func randomBytes(_ count: Int) -> [UInt8] {
        var generator = SystemRandomNumberGenerator()
        return (0..<count).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
    }

    /// `bg_` + 20 Base32 characters (100 bits): short enough to type, unguessable.
    public static func sessionId() -> String { "bg_" + Base32.encode(randomBytes(13)).prefix(20) }

    /// 256-bit API token, shown once to the CLI; only its hash is stored.
    public static func apiToken() -> String { "bgt_" + base64url(randomBytes(32)) }

    /// 160-bit one-time enrolment code, grouped for reading aloud.
    public static func enrollmentCode() -> String {
        let raw = Base32.encode(randomBytes(20))
        return stride(from: 0, to: raw.count, by: 8).map { i in
            let start = raw.index(raw.startIndex, offsetBy: i)
            return String(raw[start..<raw.index(start, offsetBy: min(8, raw.count - i))])
        }.joined(separator: "-")
    }

    public static func hash(_ secret: String) -> [UInt8] {
        Array(SHA256.hash(data: Data(secret.utf8)))
    }

    public static func base64url(_ bytes: [UInt8]) -> String {
        Data(bytes).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }
}
