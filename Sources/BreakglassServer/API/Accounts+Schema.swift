import BreakglassAPI
import BreakglassCore
import BreakglassStore
import Foundation

extension Components.Schemas.EnrollmentCodeGrant {
    init(_ grant: EnrollmentCodeGrant) {
        self.init(user: grant.user, roles: grant.roles.map { .init($0) }, enrollmentCode: grant.enrollmentCode, expiresAt: grant.expiresAt)
    }
}

extension Components.Schemas.EnrollmentChallenge {
    init(_ challenge: EnrollmentChallenge) {
        self.init(user: challenge.user, secret: challenge.secret, otpauthUri: challenge.otpauthURI, algorithm: challenge.algorithm,
                  digits: challenge.digits, period: challenge.period)
    }
}

extension Components.Schemas.APITokenGrant {
    init(_ result: EnrollmentResult) {
        self.init(user: result.user, roles: result.roles.map { .init($0) }, apiToken: result.apiToken,
                  apiTokenExpiresAt: result.apiTokenExpiresAt)
    }

    init(_ result: LoginResult) {
        self.init(user: result.user, roles: result.roles.map { .init($0) }, apiToken: result.apiToken,
                  apiTokenExpiresAt: result.apiTokenExpiresAt)
    }
}

extension Components.Schemas.APIToken {
    init(_ token: APITokenRecord) {
        self.init(id: token.id, user: token.user, createdAt: token.createdAt, expiresAt: token.expiresAt, revokedAt: token.revokedAt,
                  revokedBy: token.revokedBy, issuedVia: .init(token.issuedVia))
    }
}

extension Components.Schemas.APITokenSource {
    init(_ issuance: TokenIssuance) {
        switch issuance {
        case .enrollment: self = .enrollment
        case .login: self = .login
        }
    }
}

extension Components.Schemas.Role {
    init(_ role: Role) {
        switch role {
        case .engineer: self = .engineer
        case .compliance: self = .compliance
        case .admin: self = .admin
        }
    }
}
