import BreakglassCore
import BreakglassStore
import Foundation
import Mustache

/// Server-rendered, read-only HTML for compliance reviewers: no script, every value escaped by the templates
/// (ComplianceTemplates.swift). Decisions are taken with the CLI, which asks for a note and is audited.
struct CompliancePages: Sendable {
    struct TemplateFailure: Error, CustomStringConvertible {
        let template: String
        let reason: String
        var description: String { "compliance page template '\(template)' \(reason)" }
    }

    private let library: MustacheLibrary
    private let queuePage, sessionPage, signInPage, problemPage: MustacheTemplate

    /// Parses every template once, when the server is built: one that does not parse, or that could print a
    /// value unescaped, stops the start instead of failing a reviewer's request later.
    init(templates: [String: String] = ComplianceTemplates.all) throws {
        var library = MustacheLibrary()
        for (name, text) in templates.sorted(by: { $0.key < $1.key }) {
            for raw in ["{{{", "{{&", "{{%", "{{="] where text.contains(raw) {
                throw TemplateFailure(template: name, reason: "uses \(raw): values are written with {{name}} only, so they are always escaped")
            }
            do {
                try library.register(text, named: name)
            } catch {
                throw TemplateFailure(template: name, reason: "does not parse: \(error)")
            }
        }
        func template(_ name: String) throws -> MustacheTemplate {
            guard let template = library.getTemplate(named: name) else { throw TemplateFailure(template: name, reason: "is missing") }
            return template
        }
        for partial in ["page-head", "page-foot"] { _ = try template(partial) }
        (queuePage, sessionPage, signInPage, problemPage) = (try template("queue"), try template("session"), try template("sign-in"),
                                                             try template("problem"))
        self.library = library
    }

    func queue(_ entries: [RetroView], metrics: RetroMetrics, user: String, now: Date) -> String {
        queuePage.render(QueuePageView(entries, metrics: metrics, user: user, now: now), library: library)
    }

    func session(_ story: SessionStory, user: String) -> String {
        sessionPage.render(SessionPageView(story, user: user), library: library)
    }

    /// A sign-in link only shows this page; the ticket is spent by the POST its button sends.
    func confirmSignIn(ticket: String) -> String {
        signInPage.render(SignInPageView(ticket: ticket), library: library)
    }

    func problem(title: String, message: String) -> String {
        problemPage.render(ProblemPageView(title: title, message: message), library: library)
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
