import BreakglassCore
import Foundation

extension ManualClock {
    /// Starts a few TOTP steps behind real time, 5 s into a step: tokens signed "now" are already valid for
    /// real-clock verifiers, and a test can move to the next step for a fresh code.
    public static func nearRealTime() -> ManualClock {
        let now = Date().timeIntervalSince1970
        return ManualClock(Date(timeIntervalSince1970: (now / 30).rounded(.down) * 30 - 180 + 5))
    }
}
