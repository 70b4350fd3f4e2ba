import BreakglassCore
import Foundation
import PostgresNIO

extension Tx {
    /// Claims a GitHub delivery id for this transaction; false when it was processed before (a redelivery).
    public func claimGitHubDelivery(id: String, event: String, now: Date, outcome: String) async throws -> Bool {
        !(try await query("""
            INSERT INTO github_deliveries (delivery_id, event, received_at, outcome) VALUES (\(id), \(event), \(now), \(outcome))
            ON CONFLICT DO NOTHING RETURNING delivery_id
            """).collect()).isEmpty
    }

    public func setGitHubDeliveryOutcome(id: String, outcome: String) async throws {
        try await execute("UPDATE github_deliveries SET outcome = \(outcome) WHERE delivery_id = \(id)")
    }

    /// Keeps each reviewer's latest state on a PR; an older event arriving late does not overwrite a newer one.
    public func saveGitHubReview(prURL: String, reviewer: String, state: String, at: Date) async throws {
        try await execute("""
            INSERT INTO github_pr_reviews (pr_url, reviewer, state, submitted_at) VALUES (\(prURL), \(reviewer), \(state), \(at))
            ON CONFLICT (pr_url, reviewer) DO UPDATE SET state = EXCLUDED.state, submitted_at = EXCLUDED.submitted_at
            WHERE github_pr_reviews.submitted_at <= EXCLUDED.submitted_at
            """)
    }

    public func gitHubApprovers(prURL: String) async throws -> [String] {
        var out: [String] = []
        for try await login in try await query("""
            SELECT reviewer FROM github_pr_reviews WHERE pr_url = \(prURL) AND state = 'approved' ORDER BY reviewer
            """).decode(String.self) {
            out.append(login)
        }
        return out
    }

    /// False when another user already has that login.
    public func setGitHubLogin(userId: UUID, login: String?) async throws -> Bool {
        !(try await query("""
            UPDATE users SET github_login = \(login) WHERE id = \(userId)
              AND NOT EXISTS (SELECT 1 FROM users WHERE lower(github_login) = lower(\(login)) AND id <> \(userId))
            RETURNING id
            """).collect()).isEmpty
    }

    /// The GitHub account a user is known by: the one an admin recorded, else their breakglass name.
    public func gitHubLogin(userName: String) async throws -> String {
        var login = userName
        for try await value in try await query("SELECT coalesce(github_login, name) FROM users WHERE name = \(userName)").decode(String.self) {
            login = value
        }
        return login
    }

    // MARK: browser sign-in

    public func insertWebLogin(tokenHash: [UInt8], userId: UUID, kind: String, now: Date, expiresAt: Date) async throws {
        try await execute("""
            INSERT INTO web_logins (token_hash, user_id, kind, created_at, expires_at)
            VALUES (\(Data(tokenHash)), \(userId), \(kind), \(now), \(expiresAt))
            """)
    }

    /// Spends a one-time ticket; nil if unknown, used or expired.
    public func spendWebTicket(tokenHash: [UInt8], now: Date) async throws -> UUID? {
        var user: UUID?
        for try await id in try await query("""
            UPDATE web_logins SET used_at = \(now)
            WHERE token_hash = \(Data(tokenHash)) AND kind = 'ticket' AND used_at IS NULL AND expires_at > \(now) RETURNING user_id
            """).decode(UUID.self) {
            user = id
        }
        return user
    }

    public func webSessionUser(tokenHash: [UInt8], now: Date) async throws -> UserRecord? {
        var id: UUID?
        for try await value in try await query("""
            SELECT user_id FROM web_logins WHERE token_hash = \(Data(tokenHash)) AND kind = 'session' AND expires_at > \(now)
            """).decode(UUID.self) {
            id = value
        }
        guard let id else { return nil }
        return try await user(id: id)
    }
}
