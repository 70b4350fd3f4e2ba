import Foundation

/// The GitHub events the broker acts on (`X-GitHub-Event`); any other is acknowledged and ignored.
public enum GitHubEventKind: String, Sendable, CaseIterable {
    case ping
    case pullRequest = "pull_request"
    case pullRequestReview = "pull_request_review"
}

/// What a GitHub delivery came to (`github_deliveries.outcome`, and the answer GitHub is given).
public enum GitHubDeliveryOutcome: String, Codable, Sendable, CaseIterable {
    /// Claimed by this transaction and not finished yet.
    case processing
    case pong
    /// Verified, but about no obligation still open.
    case ignored
    /// A redelivered id: processed before, nothing changes.
    case duplicate
    case processed
}

/// How one verified `pull_request` or `pull_request_review` event changes retro obligations. The broker loads
/// what a step needs (the obligation, the requester's GitHub login, the PR's approvals), asks here, and saves
/// what comes back.
public struct GitHubReconciliation: Sendable {
    public let event: GitHubEventKind
    public let payload: GitHubWebhook.Event
    public let deliveryId: String
    /// The PR's URL in the form obligations store it.
    public let url: String
    public let origin: RequestOrigin
    public let now: Date

    /// Nil when the event names no pull request URL that could be a retro PR (nothing to reconcile).
    public init?(event: GitHubEventKind, payload: GitHubWebhook.Event, deliveryId: String, origin: RequestOrigin, now: Date) {
        guard let url = try? PullRequestLink.validate(payload.pullRequest.htmlUrl) else { return nil }
        self.event = event
        self.payload = payload
        self.deliveryId = deliveryId
        self.url = url
        self.origin = origin
        self.now = now
    }

    var pr: GitHubWebhook.PullRequest { payload.pullRequest }

    /// Who the audit log names as acting: the delivery's sender, else the PR's author.
    public var actor: String { "github:" + (payload.sender?.login ?? pr.user.login) }

    /// The sessions a `pull_request` event may link: those its title, body or branch name. A PR that is open (or
    /// merged) links; one closed without being merged links nothing.
    public var sessionIdsToLink: [String] {
        let open = ["opened", "edited", "reopened", "synchronize", "ready_for_review"].contains(payload.action) && pr.state != "closed"
        guard event == .pullRequest, open || isMerge else { return [] }
        return PullRequestLink.sessionIds(in: [pr.title, pr.body ?? "", pr.head.ref])
    }

    public var isMerge: Bool { event == .pullRequest && payload.action == "closed" && pr.merged == true }

    // MARK: linking

    public enum LinkStep: Sendable, Equatable {
        /// Already linked to this PR (from the CLI, or an earlier event): only its author is recorded.
        case recordAuthor(RetroObligation)
        /// The PR may not link itself (see `GitHubLinkPolicy`); the event is written only for a new candidate.
        case candidate(RetroCandidate, AuditEvent)
        /// Linked: save it with `details` on its `retro.linked` event.
        case link(RetroObligation, details: [String: String])
    }

    /// Whether `step(for:)` needs the requester's recorded GitHub login (only an owed obligation is decided by the policy).
    public func needsRequesterLogin(_ obligation: RetroObligation) -> Bool { obligation.status == .owed }

    /// What the PR does to one obligation it names; nil for nothing (settled, or linked to another PR).
    public func step(for obligation: RetroObligation, policy: GitHubLinkPolicy, requesterLogin: String?) throws -> LinkStep? {
        switch obligation.status {
        case .approved, .waived:
            return nil
        case .linked:
            guard obligation.prURL == url else { return nil }
            var updated = obligation
            updated.prAuthor = pr.user.login
            return .recordAuthor(updated)
        case .owed:
            let repository = payload.repository?.fullName
            let decision = policy.decide(action: payload.action, pullRequest: pr, sender: payload.sender?.login, repository: repository,
                                         requesterLogin: requesterLogin, requester: obligation.requester)
            if case .candidate(let reason) = decision {
                let candidate = RetroCandidate(sessionId: obligation.sessionId, prURL: url, prAuthor: pr.user.login, sender: payload.sender?.login,
                                               repository: repository, reason: reason, receivedAt: now)
                let event = AuditEvent(
                    type: .retroCandidateRecorded, outcome: .failure, at: now, actor: actor, origin: origin, target: obligation.target,
                    sessionId: obligation.sessionId,
                    details: ["pr_url": url, "pr_author": pr.user.login, "repository": repository ?? "", "reason": reason, "github_delivery": deliveryId])
                return .candidate(candidate, event)
            }
            var linked = try obligation.link(url: url, by: actor, source: .github, now: now)
            linked.prAuthor = pr.user.login
            return .link(linked, details: ["pr_number": String(pr.number), "pr_author": pr.user.login, "github_delivery": deliveryId,
                                           "repository": repository ?? ""])
        }
    }

