import BreakglassCore
import Foundation
import PostgresNIO

/// What the broker keeps about an issued credential: enough to revoke it, never the credential.
public struct CredentialRef: Codable, Sendable, Equatable {
    public var kind: CredentialKind
    public var keyId: String?
    public var tokenId: String?
    public var audience: String?
    /// `postgres`: the session's login role on the target (what revocation drops).
    public var role: String?

    public init(kind: CredentialKind, keyId: String? = nil, tokenId: String? = nil, audience: String? = nil, role: String? = nil) {
        self.kind = kind
        self.keyId = keyId
        self.tokenId = tokenId
        self.audience = audience
        self.role = role
    }
}

/// An entry of the public revocation list downstream services consult besides the JWT's own `exp`.
public struct RevokedToken: Codable, Sendable, Equatable {
    public var jti: String
    public var exp: Date
    public var state: SessionState
    public var revokedAt: Date
}

public struct SessionRecord: Sendable, Equatable {
    public var session: EmergencySession
    public var userId: UUID
    public var credential: CredentialRef
    public var clientAddress: String?
}

/// Emergency sessions: their rows, transitions and the expiry sweep's claims.
public struct SessionRepository: Repository {
    let tx: Tx

    public func insert(_ session: EmergencySession, userId: UUID, credential: CredentialRef, origin: RequestOrigin) async throws {
        let ref = String(decoding: try JSONEncoder().encode(credential), as: UTF8.self)
        try await execute("""
            INSERT INTO sessions (id, user_id, target, credential_kind, reason, incident, state, activated_at, expires_at, hard_limit,
                                  retro_due_at, extensions, credential_ref, client_address, user_agent, drill)
            VALUES (\(session.id), \(userId), \(session.target), \(credential.kind.rawValue), \(session.reason), \(session.incident),
                    \(session.state.rawValue), \(session.activatedAt), \(session.expiresAt), \(session.hardLimit), \(session.retroDueAt),
                    \(session.extensions), \(ref)::jsonb, \(origin.address), \(origin.userAgent), \(session.drill))
            """)
    }

    /// Writes a transition the core decided on. The state guard makes a concurrent second transition a no-op
    /// that the caller can detect.
    @discardableResult
    public func update(_ session: EmergencySession, from previous: SessionState) async throws -> Bool {
        let rows = try await query("""
            UPDATE sessions SET state = \(session.state.rawValue), expires_at = \(session.expiresAt), extensions = \(session.extensions),
                closed_at = \(session.closedAt), closed_by = \(session.closedBy), close_reason = \(session.closeReason)
            WHERE id = \(session.id) AND state = \(previous.rawValue) RETURNING id
            """).collect()
        return !rows.isEmpty
    }

    static let sessionSelect = """
        SELECT s.id, u.name, s.target, s.reason, s.incident, s.state, s.activated_at, s.expires_at, s.hard_limit, s.retro_due_at,
               s.extensions, s.closed_at, s.closed_by, s.close_reason, s.user_id, s.credential_ref::text, s.client_address,
               s.drill
        FROM sessions s JOIN users u ON u.id = s.user_id
        """

    public func find(id: String, forUpdate: Bool = false) async throws -> SessionRecord? {
        var binds = PostgresBindings()
        binds.append(id)
        let sql = Self.sessionSelect + " WHERE s.id = $1" + (forUpdate ? " FOR UPDATE OF s" : "")
        return try await decodeSessions(query(PostgresQuery(unsafeSQL: sql, binds: binds))).first
    }

    /// The session, locked for this transaction, or nil when another instance holds it (or it does not exist):
    /// one instance at a time reconciles what a session left behind.
    public func claim(id: String) async throws -> SessionRecord? {
        var binds = PostgresBindings()
        binds.append(id)
        let sql = Self.sessionSelect + " WHERE s.id = $1 FOR UPDATE OF s SKIP LOCKED"
        return try await decodeSessions(query(PostgresQuery(unsafeSQL: sql, binds: binds))).first
    }

