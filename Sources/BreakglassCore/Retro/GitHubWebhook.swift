import Crypto
import Foundation

/// GitHub webhook deliveries: `X-Hub-Signature-256` is `sha256=` and the hex HMAC-SHA256 of the raw
/// body under the webhook's secret (docs.github.com, "Validating webhook deliveries").
public enum GitHubWebhook {
    public static func signature(secret: String, body: [UInt8]) -> String {
        let mac = HMAC<SHA256>.authenticationCode(for: body, using: SymmetricKey(data: Data(secret.utf8)))
        return "sha256=" + mac.hex
    }

    /// Compared in constant time; a missing or malformed header is simply not valid.
    public static func isValid(signatureHeader: String?, secret: String, body: [UInt8]) -> Bool {
        guard let header = signatureHeader?.trimmingCharacters(in: .whitespaces).lowercased(), header.hasPrefix("sha256="),
              let given = hexBytes(String(header.dropFirst(7))), given.count == 32 else { return false }
        return HMAC<SHA256>.isValidAuthenticationCode(given, authenticating: body, using: SymmetricKey(data: Data(secret.utf8)))
    }

    private static func hexBytes(_ text: String) -> [UInt8]? {
        guard text.count % 2 == 0 else { return nil }
        var out: [UInt8] = []
        var index = text.startIndex
        while index < text.endIndex {
            let next = text.index(index, offsetBy: 2)
            guard let byte = UInt8(text[index..<next], radix: 16) else { return nil }
            out.append(byte)
            index = next
        }
        return out
    }

    public struct Account: Decodable, Sendable, Equatable {
        public var login: String
    }

    public struct Repository: Decodable, Sendable, Equatable {
        public var fullName: String
        public var fork: Bool?
    }

    public struct Branch: Decodable, Sendable {
        public var ref: String
        /// The repository the branch lives in; null when a fork was deleted.
        public var repo: Repository?
    }

    public struct PullRequest: Decodable, Sendable {
        public var htmlUrl: String
        public var number: Int
        public var title: String
        public var body: String?
        /// "open" or "closed".
        public var state: String?
        public var head: Branch
        public var base: Branch?
        public var user: Account
        public var merged: Bool?
        public var mergedAt: String?
        public var mergeCommitSha: String?
        public var mergedBy: Account?
    }

    public struct Review: Decodable, Sendable {
        /// Stable across submit and dismiss, so a dismissal can be told apart from a late copy of the approval.
        public var id: Int64?
        public var state: String
        public var user: Account
        public var submittedAt: String?
    }

    /// The fields of `pull_request` and `pull_request_review` events the broker reads (snake_case JSON).
    public struct Event: Decodable, Sendable {
        public var action: String
        public var pullRequest: PullRequest
        public var review: Review?
        public var sender: Account?
        public var repository: Repository?
    }

    public static func decode(_ body: [UInt8]) throws -> Event {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        do {
            return try decoder.decode(Event.self, from: Data(body))
        } catch {
            throw BreakglassError.invalid("payload", "the GitHub payload is not a pull_request or pull_request_review event")
        }
    }
}
