import Foundation

public enum RetroStatus: String, Codable, Sendable, CaseIterable {
    /// Nothing linked yet, or the last PR was rejected (`lastRejection` says why).
    case owed
    /// A PR is linked and awaits compliance review.
    case linked
    case approved
    /// Compliance decided no PR is needed, with a reason.
    case waived

    public var isSettled: Bool { self == .approved || self == .waived }
}

/// An obligation as people read it: its status, or `overdue` for one still owed past its deadline.
public enum RetroState: String, Codable, Sendable, CaseIterable {
    case owed, overdue, linked, approved, waived
}

/// Whether the SLA window starts when glass is broken or when the session closes.
public enum RetroDeadlineBasis: String, Codable, Sendable, CaseIterable {
    case activation, end
}

public enum RetroPRSource: String, Codable, Sendable, CaseIterable {
    case cli, github
}

/// A rung reached by the scheduler: paged, or skipped because a reminder is moot once the deadline passed.
public struct RungFiring: Sendable, Equatable {
    public var level: Int
    public var rung: EscalationRung
    public var scheduledAt: Date
    public var skipped: Bool
    /// How long after its scheduled time the rung was reached (a broker that was down catches up late).
    public var lateBy: TimeInterval

    /// Reached within a scheduler tick or two of its time; anything later the page calls late.
    public var isLate: Bool { lateBy >= 60 }

    public var outcome: EscalationOutcome { skipped ? .skipped : .paged }
}

/// What became of a rung the scheduler reached (`retro_escalations.outcome`).
public enum EscalationOutcome: String, Codable, Sendable, CaseIterable, StoredEnum {
    case paged
    /// A reminder reached after the deadline: moot, audited, not paged.
    case skipped
}

/// What an engineer owes after breaking glass, and the only ways it may change.
public struct RetroObligation: Codable, Sendable, Equatable {
    public var sessionId: String
    public var requester: String
    public var target: String
    public var status: RetroStatus
    public var windowStart: Date
    public var dueAt: Date
    public var ladder: EscalationLadder
    public var nextLevel: Int
    public var prURL: String?
    public var prSource: RetroPRSource?
    public var linkedAt: Date?
    public var linkedBy: String?
    public var firstLinkedAt: Date?
    public var prAuthor: String?
    public var mergedAt: Date?
    public var mergeCommit: String?
    public var mergedBy: String?
    public var prApprovers: [String]
    public var independentApproval: Bool?
    public var reviewedAt: Date?
    public var reviewedBy: String?
    public var reviewNote: String?
    public var lastRejection: String?
    /// The obligation of a drill: compressed deadline and ladder, pages marked DRILL, kept out of the real
    /// queue and figures.
    public var drill: Bool

    enum CodingKeys: String, CodingKey {
        case sessionId, requester, target, status, windowStart, dueAt, ladder, nextLevel, prURL = "prUrl", prSource, linkedAt, linkedBy,
             firstLinkedAt, prAuthor, mergedAt, mergeCommit, mergedBy, prApprovers, independentApproval, reviewedAt, reviewedBy,
             reviewNote, lastRejection, drill
    }

    public init(sessionId: String, requester: String, target: String, status: RetroStatus, windowStart: Date, dueAt: Date,
                ladder: EscalationLadder, nextLevel: Int = 0, drill: Bool = false) {
        self.sessionId = sessionId
        self.requester = requester
        self.target = target
        self.status = status
        self.windowStart = windowStart
        self.dueAt = dueAt
        self.ladder = ladder
        self.nextLevel = nextLevel
        self.prApprovers = []
        self.drill = drill
    }

    /// The obligation a freshly activated session carries, on the session's retro window (`RetroWindow`). A
    /// drill's takes the drill plan's compressed ladder.
    public static func opened(for session: EmergencySession, target: Target, ladder: EscalationLadder) -> RetroObligation {
        let window = RetroWindow.opening(activatedAt: session.activatedAt, expiresAt: session.expiresAt, target: target, drill: session.drill)
        return RetroObligation(sessionId: session.id, requester: session.requester, target: session.target, status: .owed,
                               windowStart: window.start, dueAt: window.dueAt,
                               ladder: session.drill ? DrillPlan.make(target: target, ladder: ladder).ladder : ladder, drill: session.drill)
    }

    /// For targets whose deadline runs from the session's end, the window moves with extensions and the
    /// actual close. Returns nil when nothing changes.
    public func rescheduled(for session: EmergencySession, target: Target) -> RetroObligation? {
        guard RetroWindow.follows(session, on: target), !status.isSettled, !drill else { return nil }
        let start = session.closedAt ?? session.expiresAt
        guard start != windowStart else { return nil }
        var next = self
        next.windowStart = start
        next.dueAt = start + target.retroDeadline
        return next
    }

