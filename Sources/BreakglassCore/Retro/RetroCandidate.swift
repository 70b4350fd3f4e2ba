import Foundation

/// A pull request that names a session but was not allowed to link itself (see `GitHubLinkPolicy`):
/// compliance sees it and may accept it as the retro PR.
public struct RetroCandidate: Codable, Sendable, Equatable {
    public var sessionId: String
    public var prURL: String
    public var prAuthor: String
    public var sender: String?
    public var repository: String?
    public var reason: String
    public var receivedAt: Date
    public var acceptedAt: Date?
    public var acceptedBy: String?

    public init(sessionId: String, prURL: String, prAuthor: String, sender: String?, repository: String?, reason: String,
                receivedAt: Date, acceptedAt: Date? = nil, acceptedBy: String? = nil) {
        self.sessionId = sessionId
        self.prURL = prURL
        self.prAuthor = prAuthor
        self.sender = sender
        self.repository = repository
        self.reason = reason
        self.receivedAt = receivedAt
        self.acceptedAt = acceptedAt
        self.acceptedBy = acceptedBy
    }
}
