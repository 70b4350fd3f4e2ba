import BreakglassAPI
import BreakglassCore
import BreakglassStore
import Foundation

extension Components.Schemas.RetroView {
    init(_ view: RetroView) {
        self.init(sessionId: view.sessionId, requester: view.requester, target: view.target, status: .init(view.status), state: .init(view.state),
                  dueAt: view.dueAt, secondsLeft: view.secondsLeft, prUrl: view.prUrl, linkedAt: view.linkedAt, mergedAt: view.mergedAt,
                  independentApproval: view.independentApproval, lastRejection: view.lastRejection, nextRung: view.nextRung,
                  nextRungAt: view.nextRungAt, rungsFired: view.rungsFired, drill: view.drill)
    }
}

extension Components.Schemas.RetroStatus {
    init(_ status: RetroStatus) {
        switch status {
        case .owed: self = .owed
        case .linked: self = .linked
        case .approved: self = .approved
        case .waived: self = .waived
        }
    }
}

extension Components.Schemas.RetroState {
    init(_ state: RetroState) {
        switch state {
        case .owed: self = .owed
        case .overdue: self = .overdue
        case .linked: self = .linked
        case .approved: self = .approved
        case .waived: self = .waived
        }
    }
}

extension Components.Schemas.RetroMetrics {
    init(_ metrics: RetroMetrics) {
        self.init(overdue: metrics.overdue, byStatus: .init(additionalProperties: metrics.byStatus),
                  medianTimeToLinkSeconds: metrics.medianTimeToLinkSeconds, approvedWithinSlaRatio: metrics.approvedWithinSLARatio,
                  escalationsFired: .init(additionalProperties: metrics.escalationsFired), drills: metrics.drills,
                  drillEscalationsFired: .init(additionalProperties: metrics.drillEscalationsFired))
    }
}
