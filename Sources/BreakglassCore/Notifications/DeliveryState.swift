import Foundation

/// Where one page stands on one channel (`deliveries.state`).
public enum DeliveryState: String, Codable, Sendable, CaseIterable, StoredEnum {
    /// Waiting for its first attempt, or for a retry.
    case pending
    case delivered
    /// A dead letter: never retried unless an admin re-drives it.
    case dead
}

/// What one attempt came to (`delivery_attempts.outcome`).
public enum DeliveryAttemptOutcome: String, Codable, Sendable, CaseIterable, StoredEnum {
    case delivered
    /// Failed, and tried again later.
    case retry
    /// Failed for good: the page became a dead letter.
    case dead
    /// The endpoint is gone (410): dead letter, and the channel disabled.
    case gone
}
