import Foundation

/// One page to send: an outbox message as every channel kind renders it.
public struct NotificationMessage: Sendable, Equatable {
    /// Stable across retries and instances: the Standard Webhooks `webhook-id`.
    public var id: String
    public var type: String
    public var sessionId: String?
    public var payload: [String: String]
    public var createdAt: Date

    public init(id: String, type: String, sessionId: String?, payload: [String: String], createdAt: Date) {
        self.id = id
        self.type = type
        self.sessionId = sessionId
        self.payload = payload
        self.createdAt = createdAt
    }

    /// The payload member that marks every page of a drill session (set when the page is queued).
    public static let drillKey = "drill"

    /// A page of a drill: every rendering says so, so nobody mistakes a rehearsal for an incident.
    public var isDrill: Bool { payload[Self.drillKey] == "true" }

    public var title: String { isDrill ? "[DRILL] " + eventTitle : eventTitle }

    private var eventTitle: String {
        let who = payload["user"] ?? "someone"
        let target = payload["target"] ?? "-"
        switch type {
        case "session.activated": return "🚨 Break-glass: \(who) activated emergency access to \(target)"
        case "session.denied": return "⛔ Break-glass request denied: \(who) on \(target) (\(payload["failure"] ?? "refused"))"
        case "session.extended": return "⏱ Break-glass session extended: \(who) on \(target)"
        case "session.ended": return "✅ Break-glass session ended: \(who) on \(target)"
        case "session.expired": return "⌛ Break-glass session expired: \(who) on \(target)"
        case "session.revoked": return "🛑 Break-glass session revoked: \(who) on \(target)"
        case "user.locked": return "🔒 Account locked after failed TOTP codes: \(who)"
        case "delivery.failed": return "📭 A breakglass page could not be delivered to \(payload["channel"] ?? "a channel")"
        case "notify.test": return "🔔 breakglass test message for \(payload["channel"] ?? "this channel")"
        case "retro.linked": return "🔗 Retro PR linked: \(who) on \(target)"
        case "retro.approved": return "✅ Retro PR approved: \(who) on \(target)"
        case "retro.rejected": return "↩️ Retro PR rejected, owed again: \(who) on \(target)"
        case "retro.waived": return "☑️ Retro PR waived by compliance: \(who) on \(target)"
        case "user.token_revoked": return "🔑 API token \(payload["token_id"] ?? "") of \(who) revoked by its owner"
        case "credential.issue_failed": return "❌ Break-glass credential could not be issued: \(who) on \(target); the session was closed"
        case "credential.revoke_failed":
            return "🚨 Break-glass credential of \(who) could not be removed from \(target) (\(payload["failed_step"] ?? "revoke") failed); retried until removed"
        case "admin.step_up_denied": return "🔐 Admin change refused: \(who) failed the TOTP step-up to \(payload["action"] ?? "change settings")"
        default:
            if type.hasPrefix("admin.") {
                let what = type.dropFirst("admin.".count).replacingOccurrences(of: "_", with: " ")
                let subject = payload["channel"] ?? payload["target"] ?? payload["user"] ?? ""
                return "🛡 Admin change by \(payload["actor"] ?? "an admin"): \(what)\(subject.isEmpty ? "" : " — \(subject)")"
            }
            if type.hasPrefix("retro."), let rung = payload["rung"] {
                let late = payload["late_by"].map { " (paged late by \($0))" } ?? ""
                if let since = payload["overdue_since"] {
                    return "📣 Retro PR overdue [\(rung)]: \(who) on \(target), overdue since \(since)\(late)"
                }
                return "⏰ Retro PR reminder [\(rung)]: \(who) owes a retro PR for \(target), due \(payload["due_at"] ?? "soon")\(late)"
            }
            return "breakglass: \(type)"
        }
    }

