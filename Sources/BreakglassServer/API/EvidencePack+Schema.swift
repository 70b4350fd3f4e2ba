import BreakglassAPI
import BreakglassCore
import Foundation

/// Field by field, and every field: the seal covers the document as the broker wrote it, so a member left out
/// here would break `verify-evidence` for every pack.
extension Components.Schemas.EvidencePack {
    init(_ sealed: SealedDocument<EvidencePackDocument>) {
        let pack = sealed.document
        self.init(format: pack.format, drill: pack.drill, notice: pack.notice, generatedAt: pack.generatedAt, generatedBy: pack.generatedBy,
                  issuer: pack.issuer, session: .init(pack.session),
                  request: .init(reason: pack.request.reason, incident: pack.request.incident, clientAddress: pack.request.clientAddress,
                                 userAgent: pack.request.userAgent),
                  mfa: .init(pack.mfa), credential: .init(pack.credential), retro: .init(pack.retro), escalations: pack.escalations.map { .init($0) },
                  reviews: pack.reviews.map { .init($0) }, pages: pack.pages.map { .init($0) },
                  audit: .init(events: pack.audit.events.map { .init($0) }, proof: .init(pack.audit.proof)), controls: pack.controls,
                  verification: pack.verification, packSha256: sealed.packSha256)
    }
}
