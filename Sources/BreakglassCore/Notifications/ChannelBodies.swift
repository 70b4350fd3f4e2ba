import Foundation

/// Slack incoming-webhook body: Block Kit blocks and the plain-text fallback shown in notifications.
public struct SlackMessage: Encodable, Sendable, Equatable {
    public var text: String
    public var blocks: [SlackBlock]
}

/// The three Block Kit blocks a page uses; each encodes as Slack documents it (`type` first-class).
public enum SlackBlock: Encodable, Sendable, Equatable {
    case header(String)
    /// mrkdwn fields, at most 10 per section (Slack's limit).
    case section(fields: [String])
    /// mrkdwn elements.
    case context([String])

    private struct TextObject: Encodable {
        var type: String
        var text: String
        var emoji: Bool?
    }

    private enum Keys: String, CodingKey { case type, text, fields, elements }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: Keys.self)
        switch self {
        case .header(let text):
            try container.encode("header", forKey: .type)
            try container.encode(TextObject(type: "plain_text", text: text, emoji: true), forKey: .text)
        case .section(let fields):
            try container.encode("section", forKey: .type)
            try container.encode(fields.map { TextObject(type: "mrkdwn", text: $0) }, forKey: .fields)
        case .context(let elements):
            try container.encode("context", forKey: .type)
            try container.encode(elements.map { TextObject(type: "mrkdwn", text: $0) }, forKey: .elements)
        }
    }
}

/// PagerDuty Events API v2 body (`POST /v2/enqueue`). A resolve carries no payload.
public struct PagerDutyEvent: Encodable, Sendable, Equatable {
    public var routingKey: String
    public var eventAction: String
    public var dedupKey: String
    public var payload: Payload?

    public struct Payload: Encodable, Sendable, Equatable {
        public var summary: String
        public var source: String
        public var severity: Severity
        public var component: String
        public var eventClass: String
        public var customDetails: PageData

        enum CodingKeys: String, CodingKey {
            case summary, source, severity, component
            case eventClass = "class"
            case customDetails = "custom_details"
        }
    }

    enum CodingKeys: String, CodingKey {
        case routingKey = "routing_key", eventAction = "event_action", dedupKey = "dedup_key", payload
    }
}

/// Generic webhook body: `type`, `timestamp` and `data`, as Standard Webhooks recommends.
public struct WebhookPayload: Encodable, Sendable, Equatable {
    public var type: String
    public var timestamp: String
    public var data: PageData
}

/// A page's fields as a JSON object of strings, with `drill` a boolean so consumers filter rehearsals
/// with `data.drill == true`.
public struct PageData: Encodable, Sendable, Equatable {
    public var fields: [String: String]
    public var drill: Bool

    private struct Key: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: Key.self)
        for (key, value) in fields where !(drill && key == NotificationMessage.drillKey) {
            try container.encode(value, forKey: Key(stringValue: key))
        }
        if drill { try container.encode(true, forKey: Key(stringValue: NotificationMessage.drillKey)) }
    }
}
