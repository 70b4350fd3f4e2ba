import Foundation

public enum SessionState: String, Codable, Sendable {
    case active, expired, ended, revoked
    /// Closed by the broker at activation because its credential could not be issued: nothing usable was handed out.
    case failed

    public var isTerminal: Bool { self != .active }
}

/// One emergency access session and the only ways it may change. Every transition takes the time it
/// happens at; a terminal state is final.
public struct EmergencySession: Codable, Equatable, Sendable {
    public var id: String
    public var requester: String
    public var target: String
    public var reason: String
    public var incident: String
    public var state: SessionState
    public var activatedAt: Date
    public var expiresAt: Date
    /// No extension may push expiry past this.
    public var hardLimit: Date
    public var retroDueAt: Date
    public var extensions: Int
    public var closedAt: Date?
    public var closedBy: String?
    public var closeReason: String?
    /// A rehearsal (`breakglass drill`): the real path, every page marked DRILL, kept out of the real figures.
    public var drill: Bool

    public init(id: String, requester: String, target: String, reason: String, incident: String, state: SessionState,
                activatedAt: Date, expiresAt: Date, hardLimit: Date, retroDueAt: Date, extensions: Int,
                closedAt: Date? = nil, closedBy: String? = nil, closeReason: String? = nil, drill: Bool = false) {
        self.id = id
        self.requester = requester
        self.target = target
        self.reason = reason
        self.incident = incident
        self.state = state
        self.activatedAt = activatedAt
        self.expiresAt = expiresAt
        self.hardLimit = hardLimit
        self.retroDueAt = retroDueAt
        self.extensions = extensions
        self.closedAt = closedAt
        self.closedBy = closedBy
        self.closeReason = closeReason
        self.drill = drill
    }

    enum CodingKeys: String, CodingKey {
        case id, requester, target, reason, incident, state, activatedAt, expiresAt, hardLimit, retroDueAt, extensions, closedAt, closedBy,
             closeReason, drill
    }

