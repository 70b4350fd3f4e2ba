import BreakglassCore
import Foundation
#if canImport(Glibc)
import Glibc
#endif
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
    /// Requests with a bearer token or browser cookie that is not valid: each costs a database lookup, so an
    /// address that keeps sending them is answered 429 without one.
    public var authFailures: Budget

    public init(hook: Budget, signIn: Budget, authFailures: Budget) {
        self.hook = hook
        self.signIn = signIn
        self.authFailures = authFailures
    }

    public static let standard = RateLimits(hook: .init(burst: 60, perSecond: 10), signIn: .init(burst: 30, perSecond: 1),
                                            authFailures: .init(burst: 20, perSecond: 1))
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

    /// Nil when admitted (one token spent), else how long until a request would be.
    func admit(_ key: String, budget: RateLimits.Budget) -> Duration? {
        check(key, budget: budget, spend: true)
    }

    /// Like `admit` without spending: for budgets charged only when a request turns out to be bad.
    func wait(_ key: String, budget: RateLimits.Budget) -> Duration? {
        check(key, budget: budget, spend: false)
    }

    private func check(_ key: String, budget: RateLimits.Budget, spend: Bool) -> Duration? {
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
        guard spend else { return nil }
        bucket.tokens -= 1
        if buckets.count >= Self.maxBuckets && buckets[key] == nil { evict(now: now) }
        buckets[key] = bucket
        return nil
    }

    /// Keeps the table bounded when many addresses appear: forgets the least recently seen half, never
    /// everyone at once (which would hand every address a fresh budget).
    private func evict(now: ContinuousClock.Instant) {
        let oldestFirst = buckets.sorted { $0.value.updated < $1.value.updated }
        for (key, _) in oldestFirst.prefix(buckets.count / 2) { buckets.removeValue(forKey: key) }
    }

    /// The part of an address a client controls as one: an IPv4 address, or an IPv6 /64 (one host usually
    /// holds a whole /64, so per-address IPv6 limits would be no limit at all).
    static func clientKey(_ address: String?) -> String {
        guard let address else { return "-" }
        var v6 = in6_addr()
        guard address.contains(":"), inet_pton(AF_INET6, address, &v6) == 1 else { return address }
        let bytes = withUnsafeBytes(of: v6) { Array($0.prefix(8)) }
        return bytes.map { String(format: "%02x", $0) }.joined() + "::/64"
    }
}

/// Charges a per-address budget for each failed token or cookie, and refuses an address that spent it before
/// anything touches the database.
struct AuthFailureGuard: Sendable {
    let limiter: RateLimiter
    let counters: ServerCounters
    let budget: RateLimits.Budget

    func authenticate<T: Sendable>(address: String?, _ body: () async throws -> T) async throws -> T {
        let key = "auth_failures|" + RateLimiter.clientKey(address)
        if let wait = await limiter.wait(key, budget: budget) {
            await counters.countRateLimited(route: "auth_failures")
            throw BreakglassError(.rateLimited, "rate_limited",
                                  "too many requests with invalid credentials from this address; retry in \(RateLimitMiddleware.seconds(wait)) s")
        }
        do {
            return try await body()
        } catch let error as BreakglassError where error.kind == .unauthenticated {
            _ = await limiter.admit(key, budget: budget)
            throw error
        }
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
        guard let wait = await limiter.admit("\(name)|\(RateLimiter.clientKey(context.clientAddress))", budget: budget) else {
            return try await next(request, context)
        }
        await counters.countRateLimited(route: name)
        let seconds = Self.seconds(wait)
        var response = Response.apiError(status: .tooManyRequests, code: "rate_limited",
                                         message: "too many requests from this address; retry in \(seconds) s")
        response.headers[.retryAfter] = String(seconds)
        return response
    }
}

extension RateLimitMiddleware {
    static func seconds(_ wait: Duration) -> Int {
        max(1, Int((Double(wait.components.seconds) + Double(wait.components.attoseconds) / 1e18).rounded(.up)))
    }
}

/// Counters kept in memory by this instance, for `/metrics`.
actor ServerCounters {
    private(set) var rateLimited: [String: Int] = [:]

    func countRateLimited(route: String) { rateLimited[route, default: 0] += 1 }
}
