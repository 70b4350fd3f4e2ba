import Foundation

public enum AuditEventType: String, Codable, Sendable, CaseIterable {
    case userCreated = "user.created"
    case enrollmentIssued = "user.enrollment_issued"
    case userEnrolled = "user.enrolled"
    case enrollmentFailed = "user.enrollment_failed"
    case userLocked = "user.locked"
    case userUnlocked = "user.unlocked"
    case userUpdated = "user.updated"
    case targetSaved = "target.saved"
    case sessionActivated = "session.activated"
    case sessionDenied = "session.denied"
    case sessionExtended = "session.extended"
    case extensionDenied = "session.extension_denied"
    case sessionEnded = "session.ended"
    case sessionExpired = "session.expired"
    case sessionRevoked = "session.revoked"
    /// A statement a client sent through the recording proxy, committed before it was forwarded.
    case sessionStatement = "session.statement"
    /// What the target answered to a recorded statement.
    case sessionStatementResult = "session.statement_result"
    /// A client logged in through the recording proxy (its address, and the connection number its statements carry).
    case proxyConnected = "session.proxy_connected"
    /// That connection ended: by the client, the target, or the broker cutting it when the session closed.
    case proxyDisconnected = "session.proxy_disconnected"
    case auditExported = "audit.exported"
    case channelSaved = "notify.channel_saved"
    case channelDisabled = "notify.channel_disabled"
    case channelTested = "notify.channel_tested"
    case deliveryFailed = "notify.delivery_failed"
    case deliveryRedriven = "notify.delivery_redriven"
    case retroLinked = "retro.linked"
    case retroPRReviewed = "retro.pr_reviewed"
    case retroMerged = "retro.merged"
    case retroEscalated = "retro.escalated"
    case retroRungSkipped = "retro.rung_skipped"
    case retroDeadlineMoved = "retro.deadline_moved"
    case retroApproved = "retro.approved"
    case retroRejected = "retro.rejected"
    case retroWaived = "retro.waived"
    case retroReviewRefused = "retro.review_refused"
    case githubDeliveryRejected = "github.delivery_rejected"
    case evidenceExported = "evidence.exported"
    case webLogin = "compliance.web_login"
    case webLogout = "compliance.web_logout"
    case sessionViewed = "compliance.session_viewed"
    case adminStepUpDenied = "admin.step_up_denied"
    case tokenIssued = "user.token_issued"
    case tokenRevoked = "user.token_revoked"
    case auditVerified = "audit.verified"
    case githubDeliveriesRejected = "github.deliveries_rejected"
    case retroCandidateRecorded = "retro.candidate_recorded"
    case retroCandidateAccepted = "retro.candidate_accepted"
    case drillReportExported = "drill.report_exported"
    case credentialIssued = "credential.issued"
    case credentialIssueFailed = "credential.issue_failed"
    case credentialExtended = "credential.extended"
    case credentialExtendFailed = "credential.extend_failed"
    case credentialRevoked = "credential.revoked"
    case credentialRevokeFailed = "credential.revoke_failed"

