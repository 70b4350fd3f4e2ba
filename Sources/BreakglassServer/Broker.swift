import BreakglassCore
import BreakglassCredentials
import BreakglassStore
import Foundation
import Logging

/// The broker's use cases. Each one asks the core for a decision and records it, its audit event and its
/// outbox rows in a single PostgreSQL transaction. Credentials are signed only after that commit.
public struct Broker: Sendable {
    public let database: Database
    public let clock: any BrokerClock
    let box: SecretBox
    let issuer: TokenIssuer
    /// One backend per credential kind; `token` wraps `issuer`.
    let backends: [CredentialKind: any CredentialBackend]
    let settings: Settings
    let logger: Logger
    let hookRejections = HookRejections()
    /// This instance's recording proxy: where it listens (if it does), its live connections, its journal.
    public let recordingProxy: RecordingProxy
    /// Passes of the background loops that found nothing to do.
    public let idlePasses = IdlePasses()

    public struct Settings: Sendable {
        /// Name shown in authenticator apps and used as the JWT `iss`.
        public var issuerName: String
        public var enrollmentValidity: TimeInterval
        public var lockout: LockoutPolicy
        public var verifier: TOTPVerifier
        /// A page still undelivered this long after its event goes to dead letter.
        public var deliveryMaxAge: TimeInterval
        /// How long a claimed delivery is reserved for the instance sending it; a crashed instance's claims
        /// lapse after this and another instance sends again.
        public var deliveryClaim: TimeInterval
        /// The escalation ladder each new retro obligation takes (and keeps).
        public var retroLadder: EscalationLadder
        /// The secret GitHub signs webhook deliveries with; without it `/v1/hooks/github` refuses everything.
        public var githubWebhookSecret: String?
        /// Lifetime of a browser session on the compliance pages.
        public var webSessionLifetime: TimeInterval
        /// Lifetime of an API token from `enroll` or `login`.
        public var apiTokenLifetime: TimeInterval
        /// Whether one account may hold both admin and compliance (off: separation of duties).
        public var allowAdminCompliance: Bool
        /// Repositories whose PRs by the engineer who broke glass link themselves.
        public var githubLinkPolicy: GitHubLinkPolicy
        /// Per-address request budgets of the unauthenticated routes.
        public var rateLimits: RateLimits
        /// Rejected GitHub deliveries are audited as one aggregated event per interval.
        public var rejectionAuditInterval: TimeInterval
        /// Reverse proxies whose `X-Forwarded-For` names the client (exact addresses).
        public var trustedProxies: [String]

        public init(issuerName: String = "breakglass", enrollmentValidity: TimeInterval = 24 * 3600,
                    lockout: LockoutPolicy = LockoutPolicy(), verifier: TOTPVerifier = TOTPVerifier(),
                    deliveryMaxAge: TimeInterval = 24 * 3600, deliveryClaim: TimeInterval = 60,
                    retroLadder: EscalationLadder = .standard, githubWebhookSecret: String? = nil,
                    webSessionLifetime: TimeInterval = 8 * 3600, apiTokenLifetime: TimeInterval = 30 * 86400,
                    allowAdminCompliance: Bool = false, githubLinkPolicy: GitHubLinkPolicy = .init(repositories: []),
                    rateLimits: RateLimits = .standard, rejectionAuditInterval: TimeInterval = 60, trustedProxies: [String] = []) {
            self.issuerName = issuerName
            self.enrollmentValidity = enrollmentValidity
            self.lockout = lockout
            self.verifier = verifier
            self.deliveryMaxAge = deliveryMaxAge
            self.deliveryClaim = deliveryClaim
            self.retroLadder = retroLadder
            self.githubWebhookSecret = githubWebhookSecret
            self.webSessionLifetime = webSessionLifetime
            self.apiTokenLifetime = apiTokenLifetime
            self.allowAdminCompliance = allowAdminCompliance
            self.githubLinkPolicy = githubLinkPolicy
            self.rateLimits = rateLimits
            self.rejectionAuditInterval = rejectionAuditInterval
            self.trustedProxies = trustedProxies
        }
    }