    public func fireTime(level: Int) -> Date {
        ladder.rungs[level].fireTime(windowStart: windowStart, dueAt: dueAt)
    }

    /// When the scheduler must next look at this obligation; nil while the ladder is stopped.
    public var nextDueAt: Date? {
        guard status == .owed, nextLevel < ladder.rungs.count else { return nil }
        return fireTime(level: nextLevel)
    }

    public func state(at now: Date) -> RetroState {
        switch status {
        case .owed: now >= dueAt ? .overdue : .owed
        case .linked: .linked
        case .approved: .approved
        case .waived: .waived
        }
    }

    /// Every rung due by `now`, in ladder order, and the obligation after them. No rung is ever skipped
    /// silently: a reminder reached after the deadline is returned as skipped, so it is audited.
    public func firing(now: Date) -> (RetroObligation, [RungFiring]) {
        guard status == .owed else { return (self, []) }
        var next = self
        var fired: [RungFiring] = []
        while next.nextLevel < ladder.rungs.count {
            let at = fireTime(level: next.nextLevel)
            guard at <= now else { break }
            let rung = ladder.rungs[next.nextLevel]
            fired.append(RungFiring(level: next.nextLevel, rung: rung, scheduledAt: at, skipped: rung.isReminder && now >= dueAt,
                                    lateBy: max(0, now.timeIntervalSince(at))))
            next.nextLevel += 1
        }
        return (next, fired)
    }

    /// Links a PR; the ladder stops at once. Relinking while still linked replaces the URL.
    public func link(url: String, by actor: String, source: RetroPRSource, now: Date) throws -> RetroObligation {
        guard !status.isSettled else {
            throw BreakglassError(.conflict, "retro_settled", "the retro PR of \(sessionId) is already \(status.rawValue); nothing to link")
        }
        var next = self
        next.status = .linked
        next.prURL = url
        next.prSource = source
        next.linkedAt = Timestamp.truncated(now)
        next.linkedBy = actor
        next.firstLinkedAt = firstLinkedAt ?? next.linkedAt
        if url != prURL {
            next.prAuthor = nil
            next.mergedAt = nil
            next.mergeCommit = nil
            next.mergedBy = nil
            next.prApprovers = []
            next.independentApproval = nil
        }
        return next
    }

    /// Compliance signs off the linked PR. The requester never reviews their own.
    public func approve(by reviewer: String, note: String, now: Date, requesterCreatedBy creator: String?) throws -> RetroObligation {
        try checkReviewer(reviewer, requesterCreatedBy: creator)
        guard status == .linked else { throw notReviewable("approve") }
        var next = self
        next.status = .approved
        next.record(reviewer: reviewer, note: note, now: now)
        return next
    }

    /// Sends the obligation back to owed with the reviewer's reason; the ladder resumes where the deadline
    /// puts it (rungs already paged are not paged again).
    public func reject(by reviewer: String, note: String, now: Date, requesterCreatedBy creator: String?) throws -> RetroObligation {
        try checkReviewer(reviewer, requesterCreatedBy: creator)
        guard status == .linked else { throw notReviewable("reject") }
        var next = self
        next.status = .owed
        next.lastRejection = note
        next.record(reviewer: reviewer, note: note, now: now)
        return next
    }

    public func waive(by reviewer: String, reason: String, now: Date, requesterCreatedBy creator: String?) throws -> RetroObligation {
        try checkReviewer(reviewer, requesterCreatedBy: creator)
        guard !status.isSettled else {
            throw BreakglassError(.conflict, "retro_settled", "the retro PR of \(sessionId) is already \(status.rawValue)")
        }
        var next = self
        next.status = .waived
        next.record(reviewer: reviewer, note: reason, now: now)
        return next
    }

    /// Nobody reviews a session they opened, nor one opened by an account they created: an admin could
    /// otherwise create a stooge, break glass as it and approve the result.
    public func checkReviewer(_ reviewer: String, requesterCreatedBy creator: String?) throws(BreakglassError) {
        guard reviewer != requester else {
            throw BreakglassError(.forbidden, "self_review",
                                  "separation of duties: \(reviewer) broke glass in \(sessionId) and cannot review its retro PR")
        }
        guard reviewer != creator else {
            throw BreakglassError(.forbidden, "creator_review",
                                  "separation of duties: \(reviewer) created the account of \(requester), who broke glass in \(sessionId), and cannot review its retro PR")
        }
    }

    private mutating func record(reviewer: String, note: String, now: Date) {
        reviewedBy = reviewer
        reviewNote = note
        reviewedAt = Timestamp.truncated(now)
    }

    private func notReviewable(_ action: String) -> BreakglassError {
        let why = status == .owed ? "no PR is linked yet" : "it is already \(status.rawValue)"
        return BreakglassError(.conflict, "retro_not_linked", "cannot \(action) the retro PR of \(sessionId): \(why)")
    }
}
