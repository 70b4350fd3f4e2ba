import Foundation

/// One rung of the escalation ladder: a reminder inside the SLA window (at a fraction of it) or an
/// escalation some time after the deadline. Its page is the outbox event `retro.NAME`, so channels
/// subscribe to rungs with the ordinary routing (`retro.level2`, `retro.*`).
public struct EscalationRung: Codable, Sendable, Equatable {
    public var name: String
    /// Reminders: fires at this fraction of the window (0 < f < 1), before the deadline.
    public var fraction: Double?
    /// Escalations: fires this long after the deadline (0 = at the deadline).
    public var afterDeadline: TimeInterval?
    public var severity: Severity

    public init(name: String, fraction: Double? = nil, afterDeadline: TimeInterval? = nil, severity: Severity) {
        self.name = name
        self.fraction = fraction
        self.afterDeadline = afterDeadline
        self.severity = severity
    }

    public var isReminder: Bool { fraction != nil }
    public var eventType: String { "retro.\(name)" }

    public func fireTime(windowStart: Date, dueAt: Date) -> Date {
        if let fraction {
            let window = dueAt.timeIntervalSince(windowStart)
            return Timestamp.truncated(windowStart + window * fraction)
        }
        return dueAt + (afterDeadline ?? 0)
    }

    /// `reminder@50%`, `level2@+4h/warning`.
    public var spec: String {
        let delay = afterDeadline ?? 0
        let at = fraction.map { "\(Int(($0 * 100).rounded()))%" } ?? (delay == 0 ? "+0" : "+\(TTL.format(delay))")
        return "\(name)@\(at)/\(severity.rawValue)"
    }
}

/// The rungs in the order they fire. Reminders come first (by fraction), then escalations (by delay).
public struct EscalationLadder: Codable, Sendable, Equatable {
    public var rungs: [EscalationRung]

    public init(rungs: [EscalationRung]) { self.rungs = rungs }

    /// Reminders to the engineer at 50% and 90% of the window; level 1 at the deadline (engineer and team),
    /// level 2 four hours later (security lead, low urgency), level 3 a day later (compliance, high urgency).
    public static let standard = EscalationLadder(rungs: [
        EscalationRung(name: "reminder", fraction: 0.5, severity: .info),
        EscalationRung(name: "reminder", fraction: 0.9, severity: .info),
        EscalationRung(name: "level1", afterDeadline: 0, severity: .warning),
        EscalationRung(name: "level2", afterDeadline: 4 * 3600, severity: .warning),
        EscalationRung(name: "level3", afterDeadline: 24 * 3600, severity: .critical),
    ])

    public var spec: String { rungs.map(\.spec).joined(separator: ",") }

    /// Parses `NAME@50%[/SEVERITY],NAME@+4h[/SEVERITY],…` (as in BREAKGLASS_RETRO_LADDER).
    public static func parse(_ text: String) throws -> EscalationLadder {
        let entries = text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        var rungs: [EscalationRung] = []
        for entry in entries {
            let problem = "ladder rung '\(entry)' must look like reminder@50% or level2@+4h/warning"
            let parts = entry.split(separator: "@", maxSplits: 1).map(String.init)
            guard parts.count == 2 else { throw BreakglassError.invalid("retro_ladder", problem) }
            let name = parts[0]
            guard (1...32).contains(name.count), name.allSatisfy({ ($0.isASCII && ($0.isLowercase || $0.isNumber)) || $0 == "-" }) else {
                throw BreakglassError.invalid("retro_ladder", "rung name '\(name)' must be 1-32 lowercase letters, digits or '-'")
            }
            let timing = parts[1].split(separator: "/", maxSplits: 1).map(String.init)
            let named = timing.count == 2 ? timing[1] : (timing[0].hasSuffix("%") ? "info" : "warning")
            guard let severity = Severity(rawValue: named) else {
                throw BreakglassError.invalid("retro_ladder",
                                              "severity '\(named)' in '\(entry)' is not one of \(Severity.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            if timing[0].hasSuffix("%") {
                guard let percent = Int(timing[0].dropLast()), percent > 0, percent < 100 else {
                    throw BreakglassError.invalid("retro_ladder", "reminder '\(entry)' needs a percentage of the window between 1% and 99%")
                }
                rungs.append(EscalationRung(name: name, fraction: Double(percent) / 100, severity: severity))
            } else if timing[0].hasPrefix("+") {
                let text = String(timing[0].dropFirst())
                // TTL refuses zero; "+0", "+0s", "+0h" all mean "at the deadline".
                let zero = text.first == "0" && text.dropFirst().allSatisfy { "smhd".contains($0) } && text.count <= 2
                let delay = zero ? 0 : TTL.parse(text)
                guard let delay else { throw BreakglassError.invalid("retro_ladder", problem) }
                rungs.append(EscalationRung(name: name, afterDeadline: delay, severity: severity))
            } else {
                throw BreakglassError.invalid("retro_ladder", problem)
            }
        }
        return try EscalationLadder(rungs: rungs).validated()
    }

    /// A ladder must fire in the order it is written, so "level by level" holds for every window length.
    public func validated() throws -> EscalationLadder {
        var seenEscalation = false
        for (index, rung) in rungs.enumerated() {
            if rung.isReminder && seenEscalation {
                throw BreakglassError.invalid("retro_ladder", "reminder '\(rung.spec)' must come before every escalation")
            }
            seenEscalation = seenEscalation || !rung.isReminder
            guard index > 0 else { continue }
            let previous = rungs[index - 1]
            if let f = rung.fraction, let p = previous.fraction, f <= p {
                throw BreakglassError.invalid("retro_ladder", "reminders must be in increasing order ('\(rung.spec)' after '\(previous.spec)')")
            }
            if let d = rung.afterDeadline, let p = previous.afterDeadline, d <= p {
                throw BreakglassError.invalid("retro_ladder", "escalations must be in increasing order ('\(rung.spec)' after '\(previous.spec)')")
            }
        }
        return self
    }
}
