import Foundation

/// A rung of a drill's ladder as the scheduler reached it.
public struct DrillRungReached: Sendable, Equatable {
    public var level: Int
    public var scheduledAt: Date
    public var reachedAt: Date
    public var outcome: EscalationOutcome

    public init(level: Int, scheduledAt: Date, reachedAt: Date, outcome: EscalationOutcome) {
        self.level = level
        self.scheduledAt = scheduledAt
        self.reachedAt = reachedAt
        self.outcome = outcome
    }
}

/// One page of a drill session and what became of it at one channel, as the outbox and delivery log hold it.
public struct DrillPageRecord: Sendable, Equatable {
    public var messageId: String
    public var eventType: String
    /// Index of the ladder rung an escalation page announces; nil for every other page.
    public var level: Int?
    public var queuedAt: Date
    /// Nil when no channel was routed the page (or it is not routed yet).
    public var channel: String?
    /// Nil when the page was routed to no channel.
    public var state: State?
    public var attempts: Int
    public var firstAttemptAt: Date?
    public var deliveredAt: Date?
    public var lastError: String?

    /// Where the page stands: not routed to its channels yet, or its delivery's state at `channel`.
    public enum State: Sendable, Equatable {
        case queued
        case delivery(DeliveryState)
    }

    public init(messageId: String, eventType: String, level: Int?, queuedAt: Date, channel: String?, state: State?, attempts: Int,
                firstAttemptAt: Date?, deliveredAt: Date?, lastError: String?) {
        self.messageId = messageId
        self.eventType = eventType
        self.level = level
        self.queuedAt = queuedAt
        self.channel = channel
        self.state = state
        self.attempts = attempts
        self.firstAttemptAt = firstAttemptAt
        self.deliveredAt = deliveredAt
        self.lastError = lastError
    }

    /// The delivery's state at `channel`; nil while the page is queued or when it went nowhere.
    public var deliveryState: DeliveryState? {
        if case .delivery(let state) = state { return state }
        return nil
    }
}

/// What a drill showed: every rung with when it was due, reached and paged, every other page, each channel's
/// record, the review, and the findings a team should act on. Built from recorded facts only.
public struct DrillReport: Codable, Sendable, Equatable {
    public struct Delivery: Codable, Sendable, Equatable {
        public var channel: String
        public var state: DeliveryState
        public var attempts: Int
        public var firstAttemptAt: Date?
        public var deliveredAt: Date?
        public var lastError: String?
    }

    public struct Rung: Codable, Sendable, Equatable {
        public var level: Int
        public var name: String
        public var severity: Severity
        public var eventType: String
        public var dueAt: Date
        public var outcome: Outcome
        public var reachedAt: Date?
        public var pagedAt: Date?
        /// From `dueAt` to the first channel that took the page.
        public var pagedLateBySeconds: Double?
        public var deliveries: [Delivery]

        public enum Outcome: String, Codable, Sendable, CaseIterable {
            case paged
            /// A reminder reached after the deadline.
            case skipped
            /// The retro PR was linked before the rung was due: the ladder stopped, as planned.
            case stoppedByLink = "stopped_by_link"
            case notReached = "not_reached"

            init(_ reached: EscalationOutcome) { self = reached == .paged ? .paged : .skipped }
        }
    }

    public struct Page: Codable, Sendable, Equatable {
        public var eventType: String
        public var queuedAt: Date
        public var deliveries: [Delivery]
    }

    public struct ChannelRecord: Codable, Sendable, Equatable {
        public var channel: String
        public var delivered: Int
        public var pending: Int
        public var dead: Int
    }

    public struct Review: Codable, Sendable, Equatable {
        public var status: RetroStatus
        public var prUrl: String?
        public var linkedAt: Date?
        public var linkedInTime: Bool?
        public var reviewedBy: String?
        public var reviewedAt: Date?
        public var reviewNote: String?
    }

    public var format = "breakglass-drill-report/1"
    public var notice = "DRILL: a rehearsal of the break-glass path; its session, pages and figures are not a real activation"
    public var generatedAt: Date
    public var generatedBy: String
    public var session: EmergencySession
    public var deadlineSeconds: Double
    public var dueAt: Date
    public var ladder: String
    public var rungs: [Rung]
    public var pages: [Page]
    public var channels: [ChannelRecord]
    public var retro: Review
    /// What did not go as rehearsed, one sentence each; empty when everything paged on time and was reviewed.
    public var findings: [String]
    public var passed: Bool

    /// A page delivered this long after its rung's time no longer reads level by level: compressed rungs
    /// are seconds apart.
    public static let lateAfter: TimeInterval = 15

