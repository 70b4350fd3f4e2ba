import BreakglassAPI
import BreakglassCore
import Foundation

/// The activation's answer, mapped field by field: it is on the hot path, where reading JSON back is not free.
extension Components.Schemas.SessionGrant {
    init(_ grant: SessionGrant) throws {
        let credential = grant.credential
        self.init(
            session: try .init(grant.session),
            credential: .init(kind: try SchemaBridge.value(credential.kind.rawValue), token: credential.token, audience: credential.audience,
                              keyId: credential.keyId, postgres: try credential.postgres.map { try SchemaBridge.schema($0) },
                              proxy: try credential.proxy.map { try SchemaBridge.schema($0) }, expiresAt: credential.expiresAt),
            pagesQueued: grant.pagesQueued)
    }
}

extension Components.Schemas.EmergencySession {
    init(_ session: EmergencySession) throws {
        self.init(id: session.id, requester: session.requester, target: session.target, reason: session.reason, incident: session.incident,
                  state: try SchemaBridge.value(session.state.rawValue), activatedAt: session.activatedAt, expiresAt: session.expiresAt,
                  hardLimit: session.hardLimit, retroDueAt: session.retroDueAt, extensions: session.extensions, closedAt: session.closedAt,
                  closedBy: session.closedBy, closeReason: session.closeReason, drill: session.drill)
    }
}