    /// A broker over a pool that is already running (a short-lived command's `Database.withDatabase`): loads,
    /// creating on first start, the token signing keys.
    public static func start(database: Database, clock: any BrokerClock, box: SecretBox, settings: Settings,
                             logger: Logger) async throws -> Broker {
        let keys = try await signingKeys(database: database, clock: clock, box: box, logger: logger)
        return try await assemble(database: database, signingKeys: keys, clock: clock, box: box, settings: settings, logger: logger)
    }

    /// A broker for a `ServiceGroup` that runs its pool as a service (`BrokerServer.makeServiceGroup` puts it first):
    /// nothing can be read through that pool before the group runs, so `check` (startup checks) and loading the
    /// signing keys happen first on a short-lived pool of their own.
    public static func startServing(database config: DatabaseConfig, deadline: Duration = .seconds(10), clock: any BrokerClock,
                                    box: SecretBox, settings: Settings, logger: Logger,
                                    checkingFirst check: @Sendable (Database) async throws -> Void = { _ in }) async throws -> Broker {
        let keys = try await Database.withDatabase(config, logger: logger, deadline: deadline) { database in
            try await check(database)
            return try await signingKeys(database: database, clock: clock, box: box, logger: logger)
        }
        let database = try Database(config: config, logger: logger, deadline: deadline)
        return try await assemble(database: database, signingKeys: keys, clock: clock, box: box, settings: settings, logger: logger)
    }

    /// Loads (creating on first start) the token signing keys; every instance ends up with the same keys.
    static func signingKeys(database: Database, clock: any BrokerClock, box: SecretBox, logger: Logger) async throws -> [SigningKeyRecord] {
        try await database.transaction { tx in
            try await tx.signingKeys.lock()
            var keys = try await tx.signingKeys.unretired()
            if keys.isEmpty {
                let key = try TokenIssuer.generateKey(box: box, now: clock.now())
                try await tx.signingKeys.insert(key)
                logger.notice("created token signing key", metadata: ["key.kid": "\(key.kid)"])
                keys = [key]
            }
            return keys
        }
    }

    /// Touches no database: `database` may be a pool that runs only later.
    private static func assemble(database: Database, signingKeys keys: [SigningKeyRecord], clock: any BrokerClock, box: SecretBox,
                                 settings: Settings, logger: Logger) async throws -> Broker {
        let issuer = try await TokenIssuer(stored: keys, box: box, issuer: settings.issuerName)
        let backends: [CredentialKind: any CredentialBackend] = [
            .token: TokenBackend(issuer: issuer), .postgres: PostgresRoleBackend(logger: logger),
        ]
        return Broker(database: database, clock: clock, box: box, issuer: issuer, backends: backends, settings: settings, logger: logger,
                      recordingProxy: RecordingProxy(database: database, logger: logger))
    }

    public var jwks: JWKSDocument { issuer.jwks }

    /// Resolves a bearer token to its user; unknown, revoked or malformed tokens are all the same refusal.
    /// Expired tokens and tokens of a locked account are refused with what to do about it.
    public func authenticate(bearer: String) async throws -> AuthUser {
        let hash = try Self.apiTokenHash(bearer)
        guard let (user, expiresAt) = try await database.read({ try await $0.users.find(apiTokenHash: hash) }) else {
            throw BreakglassError.unauthenticated
        }
        return try Self.admit(user, tokenHash: hash, tokenExpiresAt: expiresAt, now: clock.now())
    }

    /// What a bearer token is looked up by; anything that cannot be one of ours is refused unseen.
    static func apiTokenHash(_ bearer: String) throws -> [UInt8] {
        guard bearer.hasPrefix("bgt_"), bearer.count < 200 else { throw BreakglassError.unauthenticated }
        return Secrets.hash(bearer)
    }

    /// The holder of a found token, unless the token expired or the account is locked.
    static func admit(_ user: UserRecord, tokenHash: [UInt8], tokenExpiresAt expiresAt: Date, now: Date) throws -> AuthUser {
        guard expiresAt > now else { throw BreakglassError.tokenExpired(at: expiresAt) }
        if let until = user.lockedUntil, until > now { throw BreakglassError.accountLockedToken(until: until) }
        return AuthUser(id: user.id, name: user.name, roles: user.roles, tokenHash: tokenHash)
    }

