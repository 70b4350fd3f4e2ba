import Foundation

/// Decides whether a submitted code is acceptable, given the server's time and the last step this user
/// already spent. Accepting a step spends it and every earlier step, so a code works once.
public struct TOTPVerifier: Sendable {
    /// Steps accepted on either side of the current one, for clock drift and typing time.
    public let window: Int64

    public init(window: Int64 = 1) { self.window = window }

    public enum Outcome: Equatable, Sendable {
        case accepted(step: Int64)
        case wrong
        /// The code's step was spent already. `replayOfLast` when it is the very step accepted last: a
        /// double submit or a retry after a lost answer, not a guess, so it need not count toward lockout.
        case reused(replayOfLast: Bool)
    }

    public func verify(code: String, otp: OneTimePassword, at now: Date, lastUsedStep: Int64) -> Outcome {
        let trimmed = code.filter { !$0.isWhitespace }
        guard trimmed.count == otp.digits, trimmed.allSatisfy(\.isASCII), trimmed.allSatisfy(\.isNumber) else {
            return .wrong
        }
        let current = otp.step(at: now)
        var matched: Int64?
        // Check every candidate step so the time taken does not reveal which one matched.
        for step in (current - window)...(current + window) where step >= 0 {
            if constantTimeEquals(otp.hotp(counter: UInt64(step)), trimmed) && matched == nil {
                matched = step
            }
        }
        guard let step = matched else { return .wrong }
        guard step > lastUsedStep else { return .reused(replayOfLast: step == lastUsedStep) }
        return .accepted(step: step)
    }

    private func constantTimeEquals(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8), y = Array(b.utf8)
        guard x.count == y.count else { return false }
        var diff: UInt8 = 0
        for i in 0..<x.count { diff |= x[i] ^ y[i] }
        return diff == 0
    }
}

/// Failed TOTP proofs are counted per user across all clients; too many in the window locks the account.
public struct LockoutPolicy: Sendable {
    public let maxFailures: Int
    public let window: TimeInterval
    public let lockDuration: TimeInterval

    public init(maxFailures: Int = 5, window: TimeInterval = 15 * 60, lockDuration: TimeInterval = 15 * 60) {
        self.maxFailures = maxFailures
        self.window = window
        self.lockDuration = lockDuration
    }

    /// Given the failures already inside the window (not counting this one), returns when the account is
    /// locked until after this failure, or nil if it stays open.
    public func lockedUntil(afterFailureNumber failuresInWindow: Int, now: Date) -> Date? {
        failuresInWindow + 1 >= maxFailures ? now.addingTimeInterval(lockDuration) : nil
    }
}
