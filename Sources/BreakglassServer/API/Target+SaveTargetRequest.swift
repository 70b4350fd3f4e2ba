import BreakglassAPI
import BreakglassCore
import Foundation

extension Target {
    /// A target as an admin saves it: what the admin left out, the core fills in (`TargetDefaults`).
    init(_ name: String, _ body: Components.Schemas.SaveTargetRequest) throws {
        self = try .defaulted(
            name: name, kind: body.kind.map(CredentialKind.init), audience: body.audience,
            maxTTL: try parseDuration(body.maxTtl, field: "max_ttl")!, maxTotal: try parseDuration(body.maxTotal, field: "max_total"),
            retroDeadline: try parseDuration(body.retroDeadline, field: "retro_deadline"),
            retroFrom: body.retroFrom.map(RetroDeadlineBasis.init), requesters: body.requesters,
            drillDeadline: try parseDuration(body.drillDeadline, field: "drill_deadline"),
            postgres: {
                try .defaulted(host: body.pgHost, port: body.pgPort, database: body.pgDatabase,
                               tls: body.pgTls.map(PostgresTLSMode.init), managingRole: body.managingRole,
                               grantRole: body.grantRole, connectionLimit: body.connectionLimit,
                               statementTimeout: try parseDuration(body.statementTimeout, field: "statement_timeout"),
                               access: body.access.map(PostgresAccessMode.init), redactParameters: body.redactParameters)
            })
    }
}