    // MARK: TOTP proof

    enum Proof {
        case proven(step: Int64)
        case refused(BreakglassError, AuditEvent)
    }

    /// Which authenticator a proof is checked against: the confirmed one, or the one being enrolled.
    enum Authenticator { case enrolled, pending }

    /// What a failed proof counts toward. A proof made with the user's token or enrolment code counts toward
    /// the account lockout; a `login`, which anyone can attempt with just a user name, only throttles logins.
    enum FailureCount: String { case lockout = "proof", loginThrottle = "login" }

    /// The step of a code `prove` would accept for `user` now, checked without recording anything; nil for every other
    /// outcome, which only `prove`, under the user's lock, may decide and record.
    func acceptedStep(totp code: String, user: UserRecord, now: Date) -> Int64? {
        guard !user.isLocked(at: now), user.confirmed, let sealed = user.seedEnc,
              let seed = try? box.open(sealed, context: UserRecord.seedContext(user.id)),
              case .accepted(let step) = settings.verifier.verify(code: code, otp: OneTimePassword(secret: seed), at: now,
                                                                  lastUsedStep: user.lastStep) else { return nil }
        return step
    }

    /// Checks a code for a user whose row the caller holds locked. A refusal is returned with the audit
    /// event describing it; the failure is already counted (and the account locked if it was one too many).
    /// An accepted step is spent here unless the caller writes the spend with its own changes (`spending: false`),
    /// in the same transaction.
    func prove(totp code: String, user: UserRecord, tx: Tx, now: Date, against authenticator: Authenticator = .enrolled,
               counting: FailureCount = .lockout, spending: Bool = true, denial: (String) -> AuditEvent) async throws -> Proof {
        if let until = user.lockedUntil, until > now {
            return .refused(.accountLocked(until: until), denial("account_locked"))
        }
        let sealed = authenticator == .enrolled ? (user.confirmed ? user.seedEnc : nil) : user.pendingSeedEnc
        guard let sealed else { return .refused(.notEnrolled, denial("not_enrolled")) }
        let seed = try box.open(sealed, context: UserRecord.seedContext(user.id))
        let lastStep = authenticator == .enrolled ? user.lastStep : 0
        let outcome = settings.verifier.verify(code: code, otp: OneTimePassword(secret: seed), at: now, lastUsedStep: lastStep)
        switch outcome {
        case .accepted(let step):
            if spending { try await tx.users.spendTOTPStep(userId: user.id, step: step) }
            return .proven(step: step)
        case .reused(replayOfLast: true):
            // The step just accepted, submitted again: refused and audited, but a double submit during an
            // incident must not lock the engineer out. Guessing still counts below.
            // Audited as "totp_replayed", apart from failures, so metrics and lockout counts agree.
            return .refused(.totpReused, denial("totp_replayed"))
        case .wrong, .reused(replayOfLast: false):
            let failures = try await tx.users.recordTOTPFailure(userId: user.id, now: now, windowStart: now - settings.lockout.window,
                                                           source: counting.rawValue)
            let error: BreakglassError = outcome == .wrong ? .totpWrong : .totpReused
            if counting == .lockout, let until = settings.lockout.lockedUntil(afterFailureNumber: failures - 1, now: now) {
                try await tx.users.lock(id: user.id, until: until)
                try await tx.audit.append(AuditEvent(
                    type: .userLocked, outcome: .failure, at: now, actor: user.name, actorRoles: user.roles,
                    details: ["locked_until": Timestamp.format(until), "failures": String(failures)]))
                try await tx.outbox.enqueue(type: "user.locked", sessionId: nil,
                                            payload: ["user": user.name, "locked_until": Timestamp.format(until)], now: now)
                return .refused(
                    BreakglassError(.locked, "account_locked",
                                    "\(error.message); that was \(failures) failed codes, so the account is locked until \(Timestamp.format(until))"),
                    denial(error.code))
            }
            return .refused(error, denial(error.code))
        }
    }
}
