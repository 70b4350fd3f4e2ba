import Crypto
import Foundation

/// The password a client gives the recording proxy for a `recorded` session: issued once at activation in
/// place of the temporary role's password (which the engineer never sees), bound to one session. Only its
/// SHA-256 is stored with the session.
public enum ProxyToken {
    /// `bgp_` + 256 random bits, base64url.
    public static func generate() -> String { "bgp_" + Secrets.base64url(Secrets.randomBytes(32)) }

    public static func hash(_ token: String) -> [UInt8] { Secrets.hash(token) }
}

/// Whether the recording proxy lets a client in: the user name is the session id, the password is the
/// session's proxy token, and the session is active at `now`. Pure, so the rule is tested without sockets.
public enum ProxyAdmission: Equatable, Sendable {
    case admit
    case refuse(Refusal)

    public enum Refusal: String, Equatable, Sendable {
        /// No such session, a session without a proxy token (direct mode), or a wrong token: one answer
        /// for all three, so a client cannot probe which session ids exist.
        case badCredentials = "bad_credentials"
        case sessionNotActive = "session_not_active"
    }

    public static func decide(session: EmergencySession?, storedTokenHash: [UInt8]?, presentedToken: String, now: Date) -> ProxyAdmission {
        guard let session, let storedTokenHash,
            constantTimeEqual(ProxyToken.hash(presentedToken), storedTokenHash)
        else { return .refuse(.badCredentials) }
        guard session.state(at: now) == .active else { return .refuse(.sessionNotActive) }
        return .admit
    }

    private static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        return zip(a, b).reduce(UInt8(0)) { $0 | ($1.0 ^ $1.1) } == 0
    }
}
