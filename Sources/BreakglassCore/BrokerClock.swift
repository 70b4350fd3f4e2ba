import Foundation

/// The broker's only source of "now". Production reads the system clock; tests drive a manual clock
/// days ahead without sleeping, so expiry, lockout windows and TOTP steps are deterministic.
public protocol BrokerClock: Sendable {
    func now() -> Date
}

public struct SystemClock: BrokerClock {
    public init() {}
    public func now() -> Date { Date() }
}

/// A clock that only moves when told to. Shared between a test and the server it drives.
public final class ManualClock: BrokerClock, @unchecked Sendable {
    // @unchecked: every access to `current` goes through `lock`.
    private let lock = NSLock()
    private var current: Date

    public init(_ start: Date) { current = start }

    public func now() -> Date { lock.withLock { current } }

    public func advance(by seconds: TimeInterval) { lock.withLock { current += seconds } }

    public func set(_ date: Date) { lock.withLock { current = date } }
}