    // A broker from before drills sends no `drill`: its sessions were all real.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(id: try c.decode(String.self, forKey: .id), requester: try c.decode(String.self, forKey: .requester),
                  target: try c.decode(String.self, forKey: .target), reason: try c.decode(String.self, forKey: .reason),
                  incident: try c.decode(String.self, forKey: .incident), state: try c.decode(SessionState.self, forKey: .state),
                  activatedAt: try c.decode(Date.self, forKey: .activatedAt), expiresAt: try c.decode(Date.self, forKey: .expiresAt),
                  hardLimit: try c.decode(Date.self, forKey: .hardLimit), retroDueAt: try c.decode(Date.self, forKey: .retroDueAt),
                  extensions: try c.decode(Int.self, forKey: .extensions), closedAt: try c.decodeIfPresent(Date.self, forKey: .closedAt),
                  closedBy: try c.decodeIfPresent(String.self, forKey: .closedBy),
                  closeReason: try c.decodeIfPresent(String.self, forKey: .closeReason),
                  drill: try c.decodeIfPresent(Bool.self, forKey: .drill) ?? false)
    }

    /// Validates a request against the target's policy and returns the session it activates.
    public static func activate(id: String, requester: String, target: Target, reason: String, incident: String,
                                ttl: TimeInterval?, now: Date, drill: Bool = false) throws -> EmergencySession {
        let reason = try Validation.reason(reason)
        let incident = try Validation.incident(incident)
        let at = Timestamp.truncated(now)
        if drill {
            // A drill hands out a real credential while every page says "rehearsal": only where an admin enabled
            // drills, short, and never extended, so it cannot stand in for quiet real access.
            guard target.drillDeadline != nil else {
                throw BreakglassError(.forbidden, "drills_not_enabled",
                                      "drills are not enabled on \(target.name); an admin enables them with: breakglass admin set-target \(target.name) --drill-deadline 2m")
            }
            let cap = min(target.maxTTL, DrillPlan.maxCredentialTTL)
            let ttl = ttl ?? cap
            guard ttl > 0, ttl <= cap else {
                throw BreakglassError.invalid("ttl", "a drill's credential lasts at most \(TTL.format(cap)), not \(TTL.format(ttl))")
            }
            return EmergencySession(
                id: id, requester: requester, target: target.name, reason: reason, incident: incident, state: .active,
                activatedAt: at, expiresAt: at + ttl, hardLimit: at + ttl,
                retroDueAt: RetroWindow.opening(activatedAt: at, expiresAt: at + ttl, target: target, drill: true).dueAt, extensions: 0, drill: true)
        }
        let ttl = try checkTTL(ttl ?? target.maxTTL, target: target)
        return EmergencySession(
            id: id, requester: requester, target: target.name, reason: reason, incident: incident, state: .active,
            activatedAt: at, expiresAt: at + ttl, hardLimit: at + target.maxTotal,
            retroDueAt: RetroWindow.opening(activatedAt: at, expiresAt: at + ttl, target: target, drill: false).dueAt, extensions: 0, drill: drill)
    }

    /// State as of `now`: an active session past its expiry is expired even before the reaper records it.
    public func state(at now: Date) -> SessionState {
        state == .active && now >= expiresAt ? .expired : state
    }

    /// Adds `ttl` to the current expiry, refusing (not trimming) anything past the target's caps.
    public func extend(by ttl: TimeInterval, target: Target, now: Date) throws -> EmergencySession {
        try requireActive(now: now)
        guard !drill else {
            throw BreakglassError(.conflict, "drill_not_extendable", "\(id) is a drill: it is not extended; start another drill if the rehearsal needs more time")
        }
        let ttl = try Self.checkTTL(ttl, target: target)
        let newExpiry = expiresAt + ttl
        guard newExpiry <= hardLimit else {
            let left = max(0, hardLimit.timeIntervalSince(expiresAt))
            throw BreakglassError.invalid(
                "ttl", "extending by \(TTL.format(ttl)) would pass the target's total limit of \(TTL.format(target.maxTotal)); at most \(TTL.format(left)) remains")
        }
        var next = self
        next.expiresAt = newExpiry
        next.extensions += 1
        return next
    }

    public func end(by user: String, now: Date) throws -> EmergencySession {
        try close(.ended, by: user, reason: nil, now: now)
    }

    public func revoke(by user: String, reason: String, now: Date) throws -> EmergencySession {
        try close(.revoked, by: user, reason: Validation.reason(reason), now: now)
    }

    /// The broker closes a session whose credential it could not issue, naming the step that failed.
    public func fail(step: String, now: Date) throws -> EmergencySession {
        try close(.failed, by: "breakglassd", reason: "credential could not be issued: \(step) failed", now: now)
    }

    /// Records expiry, stamped at the moment it happened (not when the reaper noticed).
    public func expire(now: Date) -> EmergencySession? {
        guard state == .active, now >= expiresAt else { return nil }
        var next = self
        next.state = .expired
        next.closedAt = expiresAt
        return next
    }

    private func close(_ state: SessionState, by user: String, reason: String?, now: Date) throws -> EmergencySession {
        try requireActive(now: now)
        var next = self
        next.state = state
        next.closedAt = Timestamp.truncated(now)
        next.closedBy = user
        next.closeReason = reason
        return next
    }

    private func requireActive(now: Date) throws {
        let current = state(at: now)
        guard current == .active else { throw BreakglassError.sessionNotActive(id, state: current.rawValue) }
    }

    private static func checkTTL(_ ttl: TimeInterval, target: Target) throws -> TimeInterval {
        guard ttl >= 60 else { throw BreakglassError.invalid("ttl", "TTL must be at least 1m") }
        guard ttl <= target.maxTTL else {
            throw BreakglassError.invalid(
                "ttl", "TTL \(TTL.format(ttl)) exceeds the maximum of \(TTL.format(target.maxTTL)) for target \(target.name)")
        }
        return ttl
    }
}
