import Foundation

/// What becomes of a delivery after one attempt: recorded as the attempt's outcome, the delivery's new state,
/// and the consequences a dead letter has.
public struct DeliveryDecision: Sendable, Equatable {
    public var verdict: DeliveryVerdict
    public var outcome: DeliveryAttemptOutcome
    public var state: DeliveryState
    /// When a retry is due (`state` pending).
    public var nextAttemptAt: Date?
    /// Why it failed, for the log and the dead letter; nil when delivered.
    public var detail: String?
    /// A 410 from a channel as it is now: the channel is disabled. A page sent with the channel's configuration from
    /// before an admin change says nothing about the channel as it is now.
    public var disablesChannel: Bool
    /// A dead letter is announced on every other channel, except an announcement of a dead letter (no alert loops).
    public var alertsOtherChannels: Bool

    public var isDeadLetter: Bool { state == .dead }
}

extension DeliveryPolicy {
    /// The page type announcing a dead letter on the other channels.
    public static let failureAlertType = "delivery.failed"

    /// Decides the attempt numbered `attempt` (1 for the first) of a page queued at `queuedAt`, answered at
    /// `answeredAt` with `status` (nil: no answer, `errorClass` says why). A retry that would fall after `maxAge`
    /// from the page's queueing is a dead letter instead. `random` (0.5…1) is the backoff's jitter.
    public static func decide(kind: ChannelKind, status: Int?, body: String, retryAfter: String?, errorClass: String?, messageType: String,
                              attempt: Int, queuedAt: Date, answeredAt: Date, maxAge: TimeInterval, usesSnapshot: Bool,
                              random: Double) -> DeliveryDecision {
        var verdict = status.map { classify(kind: kind, status: $0, body: body, retryAfter: retryAfter) }
            ?? .retry(after: nil, reason: "no answer (\(errorClass ?? "network error"))")
        if errorClass?.hasPrefix("config:") == true { verdict = .dead(reason: "the channel configuration is invalid") }
        var nextAttemptAt: Date?
        if case .retry(let after, let reason) = verdict {
            // A receiver's Retry-After counts from its answer: one slower than its own Retry-After is not retried at once.
            let at = answeredAt + delay(afterAttempt: attempt, retryAfter: after, random: random)
            if at.timeIntervalSince(queuedAt) > maxAge {
                verdict = .dead(reason: "\(reason); gave up after \(attempt) attempts over \(TTL.format(answeredAt.timeIntervalSince(queuedAt)))")
            } else {
                nextAttemptAt = at
            }
        }
        let (outcome, state, detail): (DeliveryAttemptOutcome, DeliveryState, String?) = switch verdict {
        case .delivered: (.delivered, .delivered, nil)
        case .retry(_, let reason): (.retry, .pending, reason)
        case .dead(let reason): (.dead, .dead, reason)
        case .gone(let reason): (.gone, .dead, reason)
        }
        return DeliveryDecision(verdict: verdict, outcome: outcome, state: state, nextAttemptAt: nextAttemptAt, detail: detail,
                                disablesChannel: outcome == .gone && !usesSnapshot,
                                alertsOtherChannels: state == .dead && messageType != failureAlertType)
    }
}
