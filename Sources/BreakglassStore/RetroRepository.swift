import BreakglassCore
import Foundation
import PostgresNIO

public struct EscalationRecord: Codable, Sendable, Equatable {
    public var level: Int
    public var rung: String
    public var scheduledAt: Date
    public var firedAt: Date
    public var outcome: EscalationOutcome
}

public struct ReviewRecord: Codable, Sendable, Equatable {
    public var decision: ReviewDecision
    public var reviewer: String
    public var note: String
    public var prUrl: String?
    public var decidedAt: Date
}

/// The area's figures, computed from the obligations themselves (so every instance reports the same).
public struct RetroMetrics: Codable, Sendable, Equatable {
    public var overdue: Int
    public var byStatus: [String: Int]
    /// Median time from the start of the SLA window to the first PR link.
    public var medianTimeToLinkSeconds: Double?
    /// Of obligations decided or past their deadline: the share approved with their PR linked in time.
    public var approvedWithinSLARatio: Double?
    public var escalationsFired: [String: Int]
    /// Drill sessions run so far, and their rungs paged: figures of rehearsals, never of real activations.
    public var drills = 0
    public var drillEscalationsFired: [String: Int] = [:]
}

/// Retro obligations: the PR each session owes, its escalation rungs and its reviews.
public struct RetroRepository: Repository {
    let tx: Tx

    static let obligationSelect = """
        SELECT r.session_id, u.name, s.target, r.status, r.window_start, r.due_at, r.ladder::text, r.next_level, r.pr_url, r.pr_source,
               r.linked_at, r.linked_by, r.first_linked_at, r.pr_author, r.merged_at, r.merge_commit, r.merged_by, r.pr_approvers,
               r.independent_approval, r.reviewed_at, r.reviewed_by, r.review_note, r.last_rejection, s.drill
        FROM retro_obligations r JOIN sessions s ON s.id = r.session_id JOIN users u ON u.id = s.user_id
        """

    public func insert(_ obligation: RetroObligation) async throws {
        let ladder = try StoredLadder.json(obligation.ladder)
        try await execute("""
            INSERT INTO retro_obligations (session_id, status, window_start, due_at, ladder, next_level, next_due_at)
            VALUES (\(obligation.sessionId), \(obligation.status.rawValue), \(obligation.windowStart), \(obligation.dueAt), \(ladder)::jsonb,
                    \(obligation.nextLevel), \(obligation.nextDueAt))
            """)
    }

    /// Writes a transition the core decided on, keeping `next_due_at` in step with it.
    public func save(_ o: RetroObligation) async throws {
        try await execute("""
            UPDATE retro_obligations SET status = \(o.status.rawValue), window_start = \(o.windowStart), due_at = \(o.dueAt),
                next_level = \(o.nextLevel), next_due_at = \(o.nextDueAt), pr_url = \(o.prURL), pr_source = \(o.prSource?.rawValue),
                linked_at = \(o.linkedAt), linked_by = \(o.linkedBy), first_linked_at = \(o.firstLinkedAt), pr_author = \(o.prAuthor),
                merged_at = \(o.mergedAt), merge_commit = \(o.mergeCommit), merged_by = \(o.mergedBy), pr_approvers = \(o.prApprovers),
                independent_approval = \(o.independentApproval), reviewed_at = \(o.reviewedAt), reviewed_by = \(o.reviewedBy),
                review_note = \(o.reviewNote), last_rejection = \(o.lastRejection)
            WHERE session_id = \(o.sessionId)
            """)
        try await execute("UPDATE sessions SET retro_due_at = \(o.dueAt) WHERE id = \(o.sessionId) AND retro_due_at <> \(o.dueAt)")
    }

    public func obligation(sessionId: String, forUpdate: Bool = false) async throws -> RetroObligation? {
        var binds = PostgresBindings()
        binds.append(sessionId)
        let sql = Self.obligationSelect + " WHERE r.session_id = $1" + (forUpdate ? " FOR UPDATE OF r" : "")
        return try await decodeObligations(query(PostgresQuery(unsafeSQL: sql, binds: binds))).first
    }

    /// Obligations whose next rung is due, locked for this transaction; other instances skip them, so a
    /// rung is fired by exactly one. Reads only the partial index on `next_due_at`.
    public func claimDue(now: Date, limit: Int) async throws -> [RetroObligation] {
        var binds = PostgresBindings()
        binds.append(now)
        binds.append(limit)
        let sql = Self.obligationSelect + """
             WHERE r.session_id IN (SELECT session_id FROM retro_obligations WHERE next_due_at <= $1
                                    ORDER BY next_due_at LIMIT $2 FOR UPDATE SKIP LOCKED)
            ORDER BY r.next_due_at
            """
        return try await decodeObligations(query(PostgresQuery(unsafeSQL: sql, binds: binds)))
    }

