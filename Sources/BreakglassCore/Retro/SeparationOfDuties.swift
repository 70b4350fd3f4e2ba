import Foundation

/// Who may decide what about an emergency change. The engineer who broke glass never signs off their own
/// change, nor does whoever created their account; on GitHub, only someone else's approval counts.
public enum SeparationOfDuties {
    /// Whose retro PR an account may link: its own, or (for an admin, as an admin change) anyone's.
    public enum LinkRight: Equatable, Sendable {
        case own
        /// Linking stops someone else's escalation: a fresh TOTP code, and paged.
        case adminChange
    }

    /// Engineers do not learn that someone else's session exists; admins and compliance see every session,
    /// and of those only admins link for someone else.
    public static func linkRight(actor: String, roles: [Role], requester: String, sessionId: String) throws -> LinkRight {
        if requester == actor { return .own }
        guard roles.contains(.admin) || roles.contains(.compliance) else { throw BreakglassError.sessionUnknown(sessionId) }
        guard roles.contains(.admin) else {
            throw BreakglassError.forbidden("only the engineer who broke glass in \(sessionId), or an admin, may link its retro PR")
        }
        return .adminChange
    }

    /// Checks a compliance decision (`decision`: approve, reject, waive, accept_candidate) on `obligation`. A
    /// refusal comes back with the audit event recording it, which the caller commits before refusing.
    public static func refusal(reviewer: String, roles: [Role], of obligation: RetroObligation, requesterCreatedBy creator: String?,
                               decision: String, origin: RequestOrigin, now: Date, details: [String: String] = [:]) -> (BreakglassError, AuditEvent)? {
        do {
            try obligation.checkReviewer(reviewer, requesterCreatedBy: creator)
            return nil
        } catch {
            let event = AuditEvent(
                type: .retroReviewRefused, outcome: .failure, at: now, actor: reviewer, actorRoles: roles, origin: origin, target: obligation.target,
                sessionId: obligation.sessionId,
                details: details.merging(["decision": decision, "failure": error.code, "requester": obligation.requester]) { $1 })
            return (error, event)
        }
    }

    /// The approvals that count as independent: not by the engineer who broke glass (`requesterLogin`, their
    /// GitHub login or else their breakglass name) and not by the PR's author. Logins compare case-insensitively.
    public static func independentApprovers(_ approvers: [String], requesterLogin: String, prAuthor: String) -> [String] {
        let requester = requesterLogin.lowercased(), author = prAuthor.lowercased()
        return approvers.filter { $0.lowercased() != requester && $0.lowercased() != author }
    }

    /// What a merge's audit event says about its approvals.
    public static func mergeVerdict(approvers: [String], independent: [String]) -> String {
        if !independent.isEmpty { return "satisfied" }
        return approvers.isEmpty ? "not satisfied: no approving review" : "not satisfied: approved only by the engineer who broke glass"
    }
}

extension RetroObligation {
    /// The obligation with its PR's current approvals, and those of them that are independent.
    public func withApprovals(_ approvers: [String], requesterLogin: String, prAuthor: String) -> (RetroObligation, independent: [String]) {
        let independent = SeparationOfDuties.independentApprovers(approvers, requesterLogin: requesterLogin, prAuthor: prAuthor)
        var updated = self
        updated.prApprovers = approvers
        updated.independentApproval = !independent.isEmpty
        return (updated, independent)
    }
}
