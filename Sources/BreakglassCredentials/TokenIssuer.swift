import BreakglassCore
import Crypto
import Foundation
import JWTKit

/// The claims of a break-glass bearer token. `jti` is the session id, so a downstream service can tie
/// every request it serves back to the audited session.
public struct BreakglassTokenClaims: JWTPayload, Equatable {
    public var iss: IssuerClaim
    public var sub: SubjectClaim
    public var aud: AudienceClaim
    public var iat: IssuedAtClaim
    public var nbf: NotBeforeClaim
    public var exp: ExpirationClaim
    public var jti: IDClaim
    public var target: String
    public var reason: String
    public var incident: String

    public func verify(using algorithm: some JWTAlgorithm) async throws {
        try exp.verifyNotExpired()
        try nbf.verifyNotBefore()
    }
}

/// Signs session tokens with Ed25519 (JWS `EdDSA`) and publishes the public keys as a JWKS.
public struct TokenIssuer: Sendable {
    public let issuer: String
    public let signingKid: String
    private let keys: JWTKeyCollection
    public let jwks: JWKSDocument

    /// `stored` is newest first; the newest signs, all are published so tokens from a retiring key still verify.
    public init(stored: [SigningKeyRecord], box: SecretBox, issuer: String) async throws {
        guard let newest = stored.first else {
            throw BreakglassError(.internalFailure, "no_signing_key", "no token signing key is configured")
        }
        let keys = JWTKeyCollection()
        for key in stored {
            let raw = try box.open(key.privateKeyEnc, context: key.encryptionContext)
            let privateKey = try Curve25519.Signing.PrivateKey(rawRepresentation: raw)
            await keys.add(eddsa: EdDSA.PrivateKey(backing: privateKey), kid: JWKIdentifier(string: key.kid))
        }
        self.keys = keys
        self.issuer = issuer
        signingKid = newest.kid
        jwks = JWKSDocument(keys: stored.map { JWKSDocument.Key(kid: $0.kid, x: Secrets.base64url($0.publicKey)) })
    }

    public func issue(session: EmergencySession, audience: String, now: Date) async throws -> String {
        let claims = BreakglassTokenClaims(
            iss: .init(value: issuer), sub: .init(value: session.requester), aud: .init(value: [audience]),
            iat: .init(value: Timestamp.wholeSeconds(now)), nbf: .init(value: Timestamp.wholeSeconds(now)),
            exp: .init(value: Timestamp.wholeSeconds(session.expiresAt)), jti: .init(value: session.id), target: session.target,
            reason: session.reason, incident: session.incident)
        return try await keys.sign(claims, kid: JWKIdentifier(string: signingKid))
    }

    /// A fresh Ed25519 key, its private half sealed with the master key. The kid is its RFC 7638 thumbprint.
    public static func generateKey(box: SecretBox, now: Date) throws -> SigningKeyRecord {
        let key = Curve25519.Signing.PrivateKey()
        let publicKey = Array(key.publicKey.rawRepresentation)
        let kid = JWKSDocument.thumbprint(x: Secrets.base64url(publicKey))
        return SigningKeyRecord(kid: kid, publicKey: publicKey,
                                 privateKeyEnc: try box.seal(Array(key.rawRepresentation), context: SigningKeyRecord.context(kid)),
                                 createdAt: now)
    }
}

/// RFC 7517 key set for `GET /.well-known/jwks.json`.
public struct JWKSDocument: Codable, Sendable, Equatable {
    public struct Key: Codable, Sendable, Equatable {
        public var kty = "OKP"
        public var crv = "Ed25519"
        public var alg = "EdDSA"
        public var use = "sig"
        public var kid: String
        public var x: String
    }

    public var keys: [Key]

    /// RFC 7638: SHA-256 over the required members in lexicographic order, base64url.
    public static func thumbprint(x: String) -> String {
        let canonical = #"{"crv":"Ed25519","kty":"OKP","x":"\#(x)"}"#
        return Secrets.base64url(Array(SHA256.hash(data: Data(canonical.utf8))))
    }
}
