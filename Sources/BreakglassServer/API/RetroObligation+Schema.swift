import BreakglassAPI
import BreakglassCore
import BreakglassStore
import Foundation

extension Components.Schemas.RetroObligation {
    init(_ o: RetroObligation) {
        self.init(sessionId: o.sessionId, requester: o.requester, target: o.target, status: .init(o.status), windowStart: o.windowStart,
                  dueAt: o.dueAt, ladder: .init(o.ladder), nextLevel: o.nextLevel, prUrl: o.prURL, prSource: o.prSource.map { .init($0) },
                  linkedAt: o.linkedAt, linkedBy: o.linkedBy, firstLinkedAt: o.firstLinkedAt, prAuthor: o.prAuthor, mergedAt: o.mergedAt,
                  mergeCommit: o.mergeCommit, mergedBy: o.mergedBy, prApprovers: o.prApprovers, independentApproval: o.independentApproval,
                  reviewedAt: o.reviewedAt, reviewedBy: o.reviewedBy, reviewNote: o.reviewNote, lastRejection: o.lastRejection, drill: o.drill)
    }
}

extension Components.Schemas.EscalationLadder {
    init(_ ladder: EscalationLadder) {
        self.init(rungs: ladder.rungs.map { .init(name: $0.name, fraction: $0.fraction, afterDeadline: $0.afterDeadline, severity: .init($0.severity)) })
    }
}

extension Components.Schemas.EscalationSeverity {
    init(_ severity: Severity) {
        switch severity {
        case .info: self = .info
        case .warning: self = .warning
        case .error: self = .error
        case .critical: self = .critical
        }
    }
}

extension Components.Schemas.RetroPRSource {
    init(_ source: RetroPRSource) {
        switch source {
        case .cli: self = .cli
        case .github: self = .github
        }
    }
}

extension Components.Schemas.EscalationRecord {
    init(_ record: EscalationRecord) {
        self.init(level: record.level, rung: record.rung, scheduledAt: record.scheduledAt, firedAt: record.firedAt, outcome: .init(record.outcome))
    }
}

extension Components.Schemas.EscalationOutcome {
    init(_ outcome: EscalationOutcome) {
        switch outcome {
        case .paged: self = .paged
        case .skipped: self = .skipped
        }
    }
}

extension Components.Schemas.ReviewRecord {
    init(_ record: ReviewRecord) {
        self.init(decision: .init(record.decision), reviewer: record.reviewer, note: record.note, prUrl: record.prUrl, decidedAt: record.decidedAt)
    }
}

extension Components.Schemas.ReviewDecision {
    init(_ decision: ReviewDecision) {
        switch decision {
        case .approved: self = .approved
        case .rejected: self = .rejected
        case .waived: self = .waived
        }
    }
}

extension Components.Schemas.RetroCandidate {
    init(_ candidate: RetroCandidate) {
        self.init(sessionId: candidate.sessionId, prUrl: candidate.prURL, prAuthor: candidate.prAuthor, sender: candidate.sender,
                  repository: candidate.repository, reason: candidate.reason, receivedAt: candidate.receivedAt, acceptedAt: candidate.acceptedAt,
                  acceptedBy: candidate.acceptedBy)
    }
}
