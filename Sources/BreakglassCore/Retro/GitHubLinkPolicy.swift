import Foundation

/// Decides whether a pull request that names a session may link itself to that session's retro obligation.
/// A PR title is attacker-controlled text: anyone who can open a PR could otherwise stop an escalation. So a
/// PR links itself only when it comes from the engineer who broke glass, in a repository the operator
/// trusts, and not from a fork; anything else is kept as a candidate that compliance may accept.
public struct GitHubLinkPolicy: Sendable, Equatable {
    /// `owner/repo` or `owner/*`, compared case-insensitively. Empty: nothing links itself.
    public var repositories: [String]

    public init(repositories: [String]) { self.repositories = repositories }

    public enum Decision: Equatable, Sendable {
        case link
        case candidate(reason: String)
    }

    /// Parses `BREAKGLASS_GITHUB_REPOSITORIES`: comma- or space-separated `owner/repo` or `owner/*`.
    public static func parse(_ text: String) throws -> GitHubLinkPolicy {
        let entries = text.split(whereSeparator: { $0 == "," || $0.isWhitespace }).map { $0.lowercased() }
        for entry in entries {
            let parts = entry.split(separator: "/", omittingEmptySubsequences: false)
            let valid = parts.count == 2 && parts.allSatisfy { part in
                !part.isEmpty && part.count <= 100 && part.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "-_.".contains($0)) }
            } || (parts.count == 2 && parts[1] == "*" && !parts[0].isEmpty)
            guard valid else {
                throw BreakglassError.invalid("github_repositories", "'\(entry)' is not a repository such as acme/payments or acme/*")
            }
        }
        return GitHubLinkPolicy(repositories: entries)
    }

    public func allows(repository: String) -> Bool {
        let name = repository.lowercased()
        return repositories.contains { entry in
            if entry.hasSuffix("/*") { return name.hasPrefix(String(entry.dropLast())) && !name.dropFirst(entry.count - 1).contains("/") }
            return entry == name
        }
    }

    /// `requesterLogin` is the GitHub login an admin recorded for the engineer who broke glass; without one
    /// nothing links itself (a breakglass user name says nothing about who owns that name on GitHub).
    public func decide(action: String, pullRequest pr: GitHubWebhook.PullRequest, sender: String?, repository: String?,
                       requesterLogin: String?, requester: String) -> Decision {
        guard let requesterLogin else {
            return .candidate(reason: "no GitHub login is recorded for \(requester) (breakglass admin set-github \(requester) LOGIN)")
        }
        guard let repository = repository ?? pr.base?.repo?.fullName else {
            return .candidate(reason: "the delivery does not name its repository")
        }
        guard allows(repository: repository) else {
            return .candidate(reason: "repository \(repository) is not in BREAKGLASS_GITHUB_REPOSITORIES")
        }
        // A fork's branch lives in another repository (or in none, once the fork is deleted).
        guard let head = pr.head.repo, head.fullName.lowercased() == repository.lowercased() else {
            return .candidate(reason: "the pull request comes from a fork (\(pr.head.repo?.fullName ?? "deleted repository"))")
        }
        let login = requesterLogin.lowercased()
        guard pr.user.login.lowercased() == login || sender?.lowercased() == login else {
            return .candidate(reason: "opened by \(pr.user.login), not by the engineer who broke glass (\(requesterLogin))")
        }
        // Whoever edits a PR's text chooses what it names: an edit links only when the engineer made it.
        if action == "edited" && sender?.lowercased() != login {
            return .candidate(reason: "edited by \(sender ?? "someone else"), not by the engineer who broke glass (\(requesterLogin))")
        }
        return .link
    }
}
