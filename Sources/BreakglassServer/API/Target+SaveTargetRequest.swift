import BreakglassAPI
import BreakglassCore
import Foundation

extension Target {
    /// A target as an admin saves it: what the admin left out, the core fills in (`TargetDefaults`).
    init(_ name: String, _ body: Components.Schemas.SaveTargetRequest) throws {
        self = try .defaulted(
            name: name, kind: body.kind.flatMap { CredentialKind(rawValue: $0.rawValue) }, audience: body.audience,
            maxTTL: try parseDuration(body.maxTtl, field: "max_ttl")!, maxTotal: try parseDuration(body.maxTotal, field: "max_total"),
            retroDeadline: try parseDuration(body.retroDeadline, field: "retro_deadline"),
            retroFrom: body.retroFrom.flatMap { RetroDeadlineBasis(rawValue: $0.rawValue) }, requesters: body.requesters,
            drillDeadline: try parseDuration(body.drillDeadline, field: "drill_deadline"),
            postgres: {
                try .defaulted(host: body.pgHost, port: body.pgPort, database: body.pgDatabase,
                               tls: body.pgTls.flatMap { PostgresTLSMode(rawValue: $0.rawValue) }, managingRole: body.managingRole,
                               grantRole: body.grantRole, connectionLimit: body.connectionLimit,
                               statementTimeout: try parseDuration(body.statementTimeout, field: "statement_timeout"),
                               access: body.access.flatMap { PostgresAccessMode(rawValue: $0.rawValue) }, redactParameters: body.redactParameters)
            })
    }
}

extension Array where Element == Role {
    /// The contract lists the same three roles as the core.
    var schema: [Components.Schemas.Role] { compactMap { Components.Schemas.Role(rawValue: $0.rawValue) } }
}
