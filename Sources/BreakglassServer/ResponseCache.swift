/// One rendering of a public, database-backed answer (`/metrics`, `/readyz`, the revocation list) serves
/// every request for `maxAge`, and concurrent requests share the rendering in flight. Age is real elapsed
/// time (a monotonic clock), not the broker's business clock.
actor ResponseCache<Value: Sendable> {
    private let maxAge: Duration
    private let clock = ContinuousClock()
    private var current: (at: ContinuousClock.Instant, rendering: Task<Value, any Error>)?

    init(maxAge: Duration) { self.maxAge = maxAge }

    func value(_ render: @escaping @Sendable () async throws -> Value) async throws -> Value {
        let now = clock.now
        if let current, current.at.duration(to: now) < maxAge { return try await current.rendering.value }
        let rendering = Task { try await render() }
        current = (now, rendering)
        do {
            return try await rendering.value
        } catch {
            // A failed rendering is not cached: the next scrape tries again.
            current = nil
            throw error
        }
    }
}