    public static func make(session: EmergencySession, obligation: RetroObligation, reached: [DrillRungReached], pages: [DrillPageRecord],
                            now: Date, by actor: String) -> DrillReport {
        var findings: [String] = []
        func deliveries(_ records: [DrillPageRecord]) -> [Delivery] {
            records.compactMap { r in
                r.channel.map { Delivery(channel: $0, state: r.deliveryState ?? .pending, attempts: r.attempts, firstAttemptAt: r.firstAttemptAt,
                                         deliveredAt: r.deliveredAt, lastError: r.lastError) }
            }
        }
        func check(_ what: String, _ list: [Delivery], records: [DrillPageRecord]) {
            if records.contains(where: { $0.state == .queued }) {
                findings.append("\(what) was not yet routed to its channels")
            } else if list.isEmpty {
                findings.append("\(what) was routed to no channel")
            }
            for d in list where d.state != .delivered {
                findings.append(d.state == .dead
                    ? "\(what) went to dead letter at \(d.channel)\(d.lastError.map { " (\($0))" } ?? "")"
                    : "\(what) was not delivered to \(d.channel) (\(d.attempts) attempts)")
            }
        }
        let rungs = obligation.ladder.rungs.enumerated().map { index, rung -> Rung in
            let due = obligation.fireTime(level: index)
            let hit = reached.first { $0.level == index }
            let records = pages.filter { $0.level == index }
            let list = deliveries(records)
            let pagedAt = list.compactMap(\.deliveredAt).min()
            let what = "rung \(index + 1) (\(rung.eventType), due \(Timestamp.format(due)))"
            let stoppedByLink = hit == nil && (obligation.firstLinkedAt.map { $0 <= due } ?? false)
            switch hit?.outcome {
            case nil where stoppedByLink:
                // Linking stops the ladder: a rung after the link is the plan working, not a miss.
                break
            case nil:
                findings.append(now < due ? "\(what) is not due yet: the drill is still running" : "\(what) was never reached")
            case .paged:
                check(what, list, records: records)
                if let pagedAt, pagedAt.timeIntervalSince(due) >= lateAfter {
                    findings.append("\(what) was paged \(TTL.format(pagedAt.timeIntervalSince(due).rounded())) late")
                }
            default:
                findings.append("\(what) was skipped: it was reached after the deadline")
            }
            return Rung(level: index + 1, name: rung.name, severity: rung.severity, eventType: rung.eventType, dueAt: due,
                        outcome: hit.map { Rung.Outcome($0.outcome) } ?? (stoppedByLink ? .stoppedByLink : .notReached), reachedAt: hit?.reachedAt, pagedAt: pagedAt,
                        pagedLateBySeconds: pagedAt.map { max(0, $0.timeIntervalSince(due)) }, deliveries: list)
        }
        var others: [Page] = []
        var position: [String: Int] = [:]
        for record in pages where record.level == nil {
            if let at = position[record.messageId] {
                others[at].deliveries += deliveries([record])
            } else {
                position[record.messageId] = others.count
                others.append(Page(eventType: record.eventType, queuedAt: record.queuedAt, deliveries: deliveries([record])))
            }
        }
        for (id, at) in position.sorted(by: { $0.value < $1.value }) {
            check("the \(others[at].eventType) page", others[at].deliveries, records: pages.filter { $0.messageId == id })
        }
        var channels: [String: ChannelRecord] = [:]
        for record in pages {
            guard let name = record.channel else { continue }
            var entry = channels[name] ?? ChannelRecord(channel: name, delivered: 0, pending: 0, dead: 0)
            switch record.deliveryState {
            case .delivered: entry.delivered += 1
            case .dead: entry.dead += 1
            case .pending, nil: entry.pending += 1
            }
            channels[name] = entry
        }
        if !obligation.status.isSettled {
            findings.append(obligation.status == .linked ? "the retro PR is linked but compliance has not reviewed it"
                                                         : "no retro PR was linked and reviewed")
        }
        let retro = Review(status: obligation.status, prUrl: obligation.prURL, linkedAt: obligation.firstLinkedAt,
                           linkedInTime: obligation.firstLinkedAt.map { $0 <= obligation.dueAt }, reviewedBy: obligation.reviewedBy,
                           reviewedAt: obligation.reviewedAt, reviewNote: obligation.reviewNote)
        return DrillReport(generatedAt: now, generatedBy: actor, session: session,
                           deadlineSeconds: obligation.dueAt.timeIntervalSince(obligation.windowStart), dueAt: obligation.dueAt,
                           ladder: obligation.ladder.spec, rungs: rungs, pages: others,
                           channels: channels.values.sorted { $0.channel < $1.channel }, retro: retro, findings: findings,
                           passed: findings.isEmpty)
    }
}
