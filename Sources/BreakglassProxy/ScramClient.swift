import Crypto
import Foundation

/// The client side of SCRAM-SHA-256 (RFC 5802/7677, without channel binding), as PostgreSQL runs it:
/// the broker logs in to a `recorded` target as the session's temporary role with the password it keeps
/// sealed. Pure: it takes the server's messages and returns the next one; the proxy moves the bytes
/// (`AuthenticationSASL` → `SASLInitialResponse`, `SASLContinue` → `SASLResponse`, `SASLFinal`).
public struct ScramClient: Sendable {
    public static let mechanism = "SCRAM-SHA-256"

    public enum Failure: Error, Sendable, Equatable {
        case malformedServerMessage
        /// The server's nonce does not extend ours: not a reply to this exchange.
        case nonceMismatch
        case iterationCountOutOfRange(Int)
        case serverError(String)
        /// The server could not prove it knows the verifier: refuse to go on.
        case serverSignatureMismatch
        case unexpectedStep
    }

    private enum State: Sendable {
        case initial
        case sentClientFirst
        case sentClientFinal(expectedServerSignature: [UInt8])
        case done
    }

    private let user: String
    private let password: String
    private let clientNonce: String
    private var state: State = .initial

    /// `user` is empty for PostgreSQL, which takes the user from the startup message.
    public init(user: String = "", password: String, clientNonce: String = ScramClient.randomNonce()) {
        self.user = user
        self.password = password
        self.clientNonce = clientNonce
    }

    public static func randomNonce() -> String {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<18).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
        return Data(bytes).base64EncodedString()
    }

    /// Whether the server's signature was checked.
    public var isComplete: Bool {
        if case .done = state { return true }
        return false
    }

    private var clientFirstBare: String { "n=\(Self.saslName(user)),r=\(clientNonce)" }

    /// client-first-message: "n,," (no channel binding) and the bare part.
    public mutating func clientFirstMessage() throws -> [UInt8] {
        guard case .initial = state else { throw Failure.unexpectedStep }
        state = .sentClientFirst
        return Array("n,,\(clientFirstBare)".utf8)
    }

    /// Takes server-first-message, returns client-final-message with the proof.
    public mutating func clientFinalMessage(serverFirst: [UInt8]) throws -> [UInt8] {
        guard case .sentClientFirst = state else { throw Failure.unexpectedStep }
        guard let serverFirstText = String(bytes: serverFirst, encoding: .utf8) else { throw Failure.malformedServerMessage }
        let attributes = Self.attributes(serverFirstText)
        guard let nonce = attributes["r"], let saltText = attributes["s"], let iterationText = attributes["i"],
            let salt = Data(base64Encoded: saltText), let iterations = Int(iterationText)
        else { throw Failure.malformedServerMessage }
        guard nonce.hasPrefix(clientNonce), nonce.count > clientNonce.count else { throw Failure.nonceMismatch }
        // A hostile target could make the broker spin on a huge count; PostgreSQL's default is 4096.
        guard (1...1_000_000).contains(iterations) else { throw Failure.iterationCountOutOfRange(iterations) }

        let salted = Self.hi(password: Array(password.utf8), salt: Array(salt), iterations: iterations)
        let saltedKey = SymmetricKey(data: salted)
        let clientKey = Array(HMAC<SHA256>.authenticationCode(for: Array("Client Key".utf8), using: saltedKey))
        let storedKey = SymmetricKey(data: Array(SHA256.hash(data: clientKey)))
        let serverKey = SymmetricKey(data: Array(HMAC<SHA256>.authenticationCode(for: Array("Server Key".utf8), using: saltedKey)))

        let withoutProof = "c=biws,r=\(nonce)"  // biws = base64("n,,")
        let authMessage = Array("\(clientFirstBare),\(serverFirstText),\(withoutProof)".utf8)
        let clientSignature = Array(HMAC<SHA256>.authenticationCode(for: authMessage, using: storedKey))
        let proof = zip(clientKey, clientSignature).map { $0 ^ $1 }
        let serverSignature = Array(HMAC<SHA256>.authenticationCode(for: authMessage, using: serverKey))

        state = .sentClientFinal(expectedServerSignature: serverSignature)
        return Array("\(withoutProof),p=\(Data(proof).base64EncodedString())".utf8)
    }

    /// Checks server-final-message: the exchange succeeds only if the server proved its key.
    public mutating func verifyServerFinal(_ serverFinal: [UInt8]) throws {
        guard case .sentClientFinal(let expected) = state else { throw Failure.unexpectedStep }
        guard let text = String(bytes: serverFinal, encoding: .utf8) else { throw Failure.malformedServerMessage }
        let attributes = Self.attributes(text)
        if let error = attributes["e"] { throw Failure.serverError(error) }
        guard let verifierText = attributes["v"], let verifier = Data(base64Encoded: verifierText) else {
            throw Failure.malformedServerMessage
        }
        guard Self.constantTimeEqual(Array(verifier), expected) else { throw Failure.serverSignatureMismatch }
        state = .done
    }

    /// PBKDF2-HMAC-SHA256 with one output block (RFC 5802's Hi).
    static func hi(password: [UInt8], salt: [UInt8], iterations: Int) -> [UInt8] {
        let key = SymmetricKey(data: password)
        var u = Array(HMAC<SHA256>.authenticationCode(for: salt + [0, 0, 0, 1], using: key))
        var result = u
        for _ in 1..<max(iterations, 1) {
            u = Array(HMAC<SHA256>.authenticationCode(for: u, using: key))
            for i in result.indices { result[i] ^= u[i] }
        }
        return result
    }

    private static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        return zip(a, b).reduce(UInt8(0)) { $0 | ($1.0 ^ $1.1) } == 0
    }

    private static func saslName(_ name: String) -> String {
        name.replacingOccurrences(of: "=", with: "=3D").replacingOccurrences(of: ",", with: "=2C")
    }

    private static func attributes(_ message: String) -> [Character: String] {
        var result: [Character: String] = [:]
        for part in message.split(separator: ",", omittingEmptySubsequences: false) {
            guard part.count >= 2, let key = part.first, part.dropFirst().first == "=" else { continue }
            result[key] = String(part.dropFirst(2))
        }
        return result
    }
}
