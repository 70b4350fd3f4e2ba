import BreakglassCore
import BreakglassStore
import Foundation

extension Broker {
    /// What a drill showed, as one sealed JSON document (`pack_sha256` as in an evidence pack): every rung with
    /// when it was due, reached and paged, every page per channel, the review and the findings. The engineer
    /// who ran the drill, admins and compliance may export it; the export is audited.
    public func drillReport(sessionId: String, actor: AuthUser, origin: RequestOrigin) async throws -> SealedDocument<DrillReport> {
        let now = clock.now()
        let report = try await database.transaction { tx in
            guard let record = try await tx.sessions.find(id: sessionId), record.userId == actor.id || actor.seesEverything,
                  let obligation = try await tx.retro.obligation(sessionId: sessionId) else {
                throw BreakglassError.sessionUnknown(sessionId)
            }
            guard record.session.drill else {
                throw BreakglassError(.conflict, "not_a_drill",
                                      "\(sessionId) is a real session, not a drill; its record is its evidence pack (breakglass compliance evidence)")
            }
            try await tx.audit.append(AuditEvent(type: .drillReportExported, at: now, actor: actor.name, actorRoles: actor.roles, origin: origin,
                                                 target: record.session.target, sessionId: sessionId,
                                                 details: ["format": "breakglass-drill-report/1"]))
            let reached = try await tx.retro.escalations(sessionId: sessionId).map {
                DrillRungReached(level: $0.level, scheduledAt: $0.scheduledAt, reachedAt: $0.firedAt, outcome: $0.outcome)
            }
            return DrillReport.make(session: record.session.asSeen(at: now), obligation: obligation, reached: reached,
                                    pages: try await tx.drills.pages(sessionId: sessionId), now: now, by: actor.name)
        }
        return try SealedDocument(report)
    }
}