    // MARK: reviews

    /// A review as it is kept: a dismissal recorded as such, any other state as GitHub spells it, lower-cased.
    public struct Review: Sendable, Equatable {
        public var reviewer: String
        public var id: Int64?
        public var state: String
        public var submittedAt: Date
    }

    /// The review of a `pull_request_review` event; nil for any other event.
    public var review: Review? {
        guard event == .pullRequestReview, let review = payload.review else { return nil }
        return Review(reviewer: review.user.login, id: review.id,
                      state: payload.action == "dismissed" ? "dismissed" : review.state.lowercased(),
                      submittedAt: review.submittedAt.flatMap(Timestamp.parse) ?? now)
    }

    /// One open obligation on the reviewed PR after the review, with its audit event. `counted` false: the review
    /// changed nothing (dismissed, or older than one recorded), and the event says so.
    public func reviewed(_ obligation: RetroObligation, review: Review, counted: Bool, approvers: [String],
                         requesterLogin: String) -> (RetroObligation, AuditEvent) {
        var details = ["pr_url": url, "review_state": review.state, "reviewer": review.reviewer, "github_delivery": deliveryId]
        if let id = review.id { details["review_id"] = String(id) }
        if !counted { details["ignored"] = "the review was dismissed, or a newer review by this reviewer is recorded" }
        let event = AuditEvent(type: .retroPRReviewed, at: now, actor: "github:\(review.reviewer)", origin: origin, target: obligation.target,
                               sessionId: obligation.sessionId, details: details)
        let (updated, _) = obligation.withApprovals(approvers, requesterLogin: requesterLogin, prAuthor: obligation.prAuthor ?? pr.user.login)
        return (updated, event)
    }

    // MARK: merges

    /// One open obligation on the merged PR: its merge commit, merger and approvals recorded, with the audit event
    /// saying whether someone other than the engineer who broke glass approved.
    public func merged(_ obligation: RetroObligation, approvers: [String], requesterLogin: String) -> (RetroObligation, AuditEvent) {
        var (merged, independent) = obligation.withApprovals(approvers, requesterLogin: requesterLogin, prAuthor: pr.user.login)
        merged.mergedAt = pr.mergedAt.flatMap(Timestamp.parse) ?? Timestamp.truncated(now)
        merged.mergeCommit = pr.mergeCommitSha
        merged.mergedBy = pr.mergedBy?.login
        merged.prAuthor = pr.user.login
        let event = AuditEvent(
            type: .retroMerged, at: now, actor: merged.mergedBy.map { "github:\($0)" }, origin: origin, target: merged.target,
            sessionId: merged.sessionId,
            details: ["pr_url": url, "merge_commit": pr.mergeCommitSha ?? "", "merged_by": pr.mergedBy?.login ?? "",
                      "pr_author": pr.user.login, "approvers": approvers.joined(separator: ","),
                      "independent_approvers": independent.joined(separator: ","),
                      "separation_of_duties": SeparationOfDuties.mergeVerdict(approvers: approvers, independent: independent),
                      "github_delivery": deliveryId])
        return (merged, event)
    }

    /// The answer to GitHub: the sessions touched, each once, in the order they were.
    public static func outcome(touched: [String]) -> (GitHubDeliveryOutcome, sessions: [String]) {
        let unique = touched.reduce(into: [String]()) { if !$0.contains($1) { $0.append($1) } }
        return (unique.isEmpty ? .ignored : .processed, unique)
    }
}
