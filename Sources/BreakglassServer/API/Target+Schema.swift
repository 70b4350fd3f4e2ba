import BreakglassAPI
import BreakglassCore
import Foundation

extension Components.Schemas.Target {
    init(_ target: Target) {
        self.init(name: target.name, kind: .init(target.kind), audience: target.audience, maxTtl: target.maxTTL, maxTotal: target.maxTotal,
                  retroDeadline: target.retroDeadline, retroFrom: .init(target.retroFrom), requesters: target.requesters,
                  drillDeadline: target.drillDeadline, postgres: target.postgres.map { .init($0) })
    }
}

extension Components.Schemas.PostgresTarget {
    init(_ postgres: PostgresTarget) {
        self.init(host: postgres.host, port: postgres.port, database: postgres.database, tls: .init(postgres.tls),
                  managingRole: postgres.managingRole, grantRole: postgres.grantRole, connectionLimit: postgres.connectionLimit,
                  statementTimeout: postgres.statementTimeout, access: .init(postgres.access), redactParameters: postgres.redactParameters)
    }
}

// The core's enums and the contract's twins, both ways, each switch exhaustive: a case added on one side only is a
// compile error here rather than a value silently dropped or a 500 at run time.

extension Components.Schemas.CredentialKind {
    init(_ kind: CredentialKind) {
        switch kind {
        case .token: self = .token
        case .postgres: self = .postgres
        }
    }
}

extension CredentialKind {
    init(_ kind: Components.Schemas.CredentialKind) {
        switch kind {
        case .token: self = .token
        case .postgres: self = .postgres
        }
    }
}

extension Components.Schemas.RetroDeadlineBasis {
    init(_ basis: RetroDeadlineBasis) {
        switch basis {
        case .activation: self = .activation
        case .end: self = .end
        }
    }
}

extension RetroDeadlineBasis {
    init(_ basis: Components.Schemas.RetroDeadlineBasis) {
        switch basis {
        case .activation: self = .activation
        case .end: self = .end
        }
    }
}

extension Components.Schemas.PostgresTLSMode {
    init(_ mode: PostgresTLSMode) {
        switch mode {
        case .disable: self = .disable
        case .require: self = .require
        case .verifyFull: self = .verifyFull
        }
    }
}

extension PostgresTLSMode {
    init(_ mode: Components.Schemas.PostgresTLSMode) {
        switch mode {
        case .disable: self = .disable
        case .require: self = .require
        case .verifyFull: self = .verifyFull
        }
    }
}

extension Components.Schemas.PostgresAccessMode {
    init(_ mode: PostgresAccessMode) {
        switch mode {
        case .direct: self = .direct
        case .recorded: self = .recorded
        }
    }
}

extension PostgresAccessMode {
    init(_ mode: Components.Schemas.PostgresAccessMode) {
        switch mode {
        case .direct: self = .direct
        case .recorded: self = .recorded
        }
    }
}