    public func nextDue() async throws -> Date? {
        var next: Date?
        for try await value in try await query("SELECT min(next_due_at) FROM retro_obligations WHERE next_due_at IS NOT NULL")
            .decode(Date?.self) {
            next = value
        }
        return next
    }

    /// Records that a rung was reached; false if it already was (the primary key refuses a second firing).
    public func recordRungFiring(sessionId: String, firing: RungFiring, now: Date) async throws -> Bool {
        !(try await query("""
            INSERT INTO retro_escalations (session_id, level, rung, scheduled_at, fired_at, outcome)
            VALUES (\(sessionId), \(firing.level), \(firing.rung.name), \(firing.scheduledAt), \(now), \(firing.outcome.rawValue))
            ON CONFLICT DO NOTHING RETURNING level
            """).collect()).isEmpty
    }

    public func escalations(sessionId: String) async throws -> [EscalationRecord] {
        var out: [EscalationRecord] = []
        for try await (level, rung, scheduled, fired, outcome) in try await query("""
            SELECT level, rung, scheduled_at, fired_at, outcome FROM retro_escalations WHERE session_id = \(sessionId) ORDER BY level
            """).decode((Int, String, Date, Date, String).self) {
            out.append(EscalationRecord(level: level, rung: rung, scheduledAt: scheduled, firedAt: fired,
                                        outcome: try EscalationOutcome(stored: outcome, "rung \(level) of session \(sessionId) (retro_escalations.outcome)")))
        }
        return out
    }

    public func insertReview(sessionId: String, decision: ReviewDecision, reviewer: String, note: String, prURL: String?, now: Date) async throws {
        try await execute("""
            INSERT INTO retro_reviews (session_id, decision, reviewer, note, pr_url, decided_at)
            VALUES (\(sessionId), \(decision.rawValue), \(reviewer), \(note), \(prURL), \(now))
            """)
    }

    public func reviews(sessionId: String) async throws -> [ReviewRecord] {
        var out: [ReviewRecord] = []
        for try await (decision, reviewer, note, url, at) in try await query("""
            SELECT decision, reviewer, note, pr_url, decided_at FROM retro_reviews WHERE session_id = \(sessionId) ORDER BY id
            """).decode((String, String, String, String?, Date).self) {
            out.append(ReviewRecord(decision: try ReviewDecision(stored: decision, "a review of session \(sessionId) (retro_reviews.decision)"),
                                    reviewer: reviewer, note: note, prUrl: url, decidedAt: at))
        }
        return out
    }

    /// One requester's obligations (open first), or everyone's when `userId` is nil.
    public func obligations(userId: UUID?, openOnly: Bool, limit: Int) async throws -> [RetroObligation] {
        var binds = PostgresBindings()
        binds.append(userId)
        binds.append(openOnly)
        binds.append(limit)
        let sql = Self.obligationSelect + """
             WHERE ($1::uuid IS NULL OR s.user_id = $1) AND (NOT $2 OR r.status IN ('owed', 'linked'))
            ORDER BY (r.status IN ('owed', 'linked')) DESC, r.due_at, r.session_id LIMIT $3
            """
        return try await decodeObligations(query(PostgresQuery(unsafeSQL: sql, binds: binds)))
    }

    /// What compliance has to act on: overdue obligations (longest overdue first), then linked PRs awaiting
    /// review (longest waiting first). Drills and real sessions never share a queue.
    ///
    /// The queue is a few open obligations among a history of settled ones, and its cost must follow the
    /// queue, not the history. Restating the open statuses (implied by the rest) matches the predicate of
    /// `retro_obligations_open`: PostgreSQL then reads both arms from that index (the overdue entries and
    /// the linked ones) and sizes the result by them, so sessions and users are looked up by key. Without
    /// it, it sized the queue by the whole table and hash-joined every session ever opened (a scan that grew
    /// with the history: 1.6 times slower at 100,000 sessions).
    public func complianceQueue(now: Date, limit: Int, drills: Bool = false) async throws -> [RetroObligation] {
        var binds = PostgresBindings()
        binds.append(now)
        binds.append(limit)
        binds.append(drills)
        let sql = Self.obligationSelect + """
             WHERE r.status IN ('owed', 'linked') AND ((r.status = 'owed' AND r.due_at <= $1) OR r.status = 'linked') AND s.drill = $3
            ORDER BY (r.status = 'owed') DESC, CASE WHEN r.status = 'owed' THEN r.due_at ELSE r.linked_at END, r.session_id LIMIT $2
            """
        return try await decodeObligations(query(PostgresQuery(unsafeSQL: sql, binds: binds)))
    }