    /// The compliance controls an event of this type evidences.
    public var controls: [String] {
        let accessGranted = ["SOC2:CC6.1", "SOC2:CC8.1", "PCI-DSS-4.0:10.2.1.2", "NIST-800-53:AC-2(2)", "NIST-800-53:CM-3", "ISO-27001-2022:A.8.32"]
        let accessRemoved = ["SOC2:CC6.1", "PCI-DSS-4.0:10.2.1.2", "NIST-800-53:AC-2(2)"]
        let failedAccess = ["SOC2:CC6.1", "PCI-DSS-4.0:10.2.1.4", "NIST-800-53:AC-2(2)"]
        let identity = ["SOC2:CC6.1", "PCI-DSS-4.0:10.2.1.5", "NIST-800-53:AC-2(2)"]
        // The retroactive PR stands in for the review the emergency change skipped.
        let changeDocumented = ["SOC2:CC8.1", "PCI-DSS-4.0:6.5.1", "NIST-800-53:CM-3", "ISO-27001-2022:A.8.32"]
        switch self {
        case .sessionActivated, .sessionExtended: return accessGranted
        case .sessionEnded, .sessionExpired, .sessionRevoked: return accessRemoved
        case .sessionDenied, .extensionDenied, .enrollmentFailed, .userLocked: return failedAccess
        case .userCreated, .enrollmentIssued, .userEnrolled, .userUnlocked, .userUpdated, .tokenIssued, .tokenRevoked: return identity
        case .adminStepUpDenied: return failedAccess
        case .targetSaved: return ["SOC2:CC8.1", "PCI-DSS-4.0:10.2.1.2", "NIST-800-53:CM-3", "ISO-27001-2022:A.8.32"]
        case .auditExported, .auditVerified, .sessionViewed: return ["SOC2:CC7.2", "PCI-DSS-4.0:10.2.1.3"]
        case .channelSaved, .channelDisabled, .channelTested, .deliveryFailed, .deliveryRedriven: return ["SOC2:CC7.2", "PCI-DSS-4.0:10.2.1.2"]
        case .retroLinked, .retroPRReviewed, .retroMerged, .retroCandidateRecorded, .retroCandidateAccepted: return changeDocumented
        case .retroApproved, .retroRejected, .retroWaived, .retroReviewRefused: return changeDocumented + ["NIST-800-53:AC-5"]
        case .retroEscalated, .retroRungSkipped, .retroDeadlineMoved: return ["SOC2:CC7.2", "SOC2:CC8.1", "NIST-800-53:CM-3"]
        case .githubDeliveryRejected, .githubDeliveriesRejected: return ["SOC2:CC7.2", "PCI-DSS-4.0:10.2.1.4"]
        case .evidenceExported: return ["SOC2:CC7.2", "PCI-DSS-4.0:10.2.1.3"]
        case .webLogin, .webLogout: return identity
        case .drillReportExported: return DrillPlan.controls
        case .credentialIssued, .credentialExtended: return accessGranted
        case .credentialRevoked: return accessRemoved
        // What was done with privileged access, statement by statement (PCI 10.2.1.2: all actions by administrative access).
        case .sessionStatement, .sessionStatementResult, .proxyConnected, .proxyDisconnected: return ["SOC2:CC7.2", "PCI-DSS-4.0:10.2.1.2", "NIST-800-53:AU-12"]
        case .credentialIssueFailed, .credentialExtendFailed, .credentialRevokeFailed: return accessRemoved + ["SOC2:CC7.2"]
        }
    }
}

public enum AuditOutcome: String, Codable, Sendable {
    case success, failure
}

/// Who did what, when, from where, to which resource and why. Never carries a secret.
public struct AuditEvent: Codable, Equatable, Sendable {
    public var type: AuditEventType
    public var outcome: AuditOutcome
    public var at: Date
    public var actor: String?
    public var actorRoles: [String]
    public var clientAddress: String?
    public var userAgent: String?
    public var target: String?
    public var sessionId: String?
    public var reason: String?
    public var incident: String?
    public var controls: [String]
    public var details: [String: String]

    public init(type: AuditEventType, outcome: AuditOutcome = .success, at: Date, actor: String?, actorRoles: [Role] = [],
                origin: RequestOrigin = .server, target: String? = nil, sessionId: String? = nil, reason: String? = nil,
                incident: String? = nil, details: [String: String] = [:]) {
        self.type = type
        self.outcome = outcome
        self.at = Timestamp.truncated(at)
        self.actor = actor
        self.actorRoles = actorRoles.map(\.rawValue)
        self.clientAddress = origin.address
        self.userAgent = origin.userAgent.map { String($0.prefix(200)) }
        self.target = target
        self.sessionId = sessionId
        self.reason = reason
        self.incident = incident
        self.controls = type.controls
        self.details = details
    }

    /// Events about a session share its shard so one session's proof is one chain segment.
    public var shardKey: String { sessionId ?? actor ?? "system" }
}

/// Where a request came from, as the audit log records it.
public struct RequestOrigin: Sendable, Equatable {
    public var address: String?
    public var userAgent: String?

    public init(address: String?, userAgent: String?) {
        self.address = address
        self.userAgent = userAgent
    }

    public static let server = RequestOrigin(address: "server", userAgent: "breakglassd")
}
