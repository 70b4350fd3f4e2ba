import BreakglassCore
import Foundation
import PostgresNIO

public struct UserRecord: Sendable, Equatable {
    public var id: UUID
    public var name: String
    public var roles: [Role]
    public var seedEnc: [UInt8]?
    public var pendingSeedEnc: [UInt8]?
    public var confirmed: Bool
    public var lastStep: Int64
    public var lockedUntil: Date?
    /// Who created the account ("breakglassd-admin" for the host bootstrap): nobody reviews a session of
    /// an account they created.
    public var createdBy: String

    public func isLocked(at now: Date) -> Bool { lockedUntil.map { $0 > now } ?? false }

    /// Binds an encrypted seed to its owner, so a seed copied onto another row does not decrypt.
    public static func seedContext(_ id: UUID) -> String { "totp-seed:\(id.uuidString.lowercased())" }
}

extension UserRecord {
    /// A row of `UserRepository.userSelect`'s columns; roles that are not ours make the row corrupt, never a default.
    init(id: UUID, name: String, roles: [String], seed: Data?, pending: Data?, confirmed: Bool, step: Int64, locked: Date?,
         creator: String) throws {
        let parsed = try roles.map { try Role(stored: $0, "the roles of user \(name) (users.roles)") }
        self.init(id: id, name: name, roles: parsed, seedEnc: seed.map(Array.init), pendingSeedEnc: pending.map(Array.init),
                  confirmed: confirmed, lastStep: step, lockedUntil: locked, createdBy: creator)
    }
}

/// Accounts: their authenticator, enrolment, TOTP spending and lockout.
public struct UserRepository: Repository {
    let tx: Tx

    static let userSelect = """
        SELECT id, name, roles, totp_seed_enc, totp_pending_seed_enc, totp_confirmed, totp_last_step, locked_until, created_by FROM users
        """

    public func insert(name: String, roles: [Role], createdBy: String, now: Date) async throws -> UUID {
        let id = UUID()
        let inserted = try await query("""
            INSERT INTO users (id, name, roles, created_at, created_by) VALUES (\(id), \(name), \(roles.map(\.rawValue)), \(now), \(createdBy))
            ON CONFLICT (name) DO NOTHING RETURNING id
            """).collect()
        guard !inserted.isEmpty else {
            throw BreakglassError(.conflict, "user_exists", "a user named '\(name)' already exists")
        }
        return id
    }

    public func find(named name: String, forUpdate: Bool = false) async throws -> UserRecord? {
        try await users(where: "name = $1", name, forUpdate: forUpdate).first
    }

    public func find(id: UUID, forUpdate: Bool = false) async throws -> UserRecord? {
        try await users(where: "id = $1", id, forUpdate: forUpdate).first
    }

    /// The holder of an API token that is not revoked, with the token's expiry (the caller refuses expired ones):
    /// one statement, since every authenticated request pays for it.
    public func find(apiTokenHash: [UInt8]) async throws -> (UserRecord, expiresAt: Date)? {
        for try await (id, name, roles, seed, pending, confirmed, step, locked, creator, expiry) in try await query("""
            SELECT u.id, u.name, u.roles, u.totp_seed_enc, u.totp_pending_seed_enc, u.totp_confirmed, u.totp_last_step, u.locked_until,
                   u.created_by, t.expires_at
            FROM api_tokens t JOIN users u ON u.id = t.user_id
            WHERE t.token_hash = \(Data(apiTokenHash)) AND t.revoked_at IS NULL AND u.totp_confirmed
            """).decode((UUID, String, [String], Data?, Data?, Bool, Int64, Date?, String, Date).self) {
            return (try UserRecord(id: id, name: name, roles: roles, seed: seed, pending: pending, confirmed: confirmed, step: step,
                                   locked: locked, creator: creator), expiry)
        }
        return nil
    }

    public func all() async throws -> [UserRecord] {
        try await decodeUsers(query(PostgresQuery(unsafeSQL: Self.userSelect + " ORDER BY name")))
    }

    /// `clause` is one of our own constant conditions on `$1`; the value is always a bind parameter.
    private func users(where clause: String, _ value: some PostgresEncodable & Sendable, forUpdate: Bool) async throws -> [UserRecord] {
        var bindings = PostgresBindings()
        try bindings.append(value)
        let sql = Self.userSelect + " WHERE " + clause + (forUpdate ? " FOR UPDATE" : "")
        return try await decodeUsers(query(PostgresQuery(unsafeSQL: sql, binds: bindings)))
    }

