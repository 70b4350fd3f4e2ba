/// Polls `condition` for up to ten seconds, failing with `what` rather than hanging: a wait on a condition, never a
/// fixed sleep, for tests outside `BrokerTestCase` (which has its own `waitUntil`).
public func waitFor(_ what: String, _ condition: () async throws -> Bool) async throws {
    let deadline = ContinuousClock.now + .seconds(10)
    while try await !condition() {
        guard ContinuousClock.now < deadline else { throw WaitTimedOut(what: what) }
        try await Task.sleep(for: .milliseconds(20))
    }
}

public struct WaitTimedOut: Error, CustomStringConvertible {
    public let what: String
    public var description: String { "not within 10 s: \(what)" }
}
