import BreakglassAPI
import BreakglassCore
import Foundation

extension Target {
    /// A target as an admin saves it, with the defaults a missing field takes and the fields a `postgres` target
    /// cannot do without named.
    init(_ name: String, _ body: Components.Schemas.SaveTargetRequest) throws {
        let kind = CredentialKind(rawValue: body.kind?.rawValue ?? "token") ?? .token
        let maxTTL = try parseDuration(body.maxTtl, field: "max_ttl")!
        self.init(
            name: name, kind: kind, audience: body.audience ?? name, maxTTL: maxTTL,
            maxTotal: try parseDuration(body.maxTotal, field: "max_total") ?? maxTTL * 4,
            retroDeadline: try parseDuration(body.retroDeadline, field: "retro_deadline") ?? 24 * 3600,
            retroFrom: body.retroFrom.flatMap { RetroDeadlineBasis(rawValue: $0.rawValue) } ?? .activation,
            requesters: body.requesters ?? ["role:engineer"],
            drillDeadline: try parseDuration(body.drillDeadline, field: "drill_deadline"),
            postgres: kind == .postgres ? try PostgresTarget(body) : nil)
    }
}

extension PostgresTarget {
    init(_ body: Components.Schemas.SaveTargetRequest) throws {
        guard let host = body.pgHost else { throw BreakglassError.invalid("pg_host", "a postgres target needs pg_host (--pg-host)") }
        guard let database = body.pgDatabase else { throw BreakglassError.invalid("pg_database", "a postgres target needs pg_database (--pg-database)") }
        guard let managingRole = body.managingRole else {
            throw BreakglassError.invalid("managing_role", "a postgres target needs managing_role (--managing-role)")
        }
        guard let grantRole = body.grantRole else { throw BreakglassError.invalid("grant_role", "a postgres target needs grant_role (--grant-role)") }
        self.init(host: host, port: body.pgPort ?? 5432, database: database, tls: body.pgTls.flatMap { PostgresTLSMode(rawValue: $0.rawValue) },
                  managingRole: managingRole, grantRole: grantRole, connectionLimit: body.connectionLimit ?? 5,
                  statementTimeout: try parseDuration(body.statementTimeout, field: "statement_timeout"),
                  access: body.access.flatMap { PostgresAccessMode(rawValue: $0.rawValue) } ?? .recorded,
                  redactParameters: body.redactParameters ?? false)
    }
}

extension Array where Element == Role {
    /// The contract lists the same three roles as the core.
    var schema: [Components.Schemas.Role] { compactMap { Components.Schemas.Role(rawValue: $0.rawValue) } }
}
