import Foundation

/// What one delivery attempt's response means, per channel kind.
public enum DeliveryVerdict: Equatable, Sendable {
    case delivered
    /// Try again; `after` is the receiver's Retry-After when it gave one.
    case retry(after: TimeInterval?, reason: String)
    /// Never retried: dead letter, and alert the other channels.
    case dead(reason: String)
    /// The endpoint is gone for good (410): disable the channel, dead letter, alert.
    case gone(reason: String)
}

public enum DeliveryPolicy {
    public static func classify(kind: ChannelKind, status: Int, body: String, retryAfter: String?) -> DeliveryVerdict {
        let after = retryAfter.flatMap { TimeInterval($0.trimmingCharacters(in: .whitespaces)) }
        switch kind {
        case .slack:
            if status == 200 { return .delivered }
            let text = body.trimmingCharacters(in: .whitespacesAndNewlines)
            let permanent = ["invalid_token", "channel_not_found", "channel_is_archived", "no_service", "no_service_id", "no_team",
                             "team_disabled", "invalid_payload", "action_prohibited", "posting_to_general_channel_denied", "user_not_found"]
            if [400, 403, 404, 410].contains(status) || permanent.contains(text) {
                return .dead(reason: "Slack refused the message (\(status) \(String(text.prefix(60))))")
            }
        case .pagerduty:
            if status == 202 { return .delivered }
            if status == 400 { return .dead(reason: "PagerDuty rejected the event as invalid (400)") }
            if [401, 403, 404].contains(status) { return .dead(reason: "PagerDuty refused the routing key or URL (\(status))") }
        case .webhook:
            if (200..<300).contains(status) { return .delivered }
            if status == 410 { return .gone(reason: "the endpoint answered 410 Gone") }
            if [400, 401, 403, 404, 405, 413, 415, 422].contains(status) {
                return .dead(reason: "the endpoint refused the message (\(status))")
            }
        }
        if status == 429 { return .retry(after: after, reason: "rate limited (429)") }
        return .retry(after: after, reason: "receiver answered \(status)")
    }

    /// Exponential backoff with full jitter, 1 s doubling up to 5 min; a receiver's Retry-After wins when
    /// it asks for longer.
    public static func delay(afterAttempt attempt: Int, retryAfter: TimeInterval?, random: Double) -> TimeInterval {
        let ceiling = min(300, pow(2, Double(max(0, attempt - 1))))
        let jittered = max(0.5, ceiling * random)
        return max(jittered, min(retryAfter ?? 0, 3600))
    }
}
