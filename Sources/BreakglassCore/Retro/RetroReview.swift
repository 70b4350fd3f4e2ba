import Foundation

/// What compliance does with a retro PR (the verb of `breakglass compliance approve|reject|waive`).
public enum RetroDecision: String, Sendable, CaseIterable {
    case approve, reject, waive

    public var recorded: ReviewDecision {
        switch self {
        case .approve: .approved
        case .reject: .rejected
        case .waive: .waived
        }
    }

    /// The field a request carries the decision's text in: a waiver gives a reason, a review a note.
    public var noteField: String { self == .waive ? "reason" : "note" }
}

/// A decision as it is recorded (`retro_reviews.decision`), paged (`retro.approved`) and audited.
public enum ReviewDecision: String, Codable, Sendable, CaseIterable, StoredEnum {
    case approved, rejected, waived

    public var pageType: String { "retro.\(rawValue)" }

    public var auditType: AuditEventType {
        switch self {
        case .approved: .retroApproved
        case .rejected: .retroRejected
        case .waived: .retroWaived
        }
    }
}

/// One compliance decision on a retro PR: the obligation after it, and what is recorded, paged and audited.
public struct RetroReview: Sendable, Equatable {
    public var previous: RetroObligation
    public var obligation: RetroObligation
    public var decision: ReviewDecision
    public var note: String
    public var page: [String: String]
    public var event: AuditEvent

    public enum Outcome: Sendable, Equatable {
        case decided(RetroReview)
        /// Separation of duties refused the reviewer: commit the event, then refuse.
        case refused(BreakglassError, AuditEvent)
    }

    /// Separation of duties first (refused and audited), then the transition the obligation allows (anything
    /// else it refuses is thrown, and nothing is recorded).
    public static func decide(_ decision: RetroDecision, on obligation: RetroObligation, by reviewer: String, roles: [Role], note: String,
                              requesterCreatedBy creator: String?, origin: RequestOrigin, now: Date) throws -> Outcome {
        if let (error, event) = SeparationOfDuties.refusal(reviewer: reviewer, roles: roles, of: obligation, requesterCreatedBy: creator,
                                                           decision: decision.rawValue, origin: origin, now: now) {
            return .refused(error, event)
        }
        let decided = switch decision {
        case .approve: try obligation.approve(by: reviewer, note: note, now: now, requesterCreatedBy: creator)
        case .reject: try obligation.reject(by: reviewer, note: note, now: now, requesterCreatedBy: creator)
        case .waive: try obligation.waive(by: reviewer, reason: note, now: now, requesterCreatedBy: creator)
        }
        let recorded = decision.recorded
        let page = [
            "session_id": obligation.sessionId, "user": obligation.requester, "target": obligation.target, "pr_url": obligation.prURL ?? "-",
            "note": note, "reviewer": reviewer, "due_at": Timestamp.format(obligation.dueAt),
        ]
        var details = ["decision": recorded.rawValue, "requester": obligation.requester, "pr_url": obligation.prURL ?? "",
                       "previous_status": obligation.status.rawValue, "due_at": Timestamp.format(obligation.dueAt)]
        if let independent = obligation.independentApproval { details["independent_pr_approval"] = String(independent) }
        if let commit = obligation.mergeCommit { details["merge_commit"] = commit }
        let event = AuditEvent(type: recorded.auditType, at: now, actor: reviewer, actorRoles: roles, origin: origin, target: obligation.target,
                               sessionId: obligation.sessionId, reason: note, details: details)
        return .decided(RetroReview(previous: obligation, obligation: decided, decision: recorded, note: note, page: page, event: event))
    }
}
