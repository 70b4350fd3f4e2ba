import BreakglassCore
import BreakglassStore
import Foundation

public struct GitHubDelivery: Sendable {
    public var event: String?
    public var deliveryId: String?
    public var signature: String?
    public var body: [UInt8]

    public init(event: String?, deliveryId: String?, signature: String?, body: [UInt8]) {
        self.event = event
        self.deliveryId = deliveryId
        self.signature = signature
        self.body = body
    }
}

public struct GitHubOutcome: Codable, Sendable {
    public var status: GitHubDeliveryOutcome
    public var sessions: [String]
}

extension Broker {
    /// Reconciles retro obligations with GitHub: a PR naming a session links itself, reviews are kept,
    /// and a merge records its commit, merger and approvers. Deliveries are verified before anything is
    /// read, and a redelivered id changes nothing.
    public func receiveGitHub(_ delivery: GitHubDelivery, origin: RequestOrigin) async throws -> GitHubOutcome {
        guard let secret = settings.githubWebhookSecret else {
            throw BreakglassError(.unavailable, "github_not_configured",
                                  "GitHub webhooks are not configured on this broker (set BREAKGLASS_GITHUB_WEBHOOK_SECRET)")
        }
        let now = clock.now()
        let deliveryId = delivery.deliveryId.map { String($0.prefix(100)) }
        let event = delivery.event.map { String($0.prefix(50)) } ?? "unknown"
        guard GitHubWebhook.isValid(signatureHeader: delivery.signature, secret: secret, body: delivery.body) else {
            // Counted in memory and audited as one aggregated event per interval (`flushHookRejections`): a flood
            // of forged deliveries must not turn into a flood of audit rows, each holding a connection and a lock.
            let missing = delivery.signature == nil
            await hookRejections.record(address: origin.address ?? "-", missingSignature: missing, at: now)
            let why = missing ? "missing X-Hub-Signature-256" : "X-Hub-Signature-256 does not match the body"
            throw BreakglassError(.unauthenticated, "bad_signature", "\(why); the delivery was refused")
        }
        guard let kind = GitHubEventKind(rawValue: event), kind != .ping else {
            return GitHubOutcome(status: event == GitHubEventKind.ping.rawValue ? .pong : .ignored, sessions: [])
        }
        guard let deliveryId, !deliveryId.isEmpty else {
            throw BreakglassError.invalid("x-github-delivery", "the X-GitHub-Delivery header is required")
        }
        let payload = try GitHubWebhook.decode(delivery.body)
        return try await database.transaction { tx in
            guard try await tx.github.claimDelivery(id: deliveryId, event: event, now: now) else {
                return GitHubOutcome(status: .duplicate, sessions: [])
            }
            var outcome = GitHubOutcome(status: .ignored, sessions: [])
            if let reconciliation = GitHubReconciliation(event: kind, payload: payload, deliveryId: deliveryId, origin: origin, now: now) {
                outcome = try await self.reconcile(reconciliation, tx: tx)
            }
            try await tx.github.setDeliveryOutcome(id: deliveryId, outcome: outcome.status)
            return outcome
        }
    }

    /// Load, decide (`GitHubReconciliation`), save: links, candidates, reviews and merges, in that order.
    private func reconcile(_ github: GitHubReconciliation, tx: Tx) async throws -> GitHubOutcome {
        var touched: [String] = []
        for id in github.sessionIdsToLink {
            guard let obligation = try await tx.retro.obligation(sessionId: id, forUpdate: true) else { continue }
            let login = github.needsRequesterLogin(obligation) ? try await tx.github.mappedLogin(userName: obligation.requester) : nil
            switch try github.step(for: obligation, policy: settings.githubLinkPolicy, requesterLogin: login) {
            case nil:
                continue
            case .recordAuthor(let updated):
                try await tx.retro.save(updated)
            case .candidate(let candidate, let event):
                if try await tx.github.recordCandidate(candidate) { try await tx.audit.append(event) }
            case .link(let linked, let details):
                try await recordLink(tx: tx, from: obligation, to: linked, actor: github.actor, roles: [], origin: github.origin, now: github.now,
                                     details: details)
            }
            touched.append(id)
        }

        if let review = github.review {
            let counted = try await tx.github.saveReview(prURL: github.url, reviewer: review.reviewer, reviewId: review.id, state: review.state,
                                                         at: review.submittedAt, now: github.now)
            let approvers = try await tx.github.approvers(prURL: github.url)
            for obligation in try await tx.retro.obligations(prURL: github.url) where !obligation.status.isSettled {
                let login = try await tx.github.login(userName: obligation.requester)
                let (updated, event) = github.reviewed(obligation, review: review, counted: counted, approvers: approvers, requesterLogin: login)
                try await tx.audit.append(event)
                try await tx.retro.save(updated)
                touched.append(obligation.sessionId)
            }
        }

        if github.isMerge {
            let approvers = try await tx.github.approvers(prURL: github.url)
            for obligation in try await tx.retro.obligations(prURL: github.url) where !obligation.status.isSettled {
                let login = try await tx.github.login(userName: obligation.requester)
                let (merged, event) = github.merged(obligation, approvers: approvers, requesterLogin: login)
                try await tx.retro.save(merged)
                try await tx.audit.append(event)
                touched.append(merged.sessionId)
            }
        }
        let (status, sessions) = GitHubReconciliation.outcome(touched: touched)
        return GitHubOutcome(status: status, sessions: sessions)
    }

    /// Writes the GitHub deliveries refused since the last flush as one audit event, once `rejectionAuditInterval`
    /// has passed since the first of them. Returns how many events it wrote (0 or 1).
    public func flushHookRejections(force: Bool = false) async throws -> Int {
        let now = clock.now()
        guard let batch = await hookRejections.take(now: now, interval: force ? 0 : settings.rejectionAuditInterval) else { return 0 }
        do {
            _ = try await database.transaction { tx in
                try await tx.audit.append(AuditEvent(
                    type: .githubDeliveriesRejected, outcome: .failure, at: now, actor: nil, origin: .server,
                    details: ["count": String(batch.count), "missing_signature": String(batch.missingSignature),
                              "bad_signature": String(batch.count - batch.missingSignature),
                              "first_at": Timestamp.format(batch.firstAt), "last_at": Timestamp.format(batch.lastAt),
                              "addresses": batch.topAddresses.map { "\($0.address)=\($0.count)" }.joined(separator: ","),
                              "distinct_addresses": String(batch.distinctAddresses)]))
            }
        } catch {
            // Not written: put the counts back so the next flush reports them.
            await hookRejections.restore(batch)
            throw error
        }
        logger.warning("GitHub deliveries refused (bad or missing signature)", metadata: [
            "github.rejected": "\(batch.count)", "github.addresses": "\(batch.distinctAddresses)"])
        return 1
    }
}
