import Foundation

/// Breaking glass, decided before anything is written: the session, the retro obligation it opens, and what is
/// audited and paged whether the TOTP proof in between succeeds or not. The broker writes an accepted one with
/// its spent step in one statement (`tx.activations.record`), and signs the credential only after the commit.
public struct Activation: Sendable, Equatable {
    public var session: EmergencySession
    public var obligation: RetroObligation
    public var target: Target
    public var roles: [Role]
    public var origin: RequestOrigin
    public var now: Date

    /// Bad input (reason, incident, TTL, a drill where drills are off) is refused here, before a code is checked,
    /// so a typo neither spends nor counts a TOTP code.
    public static func decide(id: String, requester: String, roles: [Role], target: Target, reason: String, incident: String,
                              ttl: TimeInterval?, drill: Bool, ladder: EscalationLadder, origin: RequestOrigin, now: Date) throws -> Activation {
        let session = try EmergencySession.activate(id: id, requester: requester, target: target, reason: reason, incident: incident, ttl: ttl,
                                                    now: now, drill: drill)
        return Activation(session: session, obligation: .opened(for: session, target: target, ladder: ladder), target: target, roles: roles,
                          origin: origin, now: now)
    }

    /// Whether the requester is on the target's list; a refusal is audited as `denial("not_allowed")`.
    public var isAllowed: Bool { target.allows(user: session.requester, roles: roles) }

    /// The audit event of a refused request (`failure`: not_allowed, a TOTP failure code, account_locked…).
    public func denial(_ failure: String) -> AuditEvent {
        AuditEvent(type: .sessionDenied, outcome: .failure, at: now, actor: session.requester, actorRoles: roles, origin: origin,
                   target: target.name, sessionId: session.id, reason: session.reason, incident: session.incident,
                   details: ["failure": failure, "mfa": "totp"].merging(session.drillMark) { $1 })
    }

    /// The page of a request refused at the TOTP proof.
    public func denialPage(_ code: String) -> [String: String] {
        ["user": session.requester, "target": target.name, "failure": code, "incident": session.incident].merging(session.drillMark) { $1 }
    }

    public static let pageType = AuditEventType.sessionActivated.rawValue

    /// The audit event of the activation, naming the signing key the credential will carry.
    public func activated(keyId: String) -> AuditEvent {
        var event = AuditEvent(
            type: .sessionActivated, at: now, actor: session.requester, actorRoles: roles, origin: origin, target: target.name,
            sessionId: session.id, reason: session.reason, incident: session.incident,
            details: ["mfa": "totp", "mfa_outcome": "success", "credential_kind": target.kind.rawValue, "key_id": keyId,
                      "audience": target.audience, "expires_at": Timestamp.format(session.expiresAt),
                      "retro_due_at": Timestamp.format(session.retroDueAt), "ttl": TTL.format(session.expiresAt.timeIntervalSince(now))]
                .merging(session.drillMark) { $1 })
        // A drill is the evidence that the response plan was tested.
        if session.drill { event.controls = Array(Set(event.controls + DrillPlan.controls)).sorted() }
        return event
    }
}
