import BreakglassCore
import BreakglassProxy
@testable import BreakglassServer
import BreakglassStore
import BreakglassTestSupport
import Foundation
import XCTest

/// The compliance pages show text that attackers choose: an engineer's justification, what a pull request says of
/// itself, the SQL typed through the recording proxy, a reviewer's note. A reviewer's browser must see it as text,
/// never as markup, and the templates must not read it as Mustache either.
final class CompliancePageEscapingTests: RetroTestCase {
    /// Markup, both quotes, Mustache tags (a section, a triple mustache, a partial, a delimiter change).
    static let hostile = #"<script>alert("x")</script> 'q' {{title}} {{{user}}} {{#events}}loop{{/events}} {{> page-head}} {{=<% %>=}}"#
    static let escaped = "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &#39;q&#39; {{title}} {{{user}}} {{#events}}loop{{/events}} "
        + "{{&gt; page-head}} {{=&lt;% %&gt;=}}"

    func testHostileTextOnTheCompliancePagesIsShownAsText() async throws {
        let session = try await http.send(.POST, "/v1/sessions", token: alice.token, json: [
            "target": "payments-db", "reason": "INC-9 " + Self.hostile, "incident": "INC-9", "ttl": "30m", "totp": try code(alice.secret),
        ])
        XCTAssertEqual(session.status, 201, session.text)
        nextStep()
        let id = try XCTUnwrap((session.json["session"] as? [String: Any])?["id"] as? String)

        // A pull request from a fork, and one by someone else, both naming the session in a hostile title.
        let prs = [
            pullRequest(action: "opened", number: 11, title: "Fix \(id) " + Self.hostile, branch: "x", headRepository: "mallory/" + Self.hostile),
            pullRequest(action: "opened", number: 12, title: "Fix \(id) " + Self.hostile, branch: "x", author: Self.hostile),
        ]
        for (n, payload) in prs.enumerated() {
            let reply = try await gitHub("pull_request", delivery: "hostile-\(n)", payload: payload)
            XCTAssertEqual(reply.status, 200, reply.text)
        }
        // The engineer's PR, rejected with a note that quotes the hostile text back.
        let linked = try await cli(["retro", "link", id, "https://github.com/acme/payments/pull/13"], as: "alice")
        XCTAssertEqual(linked.status, 0, linked.stderr)
        let rejected = try await http.send(.POST, "/v1/compliance/sessions/\(id)/reject", token: bob.token,
                                           json: ["note": "does not cover " + Self.hostile])
        XCTAssertEqual(rejected.status, 200, rejected.text)
        // A statement recorded by the proxy, with control characters (allowed in SQL, never in a reason).
        let sql = "SELECT '\(Self.hostile)', E'\u{1}\u{7}\u{1B}[31m red'"
        let statement = StatementRecord(sequence: 1, origin: .simpleQuery, text: sql, parameters: [.text("\u{1B}]0;" + Self.hostile)])
        try await AuditBatcher(database: server.broker.database).append([
            statement.auditEvent(session: id, connection: "c0ffee42", target: "payments-db", actor: "alice", at: clock.now()),
        ])

        let page = try await http.send(.GET, "/compliance/sessions/\(id)", token: bob.token)
        XCTAssertEqual(page.status, 200, page.text)
        XCTAssertFalse(page.text.contains("<script"), page.text)
        XCTAssertFalse(page.text.contains("'q'"), "quotes are escaped")
        XCTAssertTrue(page.text.contains("<dt>Reason</dt><dd>INC-9 \(Self.escaped)</dd>"), page.text)
        XCTAssertTrue(page.text.contains("<title>Session \(id) · breakglass</title>"), "{{title}} in data is not the page's title")
        XCTAssertTrue(page.text.contains("<dt>Last rejection</dt><dd>does not cover \(Self.escaped)</dd>"), page.text)
        XCTAssertTrue(page.text.contains("<td>rejected</td><td>bob</td><td>does not cover \(Self.escaped)</td>"), page.text)
        let candidates = try XCTUnwrap(page.text.firstMatch(of: /<table id="candidates">.*?<\/table>/.dotMatchesNewlines())?.0, page.text)
        XCTAssertTrue(candidates.contains("the pull request comes from a fork (mallory/\(Self.escaped))"), String(candidates))
        XCTAssertTrue(candidates.contains("<td>\(Self.escaped)</td>"), "the author, as GitHub named them: \(candidates)")
        XCTAssertTrue(candidates.contains("opened by \(Self.escaped), not by the engineer who broke glass (alice)"), String(candidates))
        let statements = try XCTUnwrap(page.text.firstMatch(of: /<table id="statements">.*?<\/table>/.dotMatchesNewlines())?.0, page.text)
        // Control characters are text to HTML: they pass through, and what follows them is still escaped.
        XCTAssertTrue(statements.contains("<td><code>c0ffee</code></td><td>1</td><td><code>SELECT &#39;\(Self.escaped)&#39;, "
                                          + "E&#39;\u{1}\u{7}\u{1B}[31m red&#39;</code></td><td>[&quot;"), String(statements))
        XCTAssertTrue(statements.contains("&lt;script&gt;alert(\\&quot;x\\&quot;)"), "the parameter, as JSON: \(statements)")

        let queue = try await http.send(.GET, "/compliance", token: bob.token)
        XCTAssertEqual(queue.status, 200, queue.text)
        XCTAssertFalse(queue.text.contains("<script"), queue.text)
    }

    /// Templates are parsed when the server is built: one that could print a value raw, or does not parse, stops the
    /// start rather than a reviewer's request.
    func testATemplateThatCouldPrintRawOrDoesNotParseStopsTheStart() throws {
        XCTAssertNoThrow(try CompliancePages())
        for broken in ["<p>{{{reason}}}</p>", "<p>{{&reason}}</p>", "{{% CONTENT_TYPE: TEXT}}<p>{{reason}}</p>", "<p>{{#reason}}</p>"] {
            var templates = ComplianceTemplates.all
            templates["problem"] = broken
            XCTAssertThrowsError(try CompliancePages(templates: templates), broken) { error in
                XCTAssertTrue("\(error)".hasPrefix("compliance page template 'problem' "), "\(error)")
            }
        }
        var missing = ComplianceTemplates.all
        missing["queue"] = nil
        XCTAssertThrowsError(try CompliancePages(templates: missing))
    }
}
