import Foundation

/// A signing key as stored: public half readable, private half encrypted.
public struct SigningKeyRecord: Sendable, Equatable {
    public var kid: String
    public var algorithm: String { "EdDSA" }
    public var publicKey: [UInt8]
    public var privateKeyEnc: [UInt8]
    public var createdAt: Date

    public init(kid: String, publicKey: [UInt8], privateKeyEnc: [UInt8], createdAt: Date) {
        self.kid = kid
        self.publicKey = publicKey
        self.privateKeyEnc = privateKeyEnc
        self.createdAt = createdAt
    }

    public static func context(_ kid: String) -> String { "signing-key:\(kid)" }
    public var encryptionContext: String { Self.context(kid) }
}

