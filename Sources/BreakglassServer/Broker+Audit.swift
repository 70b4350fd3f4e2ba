import BreakglassCore
import BreakglassStore
import Foundation

extension Broker {
    static let auditPageSize = 5000

    /// Walks the whole chain in the database and compares its end with the recorded heads and, when given,
    /// heads saved elsewhere earlier. Every read of the log is itself audited, after the walk (so the walk
    /// does not include its own record).
    public func verifyAudit(actor: AuthUser, expectedHeads: [ChainHead], origin: RequestOrigin) async throws -> AuditVerification {
        try requireAuditReader(actor)
        let result = try await database.transaction { try await $0.audit.verify(expectedHeads: expectedHeads) }
        let now = clock.now()
        _ = try await database.transaction { tx in
            try await tx.audit.append(AuditEvent(type: .auditVerified, outcome: result.intact ? .success : .failure, at: now, actor: actor.name,
                                                 actorRoles: actor.roles, origin: origin,
                                                 details: ["events_checked": String(result.eventsChecked), "intact": String(result.intact),
                                                           "expected_heads": String(expectedHeads.count)]))
        }
        return result
    }

    public func auditHeads() async throws -> [ChainHead] {
        try await database.read { try await $0.audit.heads() }
    }

    /// One page of raw chain rows; every page is an audited access to the audit log (a reader who skips the
    /// first page with `after_id` is recorded too).
    public func exportAudit(actor: AuthUser, from: Date?, until: Date?, afterId: Int64, limit: Int,
                            origin: RequestOrigin) async throws -> [AuditChainRow] {
        try requireAuditReader(actor)
        let limit = min(max(limit, 1), Self.auditPageSize)
        let now = clock.now()
        return try await database.transaction { tx in
            let rows = try await tx.audit.rows(from: from, until: until, afterId: afterId, limit: limit)
            var details = ["rows": String(rows.count), "after_id": String(afterId)]
            if let from { details["from"] = Timestamp.format(from) }
            if let until { details["until"] = Timestamp.format(until) }
            try await tx.audit.append(AuditEvent(type: .auditExported, at: now, actor: actor.name, actorRoles: actor.roles,
                                                 origin: origin, details: details))
            return rows
        }
    }

    private func requireAuditReader(_ actor: AuthUser) throws {
        guard actor.has(.admin) || actor.has(.compliance) else {
            throw BreakglassError.forbidden("only admin and compliance may read the audit log")
        }
    }
}
