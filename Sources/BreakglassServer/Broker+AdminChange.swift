import BreakglassCore
import BreakglassStore
import Foundation

/// What an admin change pages (event type `admin.*`) and says. Never a secret.
struct AdminPage: Sendable {
    var type: String
    var payload: [String: String]
}

extension Broker {
    /// The actor name recorded for `breakglassd admin …` run on the broker's host (no API token involved).
    static let hostOperator = "breakglassd-admin"

    /// Runs one admin change. A stolen API token alone must not be enough: the admin proves a fresh TOTP code
    /// through the same one-code-once gate and lockout as breaking glass (a failed proof is audited, counted
    /// and paged). The change is paged as `admin.*` through the channels as they were before it, in the same
    /// transaction as the change and its audit event. `actor` nil is the host bootstrap, which has shell
    /// access to the broker already; it is paged too.
    func adminChange<T: Sendable>(actor: AuthUser?, totp: String?, action: String, origin: RequestOrigin,
                                  _ change: @escaping @Sendable (Tx, Date) async throws -> (T, AdminPage)) async throws -> T {
        if let actor {
            try actor.require(.admin, to: action)
            try Role.requireSeparated(actor.roles, allowAdminCompliance: settings.allowAdminCompliance)
        }
        if actor != nil && (totp ?? "").isEmpty {
            throw BreakglassError(.invalidInput, "totp_required",
                                  "admin changes need a fresh TOTP code (JSON field 'totp'; the CLI asks for it, or takes --totp)")
        }
        let now = clock.now()
        return try await database.transactionCommittingRefusal { tx in
            let before = try await tx.channels.list()
            if let actor, let totp {
                guard let user = try await tx.users.find(id: actor.id, forUpdate: true) else { throw BreakglassError.unauthenticated }
                func denial(_ failure: String) -> AuditEvent {
                    AuditEvent(type: .adminStepUpDenied, outcome: .failure, at: now, actor: user.name, actorRoles: user.roles, origin: origin,
                               details: ["action": action, "failure": failure, "mfa": "totp"])
                }
                if case .refused(let error, let event) = try await prove(totp: totp, user: user, tx: tx, now: now, denial: denial) {
                    try await tx.audit.append(event)
                    try await tx.outbox.enqueueAdmin(type: "admin.step_up_denied", payload: [
                        "user": user.name, "action": action, "failure": error.code, "client_address": origin.address ?? "-",
                    ], now: now, channelsBefore: before)
                    return .refused(error)
                }
            }
            let (result, page) = try await change(tx, now)
            var payload = page.payload
            payload["actor"] = actor?.name ?? Self.hostOperator
            payload["mfa"] = actor == nil ? "host shell" : "totp"
            payload["client_address"] = origin.address ?? "-"
            try await tx.outbox.enqueueAdmin(type: page.type, payload: payload, now: now, channelsBefore: before)
            return .done(result)
        }
    }
}
