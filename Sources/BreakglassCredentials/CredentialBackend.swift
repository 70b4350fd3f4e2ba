import BreakglassCore
import Foundation

/// What a backend needs to act on one target: its settings, and the managing secret opened from its
/// sealed column for this one call (never kept).
public struct CredentialTarget: Sendable {
    public var target: Target
    public var managingPassword: String?

    public init(target: Target, managingPassword: String? = nil) {
        self.target = target
        self.managingPassword = managingPassword
    }
}

/// A PostgreSQL login handed to the engineer in `direct` mode. The password is shown once and never stored.
public struct PostgresLogin: Codable, Sendable, Equatable {
    public var user: String
    /// Nil after an extension: the password shown at activation keeps working.
    public var password: String?
    public var host: String
    public var port: Int
    public var database: String
    public var sslmode: String

    public init(user: String, password: String?, host: String, port: Int, database: String, sslmode: String) {
        self.user = user
        self.password = password
        self.host = host
        self.port = port
        self.database = database
        self.sslmode = sslmode
    }
}

/// What a backend hands out for a session, to be shown once.
public struct IssuedSecret: Sendable {
    public var kind: CredentialKind
    /// `token`: the signed bearer token, with its key id and audience.
    public var token: String?
    public var keyId: String?
    public var audience: String?
    /// `postgres`: the login role.
    public var postgres: PostgresLogin?
    /// The steps done on the target, in order, for the audit log.
    public var steps: [String]

    public init(kind: CredentialKind, token: String? = nil, keyId: String? = nil, audience: String? = nil, postgres: PostgresLogin? = nil,
                steps: [String] = []) {
        self.kind = kind
        self.token = token
        self.keyId = keyId
        self.audience = audience
        self.postgres = postgres
        self.steps = steps
    }
}

/// A backend operation on a target that stopped part-way: which steps were done, which one failed and why
/// (a message safe to show and audit: never a secret).
public struct CredentialStepFailure: Error, Sendable, CustomStringConvertible {
    public var done: [String]
    public var failedStep: String
    public var message: String

    public init(done: [String], failedStep: String, message: String) {
        self.done = done
        self.failedStep = failedStep
        self.message = message
    }

    public var description: String { "\(failedStep) failed: \(message)" }
}

/// One kind of credential: how it is issued for a session, moved on extension, taken away, and how what
/// was left behind is found and removed. Each kind is one implementation; the broker picks it by
/// `Target.kind` and records the outcome of every call in the audit log.
public protocol CredentialBackend: Sendable {
    var kind: CredentialKind { get }

    /// Makes the credential for a freshly committed session. Throws `CredentialStepFailure` leaving nothing usable.
    func issue(session: EmergencySession, on target: CredentialTarget, now: Date) async throws -> IssuedSecret

    /// Moves the credential's end to the session's new expiry.
    func extend(session: EmergencySession, on target: CredentialTarget, now: Date) async throws -> IssuedSecret

    /// Takes the credential away for good; returns the steps done. Safe to repeat: what is gone stays gone.
    func revoke(sessionId: String, on target: CredentialTarget) async throws -> [String]

    /// The sessions that still have something on the target (for reconciliation against the broker's store).
    func leftovers(on target: CredentialTarget) async throws -> [String]

    /// Checks at set-up that the broker can do all of the above on the target.
    func check(_ target: CredentialTarget) async throws
}

extension CredentialBackend {
    public func leftovers(on target: CredentialTarget) async throws -> [String] { [] }
    public func check(_ target: CredentialTarget) async throws {}
}

/// The `token` kind: a JWT signed by the broker. Nothing lives on a target, so revocation is the broker's
/// own revocation list (the session's state) and nothing is ever left behind.
public struct TokenBackend: CredentialBackend {
    public let issuer: TokenIssuer
    public var kind: CredentialKind { .token }

    public init(issuer: TokenIssuer) {
        self.issuer = issuer
    }

    public func issue(session: EmergencySession, on target: CredentialTarget, now: Date) async throws -> IssuedSecret {
        let token = try await issuer.issue(session: session, audience: target.target.audience, now: now)
        return IssuedSecret(kind: .token, token: token, keyId: issuer.signingKid, audience: target.target.audience)
    }

    /// A new token carrying the new expiry.
    public func extend(session: EmergencySession, on target: CredentialTarget, now: Date) async throws -> IssuedSecret {
        try await issue(session: session, on: target, now: now)
    }

    public func revoke(sessionId: String, on target: CredentialTarget) async throws -> [String] { [] }
}
