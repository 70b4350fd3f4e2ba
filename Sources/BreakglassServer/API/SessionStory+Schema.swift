import BreakglassAPI
import BreakglassCore
import Foundation

extension Components.Schemas.SessionStory {
    init(_ story: SessionStory) {
        self.init(session: .init(story.session), clientAddress: story.clientAddress, userAgent: story.userAgent, mfa: .init(story.mfa),
                  credential: .init(story.credential), retro: .init(story.retro), obligation: .init(story.obligation),
                  escalations: story.escalations.map { .init($0) }, reviews: story.reviews.map { .init($0) }, pages: story.pages.map { .init($0) },
                  events: story.events.map { .init($0) }, candidates: story.candidates.map { .init($0) })
    }
}

extension Components.Schemas.MFAFacts {
    init(_ mfa: MFAFacts) {
        self.init(method: mfa.method, outcome: mfa.outcome, deniedAttempts: mfa.deniedAttempts, extensionsProven: mfa.extensionsProven)
    }
}

extension Components.Schemas.CredentialFacts {
    init(_ credential: CredentialFacts) {
        self.init(kind: .init(credential.kind), keyId: credential.keyId, tokenId: credential.tokenId, audience: credential.audience,
                  expiresAt: credential.expiresAt)
    }
}
