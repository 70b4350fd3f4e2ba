import BreakglassCore
import BreakglassStore
import Foundation

/// Server-rendered, read-only HTML for compliance reviewers: no script, every value escaped. Decisions are
/// taken with the CLI, which asks for a note and is audited.
enum CompliancePages {
    static func escape(_ text: String) -> String {
        var out = ""
        for ch in text {
            switch ch {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(ch)
            }
        }
        return out
    }

    static func time(_ date: Date?) -> String { date.map { escape(Timestamp.format(Timestamp.wholeSeconds($0))) } ?? "—" }

    static func age(_ seconds: TimeInterval) -> String { TTL.format(max(0, (seconds / 60).rounded(.down) * 60)) }

    static func page(title: String, user: String, body: String) -> String {
        """
        <!DOCTYPE html>
        <html lang="en"><head><meta charset="utf-8"><title>\(escape(title)) · breakglass</title>
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <style>
        body{font-family:system-ui,sans-serif;margin:2rem;color:#1d1d1f}table{border-collapse:collapse;margin:1rem 0;width:100%}
        th,td{border-bottom:1px solid #ddd;padding:.35rem .6rem;text-align:left;vertical-align:top;font-size:.92rem}
        th{background:#f4f4f6}.overdue{color:#b00020;font-weight:600}.ok{color:#0a7d2c}.muted{color:#666}
        code{font-size:.85rem}dl{display:grid;grid-template-columns:max-content 1fr;gap:.25rem 1rem}dt{font-weight:600}
        </style></head><body>
        <header><a href="/compliance">breakglass compliance</a> <span class="muted">· signed in as \(escape(user)) · read-only</span>
        <form method="post" action="/compliance/logout" style="display:inline"><button type="submit" id="sign-out">Sign out</button></form></header>
        <h1>\(escape(title))</h1>
        \(body)
        </body></html>
        """
    }

