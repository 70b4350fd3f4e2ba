import Foundation

public enum CredentialKind: String, Codable, Sendable, CaseIterable {
    case token
    /// A temporary login role on a target PostgreSQL.
    case postgres
}

/// A resource engineers may break glass into, with the limits an admin set for it.
public struct Target: Codable, Equatable, Sendable {
    public var name: String
    public var kind: CredentialKind
    /// Token targets: the `aud` downstream services check.
    public var audience: String
    public var maxTTL: TimeInterval
    /// Cap on the whole session including every extension, measured from activation.
    public var maxTotal: TimeInterval
    /// Time after activation by which the retroactive pull request is owed.
    public var retroDeadline: TimeInterval
    /// Whether that deadline runs from activation or from the session's end.
    public var retroFrom: RetroDeadlineBasis
    /// Who may request: `role:NAME` or `user:NAME` entries.
    public var requesters: [String]
    /// The retro deadline of a drill on this target (nil: `DrillPlan.defaultDeadline`). The only deadline
    /// below an hour an admin may give a target: a rehearsal must run its whole ladder in minutes, a real
    /// session must leave the engineer time to write the PR.
    public var drillDeadline: TimeInterval?
    /// `postgres` targets: where and how the session's role is made (nil for other kinds).
    public var postgres: PostgresTarget?

    // Spelled so snake_case JSON ("max_ttl") round-trips through the standard key strategies.
    enum CodingKeys: String, CodingKey {
        case name, kind, audience, maxTTL = "maxTtl", maxTotal, retroDeadline, retroFrom, requesters, drillDeadline, postgres
    }

    public init(name: String, kind: CredentialKind, audience: String, maxTTL: TimeInterval, maxTotal: TimeInterval,
                retroDeadline: TimeInterval, retroFrom: RetroDeadlineBasis = .activation, requesters: [String],
                drillDeadline: TimeInterval? = nil, postgres: PostgresTarget? = nil) {
        self.name = name
        self.kind = kind
        self.audience = audience
        self.maxTTL = maxTTL
        self.maxTotal = maxTotal
        self.retroDeadline = retroDeadline
        self.retroFrom = retroFrom
        self.requesters = requesters
        self.drillDeadline = drillDeadline
        self.postgres = postgres
    }

    /// Checks an admin's target definition before it is stored.
    public func validated() throws -> Target {
        _ = try Validation.targetName(name)
        guard !audience.isEmpty, audience.count <= 200, !audience.contains(where: \.isWhitespace) else {
            throw BreakglassError.invalid("audience", "audience must be a non-empty string without spaces (at most 200 characters)")
        }
        guard maxTTL >= 60, maxTTL <= 24 * 3600 else {
            throw BreakglassError.invalid("max_ttl", "max TTL must be between 1m and 24h")
        }
        guard maxTotal >= maxTTL, maxTotal <= 7 * 24 * 3600 else {
            throw BreakglassError.invalid("max_total", "max total duration must be at least the max TTL and at most 7d")
        }
        guard retroDeadline >= 3600, retroDeadline <= 30 * 24 * 3600 else {
            throw BreakglassError.invalid("retro_deadline", "retro PR deadline must be between 1h and 30d")
        }
        if let drillDeadline, !DrillPlan.deadlines.contains(drillDeadline) {
            throw BreakglassError.invalid("drill_deadline", "a drill's retro PR deadline must be between 1m and 59m (real sessions keep at least 1h)")
        }
        switch kind {
        case .token:
            guard postgres == nil else { throw BreakglassError.invalid("kind", "PostgreSQL settings only apply to --kind postgres") }
        case .postgres:
            guard let postgres else {
                throw BreakglassError.invalid("pg_host", "a postgres target needs --pg-host, --pg-database, --managing-role and --grant-role")
            }
            _ = try postgres.validated()
        }
        guard !requesters.isEmpty else {
            throw BreakglassError.invalid("requesters", "name at least one requester (role:engineer or user:NAME)")
        }
        for entry in requesters {
            let parts = entry.split(separator: ":", maxSplits: 1).map(String.init)
            guard parts.count == 2 else {
                throw BreakglassError.invalid("requesters", "'\(entry)' must be role:NAME or user:NAME")
            }
            switch parts[0] {
            case "role":
                guard Role(rawValue: parts[1]) != nil else {
                    throw BreakglassError.invalid("requesters", "'\(entry)' names an unknown role")
                }
            case "user": _ = try Validation.userName(parts[1])
            default: throw BreakglassError.invalid("requesters", "'\(entry)' must be role:NAME or user:NAME")
            }
        }
        return self
    }

    public func allows(user: String, roles: [Role]) -> Bool {
        requesters.contains { entry in
            entry == "user:\(user)" || roles.contains { entry == "role:\($0.rawValue)" }
        }
    }
}
