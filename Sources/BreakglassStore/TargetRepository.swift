import BreakglassCore
import Foundation
import PostgresNIO

extension Target {
    /// A row of `TargetRepository`'s columns; a kind or settings that do not decode make the row corrupt.
    init(name: String, kind: String, audience: String, ttl: Int, total: Int, retro: Int, from: String, requesters: [String],
         drill: Int?, postgres: String?) throws {
        let kind = try CredentialKind(stored: kind, "the kind of target \(name) (targets.kind)")
        let settings = try postgres.map { text in
            do { return try JSONDecoder().decode(PostgresTarget.self, from: Data(text.utf8)) } catch {
                throw BreakglassError.corruptRow("the PostgreSQL settings of target \(name)")
            }
        }
        self.init(name: name, kind: kind, audience: audience,
                  maxTTL: TimeInterval(ttl), maxTotal: TimeInterval(total), retroDeadline: TimeInterval(retro),
                  retroFrom: try RetroDeadlineBasis(stored: from, "the retro deadline basis of target \(name) (targets.retro_deadline_from)"),
                  requesters: requesters,
                  drillDeadline: drill.map(TimeInterval.init), postgres: settings)
    }
}

/// The targets admins configure: what can be requested, for how long, with which retro deadline.
public struct TargetRepository: Repository {
    let tx: Tx

    /// Creates or replaces a target; returns true when it was new. `managingPasswordEnc` nil keeps the
    /// stored one (a `postgres` target changed without repeating its secret).
    @discardableResult
    public func save(_ target: Target, managingPasswordEnc: [UInt8]? = nil, by admin: String, now: Date) async throws -> Bool {
        var created = false
        let postgres = try target.postgres.map { String(decoding: try JSONEncoder().encode($0), as: UTF8.self) }
        for try await inserted in try await query("""
            INSERT INTO targets (name, kind, audience, max_ttl_seconds, max_total_seconds, retro_deadline_seconds, retro_deadline_from,
                                 requesters, created_at, updated_at, updated_by, drill_deadline_seconds, postgres, managing_password_enc)
            VALUES (\(target.name), \(target.kind.rawValue), \(target.audience), \(Int(target.maxTTL)), \(Int(target.maxTotal)),
                    \(Int(target.retroDeadline)), \(target.retroFrom.rawValue), \(target.requesters), \(now), \(now), \(admin),
                    \(target.drillDeadline.map { Int($0) }), \(postgres)::jsonb,
                    -- The stored secret is carried into the proposed row: its CHECK holds before ON CONFLICT decides.
                    CASE WHEN \(target.kind.rawValue) = 'postgres' THEN coalesce(\(managingPasswordEnc.map { Data($0) }),
                        (SELECT managing_password_enc FROM targets WHERE name = \(target.name))) END)
            ON CONFLICT (name) DO UPDATE SET kind = EXCLUDED.kind, audience = EXCLUDED.audience,
                max_ttl_seconds = EXCLUDED.max_ttl_seconds, max_total_seconds = EXCLUDED.max_total_seconds,
                retro_deadline_seconds = EXCLUDED.retro_deadline_seconds,
                retro_deadline_from = EXCLUDED.retro_deadline_from, requesters = EXCLUDED.requesters,
                drill_deadline_seconds = EXCLUDED.drill_deadline_seconds, postgres = EXCLUDED.postgres,
                managing_password_enc = EXCLUDED.managing_password_enc,
                updated_at = EXCLUDED.updated_at, updated_by = EXCLUDED.updated_by
            RETURNING (xmax = 0)
            """).decode(Bool.self) {
            created = inserted
        }
        return created
    }

    public func find(named name: String) async throws -> Target? {
        try await list(name: name).first
    }

    public func list(name: String? = nil) async throws -> [Target] {
        let rows = try await query("""
            SELECT name, kind, audience, max_ttl_seconds, max_total_seconds, retro_deadline_seconds, retro_deadline_from, requesters,
                   drill_deadline_seconds, postgres::text FROM targets
            WHERE \(name)::text IS NULL OR name = \(name) ORDER BY name
            """)
        var out: [Target] = []
        for try await (name, kind, audience, ttl, total, retro, from, requesters, drill, postgres) in rows.decode(
            (String, String, String, Int, Int, Int, String, [String], Int?, String?).self) {
            out.append(try Target(name: name, kind: kind, audience: audience, ttl: ttl, total: total, retro: retro, from: from,
                                  requesters: requesters, drill: drill, postgres: postgres))
        }
        return out
    }

    /// The sealed password of a `postgres` target's managing role (open it with `Target.managingPasswordContext`).
    public func managingPasswordEnc(named name: String) async throws -> [UInt8]? {
        for try await value in try await query("SELECT managing_password_enc FROM targets WHERE name = \(name)").decode(Data?.self) {
            return value.map { Array($0) }
        }
        return nil
    }

    /// Names of the `postgres` targets, for reconciliation.
    public func postgres() async throws -> [Target] {
        try await list().filter { $0.kind == .postgres }
    }
}
