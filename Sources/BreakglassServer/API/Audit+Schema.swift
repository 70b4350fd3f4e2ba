import BreakglassAPI
import BreakglassCore
import Foundation

extension Components.Schemas.ChainHead {
    init(_ head: ChainHead) {
        self.init(shard: head.shard, seq: head.seq, hash: head.hash)
    }
}

extension ChainHead {
    /// A head a client saved earlier (`audit head`) and sends back to verify against.
    init(_ head: Components.Schemas.ChainHead) {
        self.init(shard: head.shard, seq: head.seq, hash: head.hash)
    }
}

extension Components.Schemas.AuditVerification {
    init(_ verification: AuditVerification) {
        self.init(intact: verification.intact, eventsChecked: verification.eventsChecked, firstBroken: verification.firstBroken.map { .init($0) },
                  problems: verification.problems.map { .init($0) }, heads: verification.heads.map { .init($0) })
    }
}

extension Components.Schemas.BrokenLink {
    init(_ link: BrokenLink) {
        self.init(eventId: link.eventId, shard: link.shard, seq: link.seq, problem: link.problem)
    }
}

extension Components.Schemas.AuditEventRecord {
    init(_ view: AuditEventView) {
        self.init(id: view.id, seq: view.seq, hash: view.hash, event: .init(view.event))
    }
}

extension Components.Schemas.AuditEvent {
    init(_ event: AuditEvent) {
        self.init(_type: event.type.rawValue, outcome: .init(event.outcome), at: event.at, actor: event.actor, actorRoles: event.actorRoles,
                  clientAddress: event.clientAddress, userAgent: event.userAgent, target: event.target, sessionId: event.sessionId,
                  reason: event.reason, incident: event.incident, controls: event.controls, details: .init(additionalProperties: event.details))
    }
}

extension Components.Schemas.AuditOutcome {
    init(_ outcome: AuditOutcome) {
        switch outcome {
        case .success: self = .success
        case .failure: self = .failure
        }
    }
}

extension Components.Schemas.ChainProof {
    init(_ proof: ChainProof) {
        self.init(shard: proof.shard, head: .init(proof.head),
                  links: proof.links.map { .init(seq: $0.seq, prevHash: $0.prevHash, hash: $0.hash, body: $0.body) })
    }
}
