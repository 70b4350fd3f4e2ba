import Foundation

/// How a drill's retro obligation runs: the target's real path, with the deadline and the escalation ladder
/// compressed to minutes so a team sees every rung page before the rehearsal is over (PCI DSS 12.10.2).
public struct DrillPlan: Sendable, Equatable {
    /// The drill's retro PR deadline, from activation.
    public var deadline: TimeInterval
    /// The configured ladder, scaled.
    public var ladder: EscalationLadder
    /// What one second of the drill stands for in the real ladder's time after the deadline (1/720: a day
    /// becomes two minutes).
    public var scale: Double

    /// What a drill's events evidence besides the controls of their type: the incident response plan was
    /// tested (PCI DSS 12.10.2, NIST IR-3, SOC 2 CC7.4).
    public static let controls = ["NIST-800-53:IR-3", "PCI-DSS-4.0:12.10.2", "SOC2:CC7.4"]

    public static let defaultDeadline: TimeInterval = 120
    /// The longest credential a drill hands out (a rehearsal needs minutes, not the target's full TTL).
    public static let maxCredentialTTL: TimeInterval = 15 * 60
    /// Below an hour, which real sessions may never have; a drill of an hour or more rehearses nothing faster.
    public static let deadlines: ClosedRange<TimeInterval> = 60...(59 * 60)

    /// A drill's retro PR deadline on `target`, from activation.
    public static func deadline(target: Target) -> TimeInterval { target.drillDeadline ?? defaultDeadline }

    /// The plan for a drill on `target` with the ladder real sessions get now. Reminders keep their share of
    /// the window (50% of two minutes is one minute). Escalations after the deadline are scaled by one factor,
    /// the drill deadline over the real one, but never by more than fits the last escalation within one more
    /// deadline: a 2-minute drill has paged its whole ladder 4 minutes after it started, whatever the ladder.
    public static func make(target: Target, ladder: EscalationLadder) -> DrillPlan {
        let deadline = deadline(target: target)
        let lastDelay = ladder.rungs.compactMap(\.afterDeadline).max() ?? 0
        var scale = deadline / target.retroDeadline
        if lastDelay > 0 { scale = min(scale, deadline / lastDelay) }
        return DrillPlan(deadline: deadline, ladder: ladder.scaled(by: scale), scale: scale)
    }
}

extension EscalationLadder {
    /// Escalation delays multiplied by `factor`, in whole seconds. Rounding must not merge or swap two
    /// escalations (the ladder fires level by level), so each stays at least a second after the one before.
    public func scaled(by factor: Double) -> EscalationLadder {
        var previous: TimeInterval?
        let rungs = rungs.map { rung -> EscalationRung in
            guard let delay = rung.afterDeadline else { return rung }
            var scaled = (delay * factor).rounded()
            if delay > 0 { scaled = max(scaled, 1) }
            if let previous { scaled = max(scaled, previous + 1) }
            previous = scaled
            var next = rung
            next.afterDeadline = scaled
            return next
        }
        return EscalationLadder(rungs: rungs)
    }
}