    public func obligations(prURL: String) async throws -> [RetroObligation] {
        var binds = PostgresBindings()
        binds.append(prURL)
        let sql = Self.obligationSelect + " WHERE r.pr_url = $1 ORDER BY r.session_id FOR UPDATE OF r"
        return try await decodeObligations(query(PostgresQuery(unsafeSQL: sql, binds: binds)))
    }

    /// Real obligations only: a drill's compressed deadline would skew every SLA figure. Drills are counted
    /// apart (`drills`, `drillEscalationsFired`).
    public func metrics(now: Date) async throws -> RetroMetrics {
        var metrics = RetroMetrics(overdue: 0, byStatus: [:], medianTimeToLinkSeconds: nil, approvedWithinSLARatio: nil, escalationsFired: [:])
        for try await (status, count) in try await query("""
            SELECT r.status, count(*)::int FROM retro_obligations r JOIN sessions s ON s.id = r.session_id WHERE NOT s.drill GROUP BY r.status
            """).decode((String, Int).self) {
            metrics.byStatus[status] = count
        }
        for try await (overdue, median, ratio) in try await query("""
            SELECT count(*) FILTER (WHERE status = 'owed' AND due_at <= \(now))::int,
                   percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM first_linked_at - window_start)::float8)
                       FILTER (WHERE first_linked_at IS NOT NULL),
                   (count(*) FILTER (WHERE status = 'approved' AND first_linked_at <= due_at))::float8
                       / nullif(count(*) FILTER (WHERE status IN ('approved', 'waived') OR due_at <= \(now)), 0)
            FROM retro_obligations r JOIN sessions s ON s.id = r.session_id WHERE NOT s.drill
            """).decode((Int, Double?, Double?).self) {
            metrics.overdue = overdue
            metrics.medianTimeToLinkSeconds = median
            metrics.approvedWithinSLARatio = ratio
        }
        for try await (rung, drill, count) in try await query("""
            SELECT e.rung, s.drill, count(*)::int FROM retro_escalations e JOIN sessions s ON s.id = e.session_id
            WHERE e.outcome = 'paged' GROUP BY e.rung, s.drill
            """).decode((String, Bool, Int).self) {
            if drill { metrics.drillEscalationsFired[rung] = count } else { metrics.escalationsFired[rung] = count }
        }
        for try await count in try await query("SELECT count(*)::int FROM sessions WHERE drill").decode(Int.self) {
            metrics.drills = count
        }
        return metrics
    }

    private func decodeObligations(_ rows: PostgresRowSequence) async throws -> [RetroObligation] {
        var out: [RetroObligation] = []
        for try await row in rows {
            let r = row.makeRandomAccess()
            let sessionId = try r[0].decode(String.self)
            let ladder: EscalationLadder
            do {
                ladder = try JSONDecoder().decode(EscalationLadder.self, from: Data(try r[6].decode(String.self).utf8))
            } catch {
                throw BreakglassError.corruptRow("the escalation ladder of session \(sessionId) (retro_obligations.ladder)")
            }
            var o = RetroObligation(
                sessionId: sessionId, requester: try r[1].decode(String.self), target: try r[2].decode(String.self),
                status: try RetroStatus(stored: try r[3].decode(String.self), "the status of the retro obligation of \(sessionId) (retro_obligations.status)"),
                windowStart: try r[4].decode(Date.self),
                dueAt: try r[5].decode(Date.self), ladder: ladder, nextLevel: try r[7].decode(Int.self))
            o.prURL = try r[8].decode(String?.self)
            o.prSource = try RetroPRSource(stored: try r[9].decode(String?.self), "the PR source of the retro obligation of \(sessionId) (retro_obligations.pr_source)")
            o.linkedAt = try r[10].decode(Date?.self)
            o.linkedBy = try r[11].decode(String?.self)
            o.firstLinkedAt = try r[12].decode(Date?.self)
            o.prAuthor = try r[13].decode(String?.self)
            o.mergedAt = try r[14].decode(Date?.self)
            o.mergeCommit = try r[15].decode(String?.self)
            o.mergedBy = try r[16].decode(String?.self)
            o.prApprovers = try r[17].decode([String].self)
            o.independentApproval = try r[18].decode(Bool?.self)
            o.reviewedAt = try r[19].decode(Date?.self)
            o.reviewedBy = try r[20].decode(String?.self)
            o.reviewNote = try r[21].decode(String?.self)
            o.lastRejection = try r[22].decode(String?.self)
            o.drill = try r[23].decode(Bool.self)
            out.append(o)
        }
        return out
    }
}