    private func decodeUsers(_ rows: PostgresRowSequence) async throws -> [UserRecord] {
        var out: [UserRecord] = []
        for try await (id, name, roles, seed, pending, confirmed, step, locked, creator) in rows.decode(
            (UUID, String, [String], Data?, Data?, Bool, Int64, Date?, String).self) {
            out.append(try UserRecord(id: id, name: name, roles: roles, seed: seed, pending: pending, confirmed: confirmed, step: step,
                                      locked: locked, creator: creator))
        }
        return out
    }

    // MARK: enrolment

    /// Issues a fresh one-time enrolment code, invalidating any earlier unused one.
    public func issueEnrollmentCode(userId: UUID, codeHash: [UInt8], now: Date, expiresAt: Date) async throws {
        try await execute("DELETE FROM enrollment_codes WHERE user_id = \(userId) AND used_at IS NULL")
        try await execute("""
            INSERT INTO enrollment_codes (code_hash, user_id, created_at, expires_at) VALUES (\(Data(codeHash)), \(userId), \(now), \(expiresAt))
            """)
    }

    /// The user an unused, unexpired enrolment code belongs to, locked for the enrolment step.
    public func forEnrollmentCode(_ codeHash: [UInt8], now: Date) async throws -> UserRecord? {
        var userId: UUID?
        for try await id in try await query("""
            SELECT user_id FROM enrollment_codes WHERE code_hash = \(Data(codeHash)) AND used_at IS NULL AND expires_at > \(now) FOR UPDATE
            """).decode(UUID.self) {
            userId = id
        }
        guard let userId else { return nil }
        return try await find(id: userId, forUpdate: true)
    }

    public func setPendingSeed(userId: UUID, seedEnc: [UInt8]) async throws {
        try await execute("UPDATE users SET totp_pending_seed_enc = \(Data(seedEnc)) WHERE id = \(userId)")
    }

    /// Makes the pending seed the user's authenticator, spends the confirming step, consumes the code and
    /// revokes earlier API tokens and browser sessions (a re-enrolment usually means a lost device).
    public func confirmEnrollment(userId: UUID, codeHash: [UInt8], step: Int64, tokenHash: [UInt8], now: Date, tokenExpiresAt: Date) async throws {
        try await execute("""
            UPDATE users SET totp_seed_enc = totp_pending_seed_enc, totp_pending_seed_enc = NULL, totp_confirmed = true,
                totp_last_step = \(step), locked_until = NULL
            WHERE id = \(userId)
            """)
        try await execute("UPDATE enrollment_codes SET used_at = \(now) WHERE code_hash = \(Data(codeHash))")
        try await execute("""
            UPDATE api_tokens SET revoked_at = \(now), revoked_by = 're-enrolment' WHERE user_id = \(userId) AND revoked_at IS NULL
            """)
        try await tx.webLogins.endSessions(userId: userId, now: now)
        try await execute("DELETE FROM totp_failures WHERE user_id = \(userId)")
        try await tx.tokens.insert(hash: tokenHash, userId: userId, now: now, expiresAt: tokenExpiresAt, via: .enrollment)
    }

    // MARK: TOTP spending and lockout

    public func spendTOTPStep(userId: UUID, step: Int64) async throws {
        try await execute("UPDATE users SET totp_last_step = \(step) WHERE id = \(userId) AND totp_last_step < \(step)")
    }

    /// Records a failure and returns how many failures of the same source (including this one) fall inside
    /// the window. `source` "proof" counts toward the account lockout; "login" only throttles `login`.
    public func recordTOTPFailure(userId: UUID, now: Date, windowStart: Date, source: String = "proof") async throws -> Int {
        try await execute("INSERT INTO totp_failures (user_id, failed_at, source) VALUES (\(userId), \(now), \(source))")
        return try await totpFailures(userId: userId, since: windowStart, source: source)
    }

    public func totpFailures(userId: UUID, since windowStart: Date, source: String) async throws -> Int {
        var count = 0
        for try await n in try await query("""
            SELECT count(*)::bigint FROM totp_failures WHERE user_id = \(userId) AND failed_at > \(windowStart) AND source = \(source)
            """).decode(Int.self) {
            count = n
        }
        return count
    }

    public func lock(id userId: UUID, until: Date) async throws {
        try await execute("UPDATE users SET locked_until = \(until) WHERE id = \(userId)")
    }

    public func unlock(id userId: UUID) async throws {
        try await execute("UPDATE users SET locked_until = NULL WHERE id = \(userId)")
        try await execute("DELETE FROM totp_failures WHERE user_id = \(userId)")
    }
}
