import BreakglassCore
import Foundation
import HTTPTypes
import Hummingbird

/// Per-address request budgets for the routes anyone can reach without a token.
public struct RateLimits: Sendable {
    public struct Budget: Sendable {
        /// Requests allowed at once before the rate applies.
        public var burst: Double
        public var perSecond: Double

        public init(burst: Double, perSecond: Double) {
            self.burst = burst
            self.perSecond = perSecond
        }
    }

    /// `/v1/hooks/github`: GitHub sends in bursts (a busy repository), from a handful of addresses.
    public var hook: Budget
    /// Enrolment, `login` and the compliance web sign-in: a person types these.
    public var signIn: Budget

    public init(hook: Budget, signIn: Budget) {
        self.hook = hook
        self.signIn = signIn
    }

    public static let standard = RateLimits(hook: .init(burst: 60, perSecond: 10), signIn: .init(burst: 30, perSecond: 1))
}

/// Token buckets per (route class, client address). Time here is real elapsed time (a flood is measured in
/// wall-clock seconds), so it reads a monotonic clock rather than the broker's business clock.
actor RateLimiter {
    private struct Bucket {
        var tokens: Double
        var updated: ContinuousClock.Instant
    }

    private var buckets: [String: Bucket] = [:]
    private let clock = ContinuousClock()
    static let maxBuckets = 50_000

    /// Nil when admitted, else how long until a request would be.
    func admit(_ key: String, budget: RateLimits.Budget) -> Duration? {
        let now = clock.now
        var bucket = buckets[key] ?? Bucket(tokens: budget.burst, updated: now)
        let elapsed = bucket.updated.duration(to: now)
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        bucket.tokens = min(budget.burst, bucket.tokens + seconds * budget.perSecond)
        bucket.updated = now
        guard bucket.tokens >= 1 else {
            buckets[key] = bucket
            return .milliseconds(Int64(((1 - bucket.tokens) / budget.perSecond * 1000).rounded(.up)))
        }
        bucket.tokens -= 1
        if buckets.count >= Self.maxBuckets && buckets[key] == nil { prune(now: now, budget: budget) }
        buckets[key] = bucket
        return nil
    }

    /// Forgets buckets that have refilled anyway, so many addresses cannot grow the table without bound.
    private func prune(now: ContinuousClock.Instant, budget: RateLimits.Budget) {
        let full = Duration.seconds(budget.burst / max(budget.perSecond, 0.001))
        buckets = buckets.filter { $0.value.updated.duration(to: now) < full }
        if buckets.count >= Self.maxBuckets { buckets.removeAll() }
    }
}

/// Answers 429 with `Retry-After` once an address has spent its budget for this class of route.
struct RateLimitMiddleware: RouterMiddleware {
    typealias Context = BreakglassRequestContext
    let limiter: RateLimiter
    let counters: ServerCounters
    let name: String
    let budget: RateLimits.Budget

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let wait = await limiter.admit("\(name)|\(context.remoteAddress ?? "-")", budget: budget) else {
            return try await next(request, context)
        }
        await counters.countRateLimited(route: name)
        let seconds = max(1, Int((Double(wait.components.seconds) + Double(wait.components.attoseconds) / 1e18).rounded(.up)))
        var response = ErrorMiddleware.json(status: .tooManyRequests, code: "rate_limited",
                                            message: "too many requests from this address; retry in \(seconds) s")
        response.headers[.retryAfter] = String(seconds)
        return response
    }
}

/// Counters kept in memory by this instance, for `/metrics`.
actor ServerCounters {
    private(set) var rateLimited: [String: Int] = [:]

    func countRateLimited(route: String) { rateLimited[route, default: 0] += 1 }
}
