import BreakglassAPI
import BreakglassCore
import BreakglassStore
import Foundation

extension Components.Schemas.EmergencySession {
    init(_ session: EmergencySession) {
        self.init(id: session.id, requester: session.requester, target: session.target, reason: session.reason, incident: session.incident,
                  state: .init(session.state), activatedAt: session.activatedAt, expiresAt: session.expiresAt, hardLimit: session.hardLimit,
                  retroDueAt: session.retroDueAt, extensions: session.extensions, closedAt: session.closedAt, closedBy: session.closedBy,
                  closeReason: session.closeReason, drill: session.drill)
    }
}

extension Components.Schemas.SessionState {
    /// Exhaustive, so a state the core gains and the contract lacks is a compile error, not a 500 at run time.
    init(_ state: SessionState) {
        switch state {
        case .active: self = .active
        case .expired: self = .expired
        case .ended: self = .ended
        case .revoked: self = .revoked
        case .failed: self = .failed
        }
    }
}

extension Components.Schemas.RevokedToken {
    init(_ token: RevokedToken) {
        self.init(jti: token.jti, exp: token.exp, state: .init(token.state), revokedAt: token.revokedAt)
    }
}
