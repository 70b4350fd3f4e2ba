import BreakglassCore
import Foundation
import PostgresNIO

/// What GitHub tells the broker: webhook deliveries, PR reviews, candidate retro PRs, and users' GitHub logins.
public struct GitHubRepository: Repository {
    let tx: Tx

    /// Claims a GitHub delivery id for this transaction; false when it was processed before (a redelivery).
    public func claimDelivery(id: String, event: String, now: Date) async throws -> Bool {
        !(try await query("""
            INSERT INTO github_deliveries (delivery_id, event, received_at, outcome)
            VALUES (\(id), \(event), \(now), \(GitHubDeliveryOutcome.processing.rawValue))
            ON CONFLICT DO NOTHING RETURNING delivery_id
            """).collect()).isEmpty
    }

    public func setDeliveryOutcome(id: String, outcome: GitHubDeliveryOutcome) async throws {
        try await execute("UPDATE github_deliveries SET outcome = \(outcome.rawValue) WHERE delivery_id = \(id)")
    }

    /// Keeps each reviewer's latest state on a PR; an older event arriving late does not overwrite a newer one,
    /// and a dismissed review stays dismissed whatever copy of it arrives later, also when the dismissal and the
    /// copy race on two instances (both are upserts on one row, and the row lock orders them). Returns false
    /// when the event changed nothing for those reasons.
    public func saveReview(prURL: String, reviewer: String, reviewId: Int64?, state: String, at: Date, now: Date) async throws -> Bool {
        if state == "dismissed" {
            if let reviewId {
                try await execute("""
                    INSERT INTO github_dismissed_reviews (review_id, pr_url, reviewer, dismissed_at) VALUES (\(reviewId), \(prURL), \(reviewer), \(now))
                    ON CONFLICT DO NOTHING
                    """)
            }
            // Dismisses the reviewer's recorded review when it is this one (or no newer one is recorded).
            try await execute("""
                INSERT INTO github_pr_reviews (pr_url, reviewer, state, submitted_at, review_id) VALUES (\(prURL), \(reviewer), 'dismissed', \(at), \(reviewId))
                ON CONFLICT (pr_url, reviewer) DO UPDATE SET state = 'dismissed', review_id = coalesce(EXCLUDED.review_id, github_pr_reviews.review_id)
                WHERE github_pr_reviews.review_id IS NOT DISTINCT FROM EXCLUDED.review_id OR github_pr_reviews.review_id IS NULL
                   OR github_pr_reviews.submitted_at <= EXCLUDED.submitted_at
                """)
            return true
        }
        if let reviewId {
            let dismissed = try await query("SELECT 1 FROM github_dismissed_reviews WHERE review_id = \(reviewId)").collect()
            guard dismissed.isEmpty else { return false }
        }
        let saved = try await query("""
            INSERT INTO github_pr_reviews (pr_url, reviewer, state, submitted_at, review_id) VALUES (\(prURL), \(reviewer), \(state), \(at), \(reviewId))
            ON CONFLICT (pr_url, reviewer) DO UPDATE SET state = EXCLUDED.state, submitted_at = EXCLUDED.submitted_at, review_id = EXCLUDED.review_id
            WHERE (github_pr_reviews.submitted_at < EXCLUDED.submitted_at
                   OR (github_pr_reviews.submitted_at = EXCLUDED.submitted_at AND github_pr_reviews.state <> 'dismissed'))
              AND NOT (github_pr_reviews.state = 'dismissed' AND github_pr_reviews.review_id IS NOT DISTINCT FROM EXCLUDED.review_id)
            RETURNING 1
            """).collect()
        return !saved.isEmpty
    }

    // MARK: candidate pull requests

    /// False when this PR was already recorded as a candidate for the session.
    public func recordCandidate(_ candidate: RetroCandidate) async throws -> Bool {
        !(try await query("""
            INSERT INTO retro_candidates (session_id, pr_url, pr_author, sender, repository, reason, received_at)
            VALUES (\(candidate.sessionId), \(candidate.prURL), \(candidate.prAuthor), \(candidate.sender), \(candidate.repository),
                    \(candidate.reason), \(candidate.receivedAt))
            ON CONFLICT (session_id, pr_url) DO NOTHING RETURNING 1
            """).collect()).isEmpty
    }

    public func candidates(sessionId: String) async throws -> [RetroCandidate] {
        var out: [RetroCandidate] = []
        for try await r in try await query("""
            SELECT session_id, pr_url, pr_author, sender, repository, reason, received_at, accepted_at, accepted_by
            FROM retro_candidates WHERE session_id = \(sessionId) ORDER BY received_at
            """).decode((String, String, String, String?, String?, String, Date, Date?, String?).self) {
            out.append(RetroCandidate(sessionId: r.0, prURL: r.1, prAuthor: r.2, sender: r.3, repository: r.4, reason: r.5, receivedAt: r.6,
                                      acceptedAt: r.7, acceptedBy: r.8))
        }
        return out
    }

    public func acceptCandidate(sessionId: String, prURL: String, by reviewer: String, now: Date) async throws -> Bool {
        !(try await query("""
            UPDATE retro_candidates SET accepted_at = \(now), accepted_by = \(reviewer)
            WHERE session_id = \(sessionId) AND pr_url = \(prURL) AND accepted_at IS NULL RETURNING 1
            """).collect()).isEmpty
    }

    public func approvers(prURL: String) async throws -> [String] {
        var out: [String] = []
        for try await login in try await query("""
            SELECT reviewer FROM github_pr_reviews WHERE pr_url = \(prURL) AND state = 'approved' ORDER BY reviewer
            """).decode(String.self) {
            out.append(login)
        }
        return out
    }

    /// False when another user already has that login.
    public func setLogin(userId: UUID, login: String?) async throws -> Bool {
        !(try await query("""
            UPDATE users SET github_login = \(login) WHERE id = \(userId)
              AND NOT EXISTS (SELECT 1 FROM users WHERE lower(github_login) = lower(\(login)) AND id <> \(userId))
            RETURNING id
            """).collect()).isEmpty
    }

    /// The GitHub login an admin recorded for a user, if any.
    public func mappedLogin(userName: String) async throws -> String? {
        var login: String?
        for try await value in try await query("SELECT github_login FROM users WHERE name = \(userName)").decode(String?.self) {
            login = value
        }
        return login
    }

    /// The GitHub account a user is known by: the one an admin recorded, else their breakglass name (for
    /// refusing a requester's own approvals, erring towards "not independent").
    public func login(userName: String) async throws -> String {
        var login = userName
        for try await value in try await query("SELECT coalesce(github_login, name) FROM users WHERE name = \(userName)").decode(String.self) {
            login = value
        }
        return login
    }
}