    static func queue(_ entries: [RetroView], metrics: RetroMetrics, user: String, now: Date) -> String {
        let overdue = entries.filter { $0.state == .overdue }
        let awaiting = entries.filter { $0.status == .linked }
        var body = """
        <section id="summary"><p>
        <strong id="overdue-count">\(metrics.overdue)</strong> retro PRs overdue ·
        <strong id="awaiting-count">\(awaiting.count)</strong> awaiting review ·
        median time to link: <strong>\(metrics.medianTimeToLinkSeconds.map { TTL.format($0) } ?? "—")</strong> ·
        approved within SLA: <strong>\(metrics.approvedWithinSLARatio.map { String(format: "%.0f%%", $0 * 100) } ?? "—")</strong>
        · <a href="/compliance/queue.csv">download CSV</a></p></section>
        <h2>Overdue</h2>
        """
        if overdue.isEmpty {
            body += "<p class=\"muted\" id=\"overdue-empty\">Nothing overdue.</p>"
        } else {
            body += "<table id=\"overdue\"><thead><tr><th>Session</th><th>Engineer</th><th>Target</th><th>Due</th><th>Overdue for</th><th>Rungs fired</th><th>Last rejection</th></tr></thead><tbody>"
            for entry in overdue {
                body += "<tr class=\"obligation\" data-session=\"\(escape(entry.sessionId))\"><td><a href=\"/compliance/sessions/\(escape(entry.sessionId))\">\(escape(entry.sessionId))</a></td>"
                    + "<td>\(escape(entry.requester))</td><td>\(escape(entry.target))</td><td>\(time(entry.dueAt))</td>"
                    + "<td class=\"overdue\">\(age(now.timeIntervalSince(entry.dueAt)))</td><td>\(entry.rungsFired)</td>"
                    + "<td>\(escape(entry.lastRejection ?? "—"))</td></tr>"
            }
            body += "</tbody></table>"
        }
        body += "<h2>Awaiting review</h2>"
        if awaiting.isEmpty {
            body += "<p class=\"muted\" id=\"awaiting-empty\">No linked PR awaits review.</p>"
        } else {
            body += "<table id=\"awaiting\"><thead><tr><th>Session</th><th>Engineer</th><th>Target</th><th>PR</th><th>Waiting for</th><th>Merged</th><th>Independent approval</th></tr></thead><tbody>"
            for entry in awaiting {
                body += "<tr class=\"obligation\" data-session=\"\(escape(entry.sessionId))\"><td><a href=\"/compliance/sessions/\(escape(entry.sessionId))\">\(escape(entry.sessionId))</a></td>"
                    + "<td>\(escape(entry.requester))</td><td>\(escape(entry.target))</td>"
                    + "<td><a rel=\"noreferrer\" href=\"\(escape(entry.prUrl ?? ""))\">\(escape(entry.prUrl ?? ""))</a></td>"
                    + "<td>\(age(now.timeIntervalSince(entry.linkedAt ?? now)))</td><td>\(time(entry.mergedAt))</td>"
                    + "<td>\(entry.independentApproval.map { $0 ? "<span class=\"ok\">yes</span>" : "<span class=\"overdue\">no</span>" } ?? "—")</td></tr>"
            }
            body += "</tbody></table>"
        }
        return page(title: "Retro PR review queue", user: user, body: body)
    }

    static func session(_ story: SessionStory, user: String) -> String {
        let s = story.session
        let o = story.obligation
        func row(_ label: String, _ value: String) -> String { "<dt>\(escape(label))</dt><dd>\(value)</dd>" }
        // A drill reached by its URL must not read as a real emergency change.
        var body = s.drill ? "<p id=\"drill\" class=\"overdue\">DRILL: a rehearsal of the break-glass path, not a real activation.</p>" : ""
        body += "<section id=\"request\"><h2>Request</h2><dl>"
            + row("Engineer", escape(s.requester)) + row("Target", escape(s.target)) + row("Reason", escape(s.reason))
            + row("Incident", escape(s.incident)) + row("State", escape(s.state.rawValue)) + row("Activated", time(s.activatedAt))
            + row("Expires / closed", "\(time(s.expiresAt)) / \(time(s.closedAt)) \(escape(s.closedBy ?? ""))")
            + row("MFA", escape("\(story.mfa.method): \(story.mfa.outcome); \(story.mfa.deniedAttempts) denied attempts; \(story.mfa.extensionsProven) extensions proven"))
            + row("Credential", escape("\(story.credential.kind.rawValue) · key \(story.credential.keyId ?? "-") · aud \(story.credential.audience ?? "-") · jti \(story.credential.tokenId ?? "-")"))
            + row("From", escape("\(story.clientAddress ?? "-") · \(story.userAgent ?? "-")"))
            + "</dl></section>"
        body += "<section id=\"retro\"><h2>Retro PR</h2><dl>"
            + row("Status", "<span id=\"retro-state\" class=\"\(story.retro.state == .overdue ? "overdue" : "")\">\(escape(story.retro.state.rawValue))</span>")
            + row("Due", time(o.dueAt))
            + row("PR", o.prURL.map { "<a rel=\"noreferrer\" href=\"\(escape($0))\">\(escape($0))</a> (\(escape(o.prSource?.rawValue ?? "")), linked \(time(o.linkedAt)) by \(escape(o.linkedBy ?? "")))" } ?? "—")
            + row("Merged", o.mergedAt.map { "\(time($0)) by \(escape(o.mergedBy ?? "?")) · commit <code>\(escape(o.mergeCommit ?? "?"))</code>" } ?? "—")
            + row("PR approvals", escape(o.prApprovers.isEmpty ? "none" : o.prApprovers.joined(separator: ", "))
                  + (o.independentApproval == false ? " <span class=\"overdue\">(no independent approval)</span>" : ""))
            + row("Last rejection", escape(o.lastRejection ?? "—"))
            + "</dl></section>"
        body += "<section><h2>Candidate PRs</h2>" + table(["PR", "Author", "Repository", "Why it did not link itself", "Received", "Accepted"],
                                                          story.candidates.map {
            ["<a rel=\"noreferrer\" href=\"\(escape($0.prURL))\">\(escape($0.prURL))</a>", escape($0.prAuthor), escape($0.repository ?? "—"),
             escape($0.reason), time($0.receivedAt), $0.acceptedAt.map { "\(time($0))" } ?? "—"]
        }, id: "candidates") + "</section>"
        body += "<section><h2>Escalations</h2>" + table(["Rung", "Scheduled", "Reached", "Outcome"], story.escalations.map {
            [escape($0.rung), time($0.scheduledAt), time($0.firedAt), escape($0.outcome.rawValue)]
        }, id: "escalations") + "</section>"
        body += "<section><h2>Reviews</h2>" + table(["Decision", "Reviewer", "Note", "When"], story.reviews.map {
            [escape($0.decision.rawValue), escape($0.reviewer), escape($0.note), time($0.decidedAt)]
        }, id: "reviews") + "</section>"
        body += "<section><h2>Pages</h2>" + table(["Event", "Channel", "State", "Attempted", "Status"], story.pages.map {
            [escape($0.eventType), escape("\($0.channel) (\($0.host))"), escape($0.state.rawValue), time($0.attemptedAt), $0.statusCode.map(String.init) ?? "—"]
        }, id: "pages") + "</section>"
        body += "<section><h2>Statements run through the recording proxy</h2>" + table(
            ["Seq", "When", "Connection", "#", "Statement", "Parameters", "Result"], statementRows(story.events), id: "statements") + "</section>"
        body += "<section><h2>Audit events</h2>" + table(["Seq", "When", "Event", "Actor", "Outcome", "Hash"], story.events.map {
            [String($0.seq), time($0.event.at), escape($0.event.type.rawValue), escape($0.event.actor ?? "server"),
             escape($0.event.outcome.rawValue), "<code>\(escape(String($0.hash.prefix(16))))…</code>"]
        }, id: "events") + "</section>"
        body += "<p class=\"muted\">Decide with <code>breakglass compliance approve|reject \(escape(s.id)) --note …</code>; export with <code>breakglass compliance evidence \(escape(s.id))</code>.</p>"
        return page(title: "Session \(s.id)", user: user, body: body)
    }

    /// Each recorded statement with what the target answered (its result events, matched by connection and sequence).
    static func statementRows(_ events: [AuditEventView]) -> [[String]] {
        var results: [String: [String]] = [:]
        for view in events where view.event.type == .sessionStatementResult {
            let d = view.event.details
            results["\(d["connection"] ?? "")#\(d["sequence"] ?? "")", default: []].append(StatementLogText.result(d))
        }
        return events.filter { $0.event.type == .sessionStatement }.map { view in
            let d = view.event.details
            let key = "\(d["connection"] ?? "")#\(d["sequence"] ?? "")"
            return [String(view.seq), time(view.event.at), "<code>\(escape(String((d["connection"] ?? "").prefix(6))))</code>", escape(d["sequence"] ?? ""),
                    "<code>\(escape(StatementLogText.statement(d)))</code>", escape(d["parameters"] ?? ""),
                    escape(results[key]?.joined(separator: "; ") ?? "no answer recorded")]
        }
    }

    private static func table(_ headers: [String], _ rows: [[String]], id: String) -> String {
        guard !rows.isEmpty else { return "<p class=\"muted\">None.</p>" }
        return "<table id=\"\(id)\"><thead><tr>" + headers.map { "<th>\(escape($0))</th>" }.joined() + "</tr></thead><tbody>"
            + rows.map { "<tr>" + $0.map { "<td>\($0)</td>" }.joined() + "</tr>" }.joined() + "</tbody></table>"
    }

    /// A sign-in link only shows this page; the ticket is spent by the POST its button sends. Link previewers
    /// and mail scanners fetch GET links, and must not sign themselves in with someone's ticket.
    static func confirmSignIn(ticket: String) -> String {
        """
        <!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Sign in · breakglass</title></head>
        <body><h1>Sign in to breakglass compliance</h1>
        <p>This one-time link signs this browser in to the read-only compliance pages for 8 hours.</p>
        <form method="post" action="/compliance/login"><input type="hidden" name="ticket" value="\(escape(ticket))">
        <button type="submit" id="confirm-sign-in">Sign in</button></form></body></html>
        """
    }

    static func problem(title: String, message: String) -> String {
        """
        <!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>\(escape(title)) · breakglass</title></head>
        <body><h1>\(escape(title))</h1><p id="problem">\(escape(message))</p></body></html>
        """
    }

    /// RFC 4180 CSV; a cell that a spreadsheet would run as a formula is prefixed with a quote.
    static func csv(_ entries: [RetroView], now: Date) -> String {
        let header = ["session_id", "state", "requester", "target", "due_at", "age_seconds", "pr_url", "linked_at", "merged_at",
                      "independent_approval", "rungs_fired", "last_rejection"]
        var lines = [header.joined(separator: ",")]
        for e in entries {
            let age = e.status == .linked ? now.timeIntervalSince(e.linkedAt ?? now) : now.timeIntervalSince(e.dueAt)
            let cells = [e.sessionId, e.state.rawValue, e.requester, e.target, Timestamp.format(e.dueAt), String(Int(max(0, age))), e.prUrl ?? "",
                         e.linkedAt.map(Timestamp.format) ?? "", e.mergedAt.map(Timestamp.format) ?? "",
                         e.independentApproval.map { String($0) } ?? "", String(e.rungsFired), e.lastRejection ?? ""]
            lines.append(cells.map(csvCell).joined(separator: ","))
        }
        return lines.joined(separator: "\r\n") + "\r\n"
    }

    private static func csvCell(_ value: String) -> String {
        var text = value
        if let first = text.first, "=+-@\t\r".contains(first) { text = "'" + text }
        guard text.contains(where: { ",\"\r\n".contains($0) }) else { return text }
        return "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}
