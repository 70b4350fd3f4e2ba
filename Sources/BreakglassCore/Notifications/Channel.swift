import Foundation

public enum ChannelKind: String, Codable, Sendable, CaseIterable {
    case slack, pagerduty, webhook
}

/// What an admin configures for a channel. The secret parts (URL path, routing key, signing secrets) are
/// stored encrypted; listings and logs show only `host`.
public struct ChannelConfig: Codable, Sendable, Equatable {
    public var url: String
    /// PagerDuty Events v2 integration key.
    public var routingKey: String?
    /// Standard Webhooks secrets (`whsec_…`); the first is current, the others are being rotated out.
    public var secrets: [String]

    public init(url: String, routingKey: String? = nil, secrets: [String] = []) {
        self.url = url
        self.routingKey = routingKey
        self.secrets = secrets
    }

    public var host: String { URLComponents(string: url)?.host ?? "invalid-host" }

    public func validated(kind: ChannelKind) throws -> ChannelConfig {
        guard let components = URLComponents(string: url), let scheme = components.scheme, ["http", "https"].contains(scheme),
              components.host?.isEmpty == false else {
            throw BreakglassError.invalid("url", "the channel URL must be an http(s) URL")
        }
        switch kind {
        case .slack:
            break
        case .pagerduty:
            guard let key = routingKey, key.count >= 8, key.count <= 64, key.allSatisfy({ $0.isLetter || $0.isNumber }) else {
                throw BreakglassError.invalid("routing_key", "a PagerDuty channel needs its 32-character integration (routing) key")
            }
        case .webhook:
            guard !secrets.isEmpty else {
                throw BreakglassError.invalid("secret", "a webhook channel needs a whsec_ signing secret (breakglass can generate one)")
            }
            for secret in secrets { _ = try StandardWebhook.secretBytes(secret) }
        }
        return self
    }
}

/// Which events a channel receives: event type patterns (`session.activated`, `session.*`, `*`) and,
/// optionally, only for some targets.
public struct ChannelRouting: Codable, Sendable, Equatable {
    public var events: [String]
    public var targets: [String]

    /// Default: every event, so compliance is paged on every activation without further setup.
    public static let everything = ChannelRouting(events: ["*"], targets: [])

    public init(events: [String], targets: [String]) {
        self.events = events
        self.targets = targets
    }

    public func matches(eventType: String, target: String?) -> Bool {
        let eventMatches = events.contains { pattern in
            pattern == "*" || pattern == eventType || (pattern.hasSuffix(".*") && eventType.hasPrefix(String(pattern.dropLast(1))))
        }
        guard eventMatches else { return false }
        guard !targets.isEmpty else { return true }
        // Events without a target (a lockout, a delivery failure) go to every channel that routes the event type.
        return target.map(targets.contains) ?? true
    }
}