    /// Slack incoming webhook: Block Kit header and fields, with a plain-text fallback. Every string is
    /// escaped: Slack reads `<!channel>`, `<@U123>` and `<url|label>` in user text as pings and links.
    public func slackBody() -> SlackMessage {
        let labels: [(String, String)] = [("user", "Who"), ("target", "Target"), ("reason", "Reason"), ("incident", "Incident"),
                                          ("expires_at", "Expires"), ("retro_due_at", "Retro PR due"), ("session_id", "Session"),
                                          ("failure", "Failure"), ("locked_until", "Locked until"), ("channel", "Channel"),
                                          ("error", "Error"), ("rung", "Rung"), ("due_at", "Retro PR due"), ("overdue_since", "Overdue since"),
                                          ("late_by", "Paged late by"), ("pr_url", "PR"), ("note", "Note"),
                                          ("actor", "Admin"), ("host", "Host"), ("previous_host", "Previous host"), ("action", "Action")]
        let fields = labels.compactMap { key, label in payload[key].map { "*\(label):*\n\(Self.slackEscape($0))" } }
        var blocks: [SlackBlock] = [.header(Self.slackEscape(title, limit: 150))]
        // Slack allows at most 10 fields per section.
        for chunk in stride(from: 0, to: fields.count, by: 10) {
            blocks.append(.section(fields: Array(fields[chunk..<min(chunk + 10, fields.count)])))
        }
        if isDrill { blocks.insert(.context([Self.slackEscape(Self.drillNotice)]), at: 1) }
        blocks.append(.context(["event `\(Self.slackEscape(type))` · id `\(Self.slackEscape(id))`"]))
        let fallback = ([title] + (isDrill ? [Self.drillNotice] : []) + labels.compactMap { key, label in payload[key].map { "\(label): \($0)" } })
            .map { Self.slackEscape($0) }.joined(separator: "\n")
        return SlackMessage(text: fallback, blocks: blocks)
    }

    /// PagerDuty Events API v2. One dedup key per session, so retries and several broker instances never
    /// open two incidents, and the session's end resolves the one its activation triggered.
    public func pagerDutyBody(routingKey: String, source: String) -> PagerDutyEvent {
        let resolving = ["session.ended", "session.expired", "session.revoked", "retro.linked", "retro.approved", "retro.waived"]
        let action = resolving.contains(type) ? "resolve" : "trigger"
        var body = PagerDutyEvent(routingKey: routingKey, eventAction: action, dedupKey: pagerDutyDedupKey)
        if action == "trigger" {
            let severity: Severity
            switch type {
            case "session.activated", "session.denied", "session.revoked": severity = .warning
            case "user.locked", "delivery.failed", "admin.step_up_denied", "credential.issue_failed", "credential.revoke_failed": severity = .error
            case _ where type.hasPrefix("admin."): severity = .warning
            // Each escalation rung carries its own severity, which PagerDuty maps to urgency. A page that names
            // none (or one this build does not know) still goes out: a page is never held back over its loudness.
            case _ where type.hasPrefix("retro."): severity = payload["severity"].flatMap(Severity.init(rawValue:)) ?? .warning
            default: severity = .info
            }
            body.payload = .init(summary: Self.truncate(title + (payload["reason"].map { " — \($0)" } ?? ""), to: 1024),
                                 source: source, severity: severity, component: payload["target"] ?? "breakglass",
                                 eventClass: type, customDetails: PageData(fields: payload, drill: isDrill))
        }
        return body
    }

    public var pagerDutyDedupKey: String {
        if let sessionId, type.hasPrefix("session.") && type != "session.denied" { return "breakglass/session/\(sessionId)" }
        // One incident per overdue retro PR and PagerDuty service; linking or approving resolves it.
        if let sessionId, type.hasPrefix("retro.") { return "breakglass/retro/\(sessionId)" }
        // Every admin change is its own incident: two changes must not fold into one.
        if type.hasPrefix("admin.") { return "breakglass/\(type)/\(id)" }
        return "breakglass/\(type)/\(sessionId ?? payload["user"] ?? id)"
    }

    /// Generic webhook body: `type`, `timestamp` and `data`, as Standard Webhooks recommends.
    public func webhookBody() -> WebhookPayload {
        var data = payload
        if let sessionId { data["session_id"] = sessionId }
        return WebhookPayload(type: type, timestamp: Timestamp.format(createdAt), data: PageData(fields: data, drill: isDrill))
    }

    /// Said once more below a drill's Slack title: the title alone is easy to skim past.
    static let drillNotice = "*DRILL*: a rehearsal of the break-glass path, not an incident. Follow the runbook as if it were real."

    /// Cuts on a character boundary and marks the cut, never splitting a UTF-8 sequence.
    public static func truncate(_ text: String, to limit: Int) -> String {
        guard text.count > limit else { return text }
        return String(text.prefix(limit - 1)) + "…"
    }

    /// Slack's three control characters, as its message formatting rules ask; nothing else is encoded.
    static func slackEscape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
    }

    /// Escaped, then cut to `limit` characters on a boundary of the original text, so no entity is split.
    static func slackEscape(_ text: String, limit: Int) -> String {
        let escaped = slackEscape(text)
        guard escaped.count > limit else { return escaped }
        var out = ""
        for character in text {
            let piece = slackEscape(String(character))
            if out.count + piece.count > limit - 1 { break }
            out += piece
        }
        return out + "…"
    }
}
