import BreakglassCore
import Foundation
import PostgresNIO

/// An API token as its owner and admins see it: never the token, only an id derived from its hash.
public struct APITokenRecord: Codable, Sendable, Equatable {
    /// The first 8 bytes of the token's SHA-256, in hex: enough to name it, useless to use it.
    public var id: String
    public var user: String
    public var createdAt: Date
    public var expiresAt: Date
    public var revokedAt: Date?
    public var revokedBy: String?
    public var issuedVia: TokenIssuance
}

/// API tokens, stored by hash: issued at enrolment and login, revoked by their owner or an admin.
public struct TokenRepository: Repository {
    let tx: Tx

    public func insert(hash: [UInt8], userId: UUID, now: Date, expiresAt: Date, via: TokenIssuance) async throws {
        try await execute("""
            INSERT INTO api_tokens (token_hash, user_id, created_at, expires_at, issued_via)
            VALUES (\(Data(hash)), \(userId), \(now), \(expiresAt), \(via.rawValue))
            """)
    }

    /// A user's tokens (every user's when `userId` is nil), newest first; expired and revoked ones too,
    /// for the record, up to `limit`.
    public func list(userId: UUID?, limit: Int = 200) async throws -> [APITokenRecord] {
        let rows = try await query("""
            SELECT encode(substring(t.token_hash from 1 for 8), 'hex'), u.name, t.created_at, t.expires_at, t.revoked_at, t.revoked_by, t.issued_via
            FROM api_tokens t JOIN users u ON u.id = t.user_id
            WHERE \(userId)::uuid IS NULL OR t.user_id = \(userId)
            ORDER BY t.created_at DESC LIMIT \(limit)
            """)
        var out: [APITokenRecord] = []
        for try await (id, user, created, expires, revoked, by, via) in rows.decode((String, String, Date, Date, Date?, String?, String).self) {
            out.append(APITokenRecord(id: id, user: user, createdAt: created, expiresAt: expires, revokedAt: revoked, revokedBy: by,
                                      issuedVia: try TokenIssuance(stored: via, "how API token \(id) was issued (api_tokens.issued_via)")))
        }
        return out
    }

    /// The owner of the live token with this id, locked for revocation; nil if none.
    public func owner(id: String) async throws -> UUID? {
        guard id.count == 16, id.allSatisfy({ $0.isASCII && $0.isHexDigit }) else { return nil }
        var owner: UUID?
        for try await userId in try await query("""
            SELECT user_id FROM api_tokens WHERE substring(token_hash from 1 for 8) = decode(\(id.lowercased()), 'hex')
              AND revoked_at IS NULL FOR UPDATE
            """).decode(UUID.self) {
            owner = userId
        }
        return owner
    }

    public func revoke(id: String, by actor: String, now: Date) async throws {
        try await execute("""
            UPDATE api_tokens SET revoked_at = \(now), revoked_by = \(actor)
            WHERE substring(token_hash from 1 for 8) = decode(\(id.lowercased()), 'hex') AND revoked_at IS NULL
            """)
        // Browser sessions opened with that token end with it.
        try await execute("""
            UPDATE web_logins SET expires_at = least(expires_at, \(now))
            WHERE substring(api_token_hash from 1 for 8) = decode(\(id.lowercased()), 'hex') AND expires_at > \(now)
            """)
    }
}
