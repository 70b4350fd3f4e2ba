import Foundation

/// What a target gets for every setting an admin leaves out, decided in one place (the API and the CLI's help
/// say the same).
public enum TargetDefaults {
    /// Four extensions' worth of the max TTL in total.
    public static let maxTotalPerMaxTTL = 4.0
    public static let retroDeadline: TimeInterval = 24 * 3600
    /// Every engineer may break glass into a new target unless the admin names who.
    public static let requesters = ["role:engineer"]
    public static let postgresPort = 5432
    public static let connectionLimit = 5
    /// Statements are recorded unless the admin chooses direct access.
    public static let access = PostgresAccessMode.recorded
}

extension Target {
    /// A target from what an admin gave: a token target by default, its own name as audience, drills off.
    /// `postgres` is read only for a `postgres` target. Not yet validated (`validated()`).
    public static func defaulted(name: String, kind: CredentialKind?, audience: String?, maxTTL: TimeInterval, maxTotal: TimeInterval?,
                                 retroDeadline: TimeInterval?, retroFrom: RetroDeadlineBasis?, requesters: [String]?, drillDeadline: TimeInterval?,
                                 postgres: () throws -> PostgresTarget) throws -> Target {
        let kind = kind ?? .token
        return Target(name: name, kind: kind, audience: audience ?? name, maxTTL: maxTTL, maxTotal: maxTotal ?? maxTTL * TargetDefaults.maxTotalPerMaxTTL,
                      retroDeadline: retroDeadline ?? TargetDefaults.retroDeadline, retroFrom: retroFrom ?? .activation,
                      requesters: requesters ?? TargetDefaults.requesters, drillDeadline: drillDeadline,
                      postgres: kind == .postgres ? try postgres() : nil)
    }
}

extension PostgresTarget {
    /// A `postgres` target's settings from what an admin gave. Host, database, managing role and grant role have
    /// no default: a missing one is refused, naming it. TLS defaults by host (`defaultTLS`).
    public static func defaulted(host: String?, port: Int?, database: String?, tls: PostgresTLSMode?, managingRole: String?, grantRole: String?,
                                 connectionLimit: Int?, statementTimeout: TimeInterval?, access: PostgresAccessMode?,
                                 redactParameters: Bool?) throws -> PostgresTarget {
        guard let host else { throw BreakglassError.invalid("pg_host", "a postgres target needs pg_host (--pg-host)") }
        guard let database else { throw BreakglassError.invalid("pg_database", "a postgres target needs pg_database (--pg-database)") }
        guard let managingRole else { throw BreakglassError.invalid("managing_role", "a postgres target needs managing_role (--managing-role)") }
        guard let grantRole else { throw BreakglassError.invalid("grant_role", "a postgres target needs grant_role (--grant-role)") }
        return PostgresTarget(host: host, port: port ?? TargetDefaults.postgresPort, database: database, tls: tls, managingRole: managingRole,
                              grantRole: grantRole, connectionLimit: connectionLimit ?? TargetDefaults.connectionLimit,
                              statementTimeout: statementTimeout, access: access ?? TargetDefaults.access, redactParameters: redactParameters ?? false)
    }
}
