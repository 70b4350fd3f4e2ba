import BreakglassAPI
import BreakglassCore
import Foundation

/// Field by field, and every field: the seal covers the report as the core wrote it (see `EvidencePack+Schema`).
extension Components.Schemas.DrillReport {
    init(_ sealed: SealedDocument<DrillReport>) {
        let report = sealed.document
        self.init(format: report.format, notice: report.notice, generatedAt: report.generatedAt, generatedBy: report.generatedBy,
                  session: .init(report.session), deadlineSeconds: report.deadlineSeconds, dueAt: report.dueAt, ladder: report.ladder,
                  rungs: report.rungs.map { .init($0) },
                  pages: report.pages.map { .init(eventType: $0.eventType, queuedAt: $0.queuedAt, deliveries: $0.deliveries.map { .init($0) }) },
                  channels: report.channels.map { .init(channel: $0.channel, delivered: $0.delivered, pending: $0.pending, dead: $0.dead) },
                  retro: .init(report.retro), findings: report.findings, passed: report.passed, packSha256: sealed.packSha256)
    }
}

extension Components.Schemas.DrillRung {
    init(_ rung: DrillReport.Rung) {
        self.init(level: rung.level, name: rung.name, severity: .init(rung.severity), eventType: rung.eventType, dueAt: rung.dueAt,
                  outcome: .init(rung.outcome), reachedAt: rung.reachedAt, pagedAt: rung.pagedAt, pagedLateBySeconds: rung.pagedLateBySeconds,
                  deliveries: rung.deliveries.map { .init($0) })
    }
}

extension Components.Schemas.DrillRungOutcome {
    init(_ outcome: DrillReport.Rung.Outcome) {
        switch outcome {
        case .paged: self = .paged
        case .skipped: self = .skipped
        case .stoppedByLink: self = .stoppedByLink
        case .notReached: self = .notReached
        }
    }
}

extension Components.Schemas.DrillDelivery {
    init(_ delivery: DrillReport.Delivery) {
        // The contract lists the state as a plain string (`pending`, `delivered` or `dead`).
        self.init(channel: delivery.channel, state: delivery.state.rawValue, attempts: delivery.attempts, firstAttemptAt: delivery.firstAttemptAt,
                  deliveredAt: delivery.deliveredAt, lastError: delivery.lastError)
    }
}

extension Components.Schemas.DrillRetro {
    init(_ review: DrillReport.Review) {
        self.init(status: .init(review.status), prUrl: review.prUrl, linkedAt: review.linkedAt, linkedInTime: review.linkedInTime,
                  reviewedBy: review.reviewedBy, reviewedAt: review.reviewedAt, reviewNote: review.reviewNote)
    }
}
