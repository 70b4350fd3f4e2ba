import BreakglassCore
import Foundation
import PostgresNIO

extension Tx {
    /// Creates or replaces a target; returns true when it was new.
    @discardableResult
    public func saveTarget(_ target: Target, by admin: String, now: Date) async throws -> Bool {
        var created = false
        for try await inserted in try await query("""
            INSERT INTO targets (name, kind, audience, max_ttl_seconds, max_total_seconds, retro_deadline_seconds, retro_deadline_from,
                                 requesters, created_at, updated_at, updated_by, drill_deadline_seconds)
            VALUES (\(target.name), \(target.kind.rawValue), \(target.audience), \(Int(target.maxTTL)), \(Int(target.maxTotal)),
                    \(Int(target.retroDeadline)), \(target.retroFrom.rawValue), \(target.requesters), \(now), \(now), \(admin),
                    \(target.drillDeadline.map { Int($0) }))
            ON CONFLICT (name) DO UPDATE SET kind = EXCLUDED.kind, audience = EXCLUDED.audience,
                max_ttl_seconds = EXCLUDED.max_ttl_seconds, max_total_seconds = EXCLUDED.max_total_seconds,
                retro_deadline_seconds = EXCLUDED.retro_deadline_seconds,
                retro_deadline_from = EXCLUDED.retro_deadline_from, requesters = EXCLUDED.requesters,
                drill_deadline_seconds = EXCLUDED.drill_deadline_seconds, updated_at = EXCLUDED.updated_at, updated_by = EXCLUDED.updated_by
            RETURNING (xmax = 0)
            """).decode(Bool.self) {
            created = inserted
        }
        return created
    }

    public func target(named name: String) async throws -> Target? {
        try await targets(name: name).first
    }

    public func targets(name: String? = nil) async throws -> [Target] {
        let rows = try await query("""
            SELECT name, kind, audience, max_ttl_seconds, max_total_seconds, retro_deadline_seconds, retro_deadline_from, requesters,
                   drill_deadline_seconds FROM targets
            WHERE \(name)::text IS NULL OR name = \(name) ORDER BY name
            """)
        var out: [Target] = []
        for try await (name, kind, audience, ttl, total, retro, from, requesters, drill) in rows.decode(
            (String, String, String, Int, Int, Int, String, [String], Int?).self) {
            out.append(Target(name: name, kind: CredentialKind(rawValue: kind) ?? .token, audience: audience,
                              maxTTL: TimeInterval(ttl), maxTotal: TimeInterval(total), retroDeadline: TimeInterval(retro),
                              retroFrom: RetroDeadlineBasis(rawValue: from) ?? .activation, requesters: requesters,
                              drillDeadline: drill.map(TimeInterval.init)))
        }
        return out
    }
}
