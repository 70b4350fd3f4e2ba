import BreakglassAPI
import BreakglassCore
import BreakglassCredentials
import Foundation

/// The activation's answer, mapped field by field: it is on the hot path, where reading JSON back is not free.
extension Components.Schemas.SessionGrant {
    init(_ grant: SessionGrant) {
        let credential = grant.credential
        self.init(
            session: .init(grant.session),
            credential: .init(kind: .init(credential.kind), token: credential.token, audience: credential.audience, keyId: credential.keyId,
                              postgres: credential.postgres.map { .init($0) }, proxy: credential.proxy.map { .init($0) },
                              expiresAt: credential.expiresAt),
            pagesQueued: grant.pagesQueued)
    }
}

extension Components.Schemas.PostgresLogin {
    init(_ login: PostgresLogin) {
        self.init(user: login.user, password: login.password, host: login.host, port: login.port, database: login.database,
                  sslmode: login.sslmode)
    }
}

extension Components.Schemas.ProxyLogin {
    init(_ login: ProxyLogin) {
        self.init(user: login.user, password: login.password, host: login.host, port: login.port, database: login.database, tls: login.tls)
    }
}
