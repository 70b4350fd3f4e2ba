import BreakglassCore
import Foundation
import PostgresNIO

/// A row of `web_logins`: a one-time sign-in link, or the browser session it was spent for.
public enum WebLoginKind: String, Sendable, CaseIterable {
    case ticket, session
}

/// Browser sign-in to the compliance pages: one-time tickets and the sessions they were spent for.
public struct WebLoginRepository: Repository {
    let tx: Tx

    /// `apiTokenHash`: the API token the ticket was issued with; the browser session ends with it.
    public func insert(tokenHash: [UInt8], userId: UUID, kind: WebLoginKind, now: Date, expiresAt: Date, apiTokenHash: [UInt8]?) async throws {
        try await execute("""
            INSERT INTO web_logins (token_hash, user_id, kind, created_at, expires_at, api_token_hash)
            VALUES (\(Data(tokenHash)), \(userId), \(kind.rawValue), \(now), \(expiresAt), \(apiTokenHash.map { Data($0) }))
            """)
    }

    /// Spends a one-time ticket; nil if unknown, used or expired.
    public func spendTicket(tokenHash: [UInt8], now: Date) async throws -> (userId: UUID, apiTokenHash: [UInt8]?)? {
        var found: (UUID, [UInt8]?)?
        for try await (id, token) in try await query("""
            UPDATE web_logins SET used_at = \(now)
            WHERE token_hash = \(Data(tokenHash)) AND kind = 'ticket' AND used_at IS NULL AND expires_at > \(now) RETURNING user_id, api_token_hash
            """).decode((UUID, Data?).self) {
            found = (id, token.map(Array.init))
        }
        return found
    }

    /// The user of a live browser session whose API token is still live too.
    public func sessionUser(tokenHash: [UInt8], now: Date) async throws -> UserRecord? {
        var id: UUID?
        for try await value in try await query("""
            SELECT w.user_id FROM web_logins w LEFT JOIN api_tokens t ON t.token_hash = w.api_token_hash
            WHERE w.token_hash = \(Data(tokenHash)) AND w.kind = 'session' AND w.expires_at > \(now)
              AND (w.api_token_hash IS NULL OR (t.revoked_at IS NULL AND t.expires_at > \(now)))
            """).decode(UUID.self) {
            id = value
        }
        guard let id else { return nil }
        return try await tx.users.find(id: id)
    }

    /// Signs a browser out; returns the session's user if it was live.
    public func endSession(tokenHash: [UInt8], now: Date) async throws -> UUID? {
        var id: UUID?
        for try await value in try await query("""
            UPDATE web_logins SET expires_at = \(now) WHERE token_hash = \(Data(tokenHash)) AND kind = 'session' AND expires_at > \(now)
            RETURNING user_id
            """).decode(UUID.self) {
            id = value
        }
        return id
    }

    /// Ends every browser session and unused sign-in ticket of a user.
    func endSessions(userId: UUID, now: Date) async throws {
        try await execute("UPDATE web_logins SET expires_at = \(now) WHERE user_id = \(userId) AND expires_at > \(now)")
    }
}
