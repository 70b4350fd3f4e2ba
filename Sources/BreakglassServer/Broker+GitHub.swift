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
    public var status: String
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
        switch event {
        case "ping": return GitHubOutcome(status: "pong", sessions: [])
        case "pull_request", "pull_request_review": break
        default: return GitHubOutcome(status: "ignored", sessions: [])
        }
        guard let deliveryId, !deliveryId.isEmpty else {
            throw BreakglassError.invalid("x-github-delivery", "the X-GitHub-Delivery header is required")
        }
        let payload = try GitHubWebhook.decode(delivery.body)
        return try await database.transaction { tx in
            guard try await tx.claimGitHubDelivery(id: deliveryId, event: event, now: now, outcome: "processing") else {
                return GitHubOutcome(status: "duplicate", sessions: [])
            }
            let outcome = try await self.reconcile(payload, event: event, deliveryId: deliveryId, tx: tx, origin: origin, now: now)
            try await tx.setGitHubDeliveryOutcome(id: deliveryId, outcome: outcome.status)
            return outcome
        }
    }

    private func reconcile(_ payload: GitHubWebhook.Event, event: String, deliveryId: String, tx: Tx, origin: RequestOrigin,
                           now: Date) async throws -> GitHubOutcome {
        let pr = payload.pullRequest
        guard let url = try? PullRequestLink.validate(pr.htmlUrl) else { return GitHubOutcome(status: "ignored", sessions: []) }
        let sender = "github:" + (payload.sender?.login ?? pr.user.login)
        var touched: [String] = []

        // Link every obligation the PR names that is still owed (or linked via the CLI to this same PR). A PR
        // closed without being merged links nothing.
        let open = ["opened", "edited", "reopened", "synchronize", "ready_for_review"].contains(payload.action) && pr.state != "closed"
        let linkable = event == "pull_request" && (open || (payload.action == "closed" && pr.merged == true))
        for id in linkable ? PullRequestLink.sessionIds(in: [pr.title, pr.body ?? "", pr.head.ref]) : [] {
            guard let obligation = try await tx.obligation(sessionId: id, forUpdate: true), !obligation.status.isSettled else { continue }
            if obligation.status == .linked {
                guard obligation.prURL == url else { continue }
                var updated = obligation
                updated.prAuthor = pr.user.login
                try await tx.saveObligation(updated)
                touched.append(id)
                continue
            }
            let requesterLogin = try await tx.mappedGitHubLogin(userName: obligation.requester)
            let decision = settings.githubLinkPolicy.decide(action: payload.action, pullRequest: pr, sender: payload.sender?.login,
                                                            repository: payload.repository?.fullName, requesterLogin: requesterLogin,
                                                            requester: obligation.requester)
            if case .candidate(let reason) = decision {
                let candidate = RetroCandidate(sessionId: id, prURL: url, prAuthor: pr.user.login, sender: payload.sender?.login,
                                               repository: payload.repository?.fullName, reason: reason, receivedAt: now)
                if try await tx.recordRetroCandidate(candidate) {
                    try await tx.appendAudit(AuditEvent(
                        type: .retroCandidateRecorded, outcome: .failure, at: now, actor: sender, origin: origin, target: obligation.target,
                        sessionId: id, details: ["pr_url": url, "pr_author": pr.user.login, "repository": candidate.repository ?? "",
                                                 "reason": reason, "github_delivery": deliveryId]))
                }
                touched.append(id)
                continue
            }
            var linked = try obligation.link(url: url, by: sender, source: .github, now: now)
            linked.prAuthor = pr.user.login
            try await recordLink(tx: tx, from: obligation, to: linked, actor: sender, roles: [], origin: origin, now: now,
                                 details: ["pr_number": String(pr.number), "pr_author": pr.user.login, "github_delivery": deliveryId,
                                           "repository": payload.repository?.fullName ?? ""])
            touched.append(id)
        }

        if event == "pull_request_review", let review = payload.review {
            let state = payload.action == "dismissed" ? "dismissed" : review.state.lowercased()
            let at = review.submittedAt.flatMap(Timestamp.parse) ?? now
            let counted = try await tx.saveGitHubReview(prURL: url, reviewer: review.user.login, reviewId: review.id, state: state, at: at, now: now)
            for obligation in try await tx.obligations(prURL: url) where !obligation.status.isSettled {
                var details = ["pr_url": url, "review_state": state, "reviewer": review.user.login, "github_delivery": deliveryId]
                if let id = review.id { details["review_id"] = String(id) }
                if !counted { details["ignored"] = "the review was dismissed, or a newer review by this reviewer is recorded" }
                try await tx.appendAudit(AuditEvent(
                    type: .retroPRReviewed, at: now, actor: "github:\(review.user.login)", origin: origin, target: obligation.target,
                    sessionId: obligation.sessionId, details: details))
                let (updated, _) = try await withApprovals(obligation, prAuthor: obligation.prAuthor ?? pr.user.login, tx: tx)
                try await tx.saveObligation(updated)
                touched.append(obligation.sessionId)
            }
        }

        if event == "pull_request", payload.action == "closed", pr.merged == true {
            for obligation in try await tx.obligations(prURL: url) where !obligation.status.isSettled {
                var (merged, independent) = try await withApprovals(obligation, prAuthor: pr.user.login, tx: tx)
                merged.mergedAt = pr.mergedAt.flatMap(Timestamp.parse) ?? Timestamp.truncated(now)
                merged.mergeCommit = pr.mergeCommitSha
                merged.mergedBy = pr.mergedBy?.login
                merged.prAuthor = pr.user.login
                try await tx.saveObligation(merged)
                let approvers = merged.prApprovers
                try await tx.appendAudit(AuditEvent(
                    type: .retroMerged, at: now, actor: merged.mergedBy.map { "github:\($0)" }, origin: origin, target: merged.target,
                    sessionId: merged.sessionId,
                    details: ["pr_url": url, "merge_commit": pr.mergeCommitSha ?? "", "merged_by": pr.mergedBy?.login ?? "",
                              "pr_author": pr.user.login, "approvers": approvers.joined(separator: ","),
                              "independent_approvers": independent.joined(separator: ","),
                              "separation_of_duties": Self.separationOfDuties(approvers: approvers, independent: independent),
                              "github_delivery": deliveryId]))
                touched.append(merged.sessionId)
            }
        }
        let unique = touched.reduce(into: [String]()) { if !$0.contains($1) { $0.append($1) } }
        return GitHubOutcome(status: unique.isEmpty ? "ignored" : "processed", sessions: unique)
    }

    /// The obligation with its PR's current approvals, and those that count as independent: approvals by
    /// the engineer who broke glass (under their GitHub login) or by the PR's author do not.
    private func withApprovals(_ obligation: RetroObligation, prAuthor: String, tx: Tx) async throws -> (RetroObligation, independent: [String]) {
        let approvers = try await tx.gitHubApprovers(prURL: obligation.prURL ?? "")
        let requesterLogin = try await tx.gitHubLogin(userName: obligation.requester).lowercased()
        let independent = approvers.filter { $0.lowercased() != requesterLogin && $0.lowercased() != prAuthor.lowercased() }
        var updated = obligation
        updated.prApprovers = approvers
        updated.independentApproval = !independent.isEmpty
        return (updated, independent)
    }

    static func separationOfDuties(approvers: [String], independent: [String]) -> String {
        if !independent.isEmpty { return "satisfied" }
        return approvers.isEmpty ? "not satisfied: no approving review" : "not satisfied: approved only by the engineer who broke glass"
    }

    /// Writes the GitHub deliveries refused since the last flush as one audit event, once `rejectionAuditInterval`
    /// has passed since the first of them. Returns how many events it wrote (0 or 1).
    public func flushHookRejections(force: Bool = false) async throws -> Int {
        let now = clock.now()
        guard let batch = await hookRejections.take(now: now, interval: force ? 0 : settings.rejectionAuditInterval) else { return 0 }
        do {
            _ = try await database.transaction { tx in
                try await tx.appendAudit(AuditEvent(
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
