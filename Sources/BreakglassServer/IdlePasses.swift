import NIOConcurrencyHelpers

/// How many times each background loop has looked and found nothing to do (and, for delivery, nothing in
/// flight). "Nothing happened" is only worth asserting once the loop has looked after the change: tests wait
/// for two such passes, rather than sleeping and hoping it ran.
public final class IdlePasses: Sendable {
    public enum Loop: String, Sendable {
        case delivery, expiry, retroEscalation
    }

    private let counts = NIOLockedValueBox<[Loop: Int]>([:])

    public init() {}

    func record(_ loop: Loop) {
        counts.withLockedValue { $0[loop, default: 0] += 1 }
    }

    public func count(_ loop: Loop) -> Int {
        counts.withLockedValue { $0[loop] ?? 0 }
    }
}
