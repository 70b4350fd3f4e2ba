import BreakglassCore
import BreakglassStore
import Foundation

public struct LoginResult: Codable, Sendable {
    public var user: String
    public var roles: [Role]
    public var apiToken: String
    public var apiTokenExpiresAt: Date
}

extension Broker {
    static let loginFailed = BreakglassError(.forbidden, "login_failed", "unknown user or wrong TOTP code")

    /// A new API token for a user who proves a fresh TOTP code (tokens expire; this is how to get the next
    /// one). Unknown users and wrong codes get the same answer. Anyone can call this with a user name, so
    /// its failures never lock the account (that would let anyone lock any engineer out during an incident):
    /// they throttle `login` alone, for that user, for the lockout window. Every attempt is audited.
    public func login(user name: String, totp: String, origin: RequestOrigin) async throws -> LoginResult {
        let now = clock.now()
        let token = Secrets.apiToken()
        let expires = Timestamp.truncated(now + settings.apiTokenLifetime)
        let lockout = settings.lockout
        return try await database.transactionCommittingRefusal { tx in
            guard let user = try await tx.users.find(named: name, forUpdate: true), user.confirmed else {
                try await tx.audit.append(AuditEvent(type: .tokenIssued, outcome: .failure, at: now, actor: nil, origin: origin,
                                                     details: ["via": "login", "failure": "unknown_user", "user_given": String(name.prefix(64))]))
                return .refused(Self.loginFailed)
            }
            func denial(_ failure: String) -> AuditEvent {
                AuditEvent(type: .tokenIssued, outcome: .failure, at: now, actor: user.name, actorRoles: user.roles, origin: origin,
                           details: ["via": "login", "failure": failure, "mfa": "totp"])
            }
            let recent = try await tx.users.totpFailures(userId: user.id, since: now - lockout.window, source: FailureCount.loginThrottle.rawValue)
            guard recent < lockout.maxFailures else {
                try await tx.audit.append(denial("login_throttled"))
                return .refused(BreakglassError(.locked, "login_throttled",
                                                "too many failed logins for \(user.name) in the last \(TTL.format(lockout.window)); try again later (the account itself is not locked)"))
            }
            if case .refused(let error, let event) = try await prove(totp: totp, user: user, tx: tx, now: now, counting: .loginThrottle,
                                                                     denial: denial) {
                try await tx.audit.append(event)
                return .refused(error.code == BreakglassError.totpWrong.code ? Self.loginFailed : error)
            }
            try await tx.tokens.insert(hash: Secrets.hash(token), userId: user.id, now: now, expiresAt: expires, via: .login)
            try await tx.audit.append(AuditEvent(type: .tokenIssued, at: now, actor: user.name, actorRoles: user.roles, origin: origin,
                                                 details: ["via": "login", "mfa": "totp", "token_id": Self.tokenId(token),
                                                           "expires_at": Timestamp.format(expires)]))
            return .done(LoginResult(user: user.name, roles: user.roles, apiToken: token, apiTokenExpiresAt: expires))
        }
    }

    /// The caller's tokens, or (admins) another user's or everyone's ("*").
    public func apiTokens(actor: AuthUser, user name: String?) async throws -> [APITokenRecord] {
        if let name, name != actor.name { try actor.require(.admin, to: "list other users' API tokens") }
        return try await database.read { tx in
            if name == "*" { return try await tx.tokens.list(userId: nil) }
            guard let name, name != actor.name else { return try await tx.tokens.list(userId: actor.id) }
            guard let user = try await tx.users.find(named: name) else { throw BreakglassError.userUnknown(name) }
            return try await tx.tokens.list(userId: user.id)
        }
    }

    /// Revokes a live token (and the browser sessions it opened). Owners revoke their own with the token
    /// alone, so a lost laptop is dealt with fast; revoking someone else's is an admin change (TOTP, paged).
    public func revokeAPIToken(id: String, actor: AuthUser, totp: String?, origin: RequestOrigin) async throws {
        let unknown = BreakglassError(.notFound, "token_unknown", "no live API token with id '\(id.prefix(40))'")
        let owner = try await database.read { try await $0.tokens.owner(id: id) }
        guard let owner else { throw unknown }
        if owner == actor.id {
            let now = clock.now()
            try await database.transaction { tx in
                guard try await tx.tokens.owner(id: id) == actor.id else { throw unknown }
                try await tx.tokens.revoke(id: id, by: actor.name, now: now)
                try await tx.audit.append(AuditEvent(type: .tokenRevoked, at: now, actor: actor.name, actorRoles: actor.roles, origin: origin,
                                                     details: ["token_id": id, "owner": actor.name]))
                // Paged too: during a lost-laptop recovery, a thief holding the old token could revoke the owner's
                // new one; the owner and security then see it happen.
                try await tx.outbox.enqueue(type: "user.token_revoked", sessionId: nil, payload: [
                    "user": actor.name, "token_id": id, "client_address": origin.address ?? "-",
                ], now: now)
            }
            return
        }
        try await adminChange(actor: actor, totp: totp, action: "revoke other users' API tokens", origin: origin) { tx, now in
            guard let owner = try await tx.tokens.owner(id: id), let user = try await tx.users.find(id: owner) else { throw unknown }
            try await tx.tokens.revoke(id: id, by: actor.name, now: now)
            try await tx.audit.append(AuditEvent(type: .tokenRevoked, at: now, actor: actor.name, actorRoles: actor.roles, origin: origin,
                                                 details: ["token_id": id, "owner": user.name]))
            return ((), AdminPage(type: "admin.token_revoked", payload: ["user": user.name, "token_id": id]))
        }
    }

    /// The public name of a token: the first 8 bytes of its SHA-256 (as `APITokenRecord.id`).
    static func tokenId(_ token: String) -> String {
        Array(Secrets.hash(token).prefix(8)).hex
    }
}