    /// Newest first; `userId` nil lists everyone's.
    public func list(userId: UUID?, limit: Int) async throws -> [SessionRecord] {
        var binds = PostgresBindings()
        binds.append(userId)
        binds.append(limit)
        let sql = Self.sessionSelect + " WHERE ($1::uuid IS NULL OR s.user_id = $1) ORDER BY s.activated_at DESC, s.id LIMIT $2"
        return try await decodeSessions(query(PostgresQuery(unsafeSQL: sql, binds: binds)))
    }

    /// Active sessions whose expiry has passed, claimed so several broker instances split the work.
    /// Sessions only, not their credentials: expiry needs neither the credential reference nor the mercy of its
    /// shape, so one unreadable reference cannot stop every session behind it from expiring (revocation works
    /// from the target, and pages its own failure).
    public func claimExpired(now: Date, limit: Int) async throws -> [EmergencySession] {
        var binds = PostgresBindings()
        binds.append(now)
        binds.append(limit)
        let sql = Self.sessionSelect
            + " WHERE s.state = 'active' AND s.expires_at <= $1 ORDER BY s.expires_at LIMIT $2 FOR UPDATE OF s SKIP LOCKED"
        return try await decodeSessionRows(query(PostgresQuery(unsafeSQL: sql, binds: binds))).map(\.session)
    }

    /// Tokens taken away before their own expiry: sessions ended or revoked whose `exp` is still ahead.
    public func revokedTokens(now: Date) async throws -> [RevokedToken] {
        var out: [RevokedToken] = []
        for try await (id, state, expires, closed) in try await query("""
            SELECT id, state, expires_at, closed_at FROM sessions
            WHERE state IN ('ended', 'revoked') AND expires_at > \(now) AND credential_kind = 'token' ORDER BY closed_at
            """).decode((String, String, Date, Date?).self) {
            out.append(RevokedToken(jti: id, exp: expires, state: try SessionState(stored: state, "the state of session \(id) (sessions.state)"),
                                    revokedAt: closed ?? now))
        }
        return out
    }

    public func nextExpiry() async throws -> Date? {
        var next: Date?
        for try await at in try await query("SELECT min(expires_at) FROM sessions WHERE state = 'active'").decode(Date?.self) {
            next = at
        }
        return next
    }

    private func decodeSessions(_ rows: PostgresRowSequence) async throws -> [SessionRecord] {
        try await decodeSessionRows(rows).map { row in
            let credential: CredentialRef
            do {
                credential = try JSONDecoder().decode(CredentialRef.self, from: Data(row.credentialJSON.utf8))
            } catch {
                throw BreakglassError.corruptRow("the credential of session \(row.session.id) (sessions.credential_ref)")
            }
            return SessionRecord(session: row.session, userId: row.userId, credential: credential, clientAddress: row.clientAddress)
        }
    }

    private func decodeSessionRows(_ rows: PostgresRowSequence) async throws
        -> [(session: EmergencySession, userId: UUID, credentialJSON: String, clientAddress: String?)] {
        var out: [(session: EmergencySession, userId: UUID, credentialJSON: String, clientAddress: String?)] = []
        for try await row in rows {
            let r = try row.decode((String, String, String, String, String, String, Date, Date, Date, Date, Int, Date?, String?, String?,
                                    UUID, String, String?, Bool).self)
            let session = EmergencySession(
                id: r.0, requester: r.1, target: r.2, reason: r.3, incident: r.4,
                state: try SessionState(stored: r.5, "the state of session \(r.0) (sessions.state)"),
                activatedAt: r.6, expiresAt: r.7, hardLimit: r.8, retroDueAt: r.9, extensions: r.10, closedAt: r.11,
                closedBy: r.12, closeReason: r.13, drill: r.17)
            out.append((session, r.14, r.15, r.16))
        }
        return out
    }
}
