import BreakglassCore
import BreakglassStore
import Foundation

/// One session's evidence for an auditor, before it is sealed (`SealedDocument`).
public struct EvidencePackDocument: Encodable, Sendable {
    public var format = "breakglass-evidence/1"
    /// Said at the top, so nobody files a rehearsal as a real emergency change.
    public var drill: Bool
    public var notice: String?
    public var generatedAt: Date
    public var generatedBy: String
    public var issuer: String
    public var session: EmergencySession
    public var request: Request
    public var mfa: MFAFacts
    public var credential: CredentialFacts
    public var retro: RetroObligation
    public var escalations: [EscalationRecord]
    public var reviews: [ReviewRecord]
    public var pages: [DeliveryLogEntry]
    public var audit: AuditSection
    public var controls: [String]
    public var verification: String

    /// The request as the engineer made it.
    public struct Request: Encodable, Sendable {
        public var reason: String
        public var incident: String
        public var clientAddress: String?
        public var userAgent: String?
    }

    public struct AuditSection: Encodable, Sendable {
        public var events: [AuditEventView]
        public var proof: ChainProof
    }
}
