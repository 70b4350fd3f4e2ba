/// The compliance pages' Mustache templates, compiled into the binary: `breakglassd` is installed as a single file
/// (see scripts/systemd/breakglassd.service), so a resource bundle beside it would be left behind. `CompliancePages`
/// parses them once when the server is built and refuses to start if one does not parse.
///
/// Every value is written with `{{name}}`, which HTML-escapes it; the forms that print a value raw (`{{{…}}}`, `{{&…}}`)
/// and the pragma that switches escaping off are refused at parse time. Views hold strings and flags only, never
/// markup: markup lives here.
enum ComplianceTemplates {
    static let all: [String: String] = [
        "page-head": pageHead, "page-foot": pageFoot, "queue": queue, "session": session, "sign-in": signIn, "problem": problem,
    ]

    /// The top of every signed-in page, down to its heading.
    static let pageHead = #"""
        <!DOCTYPE html>
        <html lang="en"><head><meta charset="utf-8"><title>{{title}} · breakglass</title>
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <style>
        body{font-family:system-ui,sans-serif;margin:2rem;color:#1d1d1f}table{border-collapse:collapse;margin:1rem 0;width:100%}
        th,td{border-bottom:1px solid #ddd;padding:.35rem .6rem;text-align:left;vertical-align:top;font-size:.92rem}
        th{background:#f4f4f6}.overdue{color:#b00020;font-weight:600}.ok{color:#0a7d2c}.muted{color:#666}
        code{font-size:.85rem}dl{display:grid;grid-template-columns:max-content 1fr;gap:.25rem 1rem}dt{font-weight:600}
        </style></head><body>
        <header><a href="/compliance">breakglass compliance</a> <span class="muted">· signed in as {{user}} · read-only</span>
        <form method="post" action="/compliance/logout" style="display:inline"><button type="submit" id="sign-out">Sign out</button></form></header>
        <h1>{{title}}</h1>

        """#

    static let pageFoot = #"""
        </body></html>
        """#

    static let queue = #"""
        {{> page-head}}
        <section id="summary"><p>
        <strong id="overdue-count">{{overdueCount}}</strong> retro PRs overdue ·
        <strong id="awaiting-count">{{awaitingCount}}</strong> awaiting review ·
        median time to link: <strong>{{medianTimeToLink}}</strong> ·
        approved within SLA: <strong>{{approvedWithinSLA}}</strong>
        · <a href="/compliance/queue.csv">download CSV</a></p></section>
        <h2>Overdue</h2>
        {{^overdue}}
        <p class="muted" id="overdue-empty">Nothing overdue.</p>
        {{/overdue}}
        {{#anyOverdue}}
        <table id="overdue"><thead><tr><th>Session</th><th>Engineer</th><th>Target</th><th>Due</th><th>Overdue for</th><th>Rungs fired</th><th>Last rejection</th></tr></thead><tbody>
        {{#overdue}}
        <tr class="obligation" data-session="{{sessionId}}"><td><a href="/compliance/sessions/{{sessionId}}">{{sessionId}}</a></td><td>{{requester}}</td><td>{{target}}</td><td>{{dueAt}}</td><td class="overdue">{{overdueFor}}</td><td>{{rungsFired}}</td><td>{{lastRejection}}</td></tr>
        {{/overdue}}
        </tbody></table>
        {{/anyOverdue}}
        <h2>Awaiting review</h2>
        {{^awaiting}}
        <p class="muted" id="awaiting-empty">No linked PR awaits review.</p>
        {{/awaiting}}
        {{#anyAwaiting}}
        <table id="awaiting"><thead><tr><th>Session</th><th>Engineer</th><th>Target</th><th>PR</th><th>Waiting for</th><th>Merged</th><th>Independent approval</th></tr></thead><tbody>
        {{#awaiting}}
        <tr class="obligation" data-session="{{sessionId}}"><td><a href="/compliance/sessions/{{sessionId}}">{{sessionId}}</a></td><td>{{requester}}</td><td>{{target}}</td><td><a rel="noreferrer" href="{{prURL}}">{{prURL}}</a></td><td>{{waitingFor}}</td><td>{{mergedAt}}</td><td>{{#approvalKnown}}{{#approved}}<span class="ok">yes</span>{{/approved}}{{^approved}}<span class="overdue">no</span>{{/approved}}{{/approvalKnown}}{{^approvalKnown}}—{{/approvalKnown}}</td></tr>
        {{/awaiting}}
        </tbody></table>
        {{/anyAwaiting}}
        {{> page-foot}}
        """#

    static let session = #"""
        {{> page-head}}
        {{#drill}}
        <p id="drill" class="overdue">DRILL: a rehearsal of the break-glass path, not a real activation.</p>
        {{/drill}}
        <section id="request"><h2>Request</h2><dl>
        <dt>Engineer</dt><dd>{{requester}}</dd>
        <dt>Target</dt><dd>{{target}}</dd>
        <dt>Reason</dt><dd>{{reason}}</dd>
        <dt>Incident</dt><dd>{{incident}}</dd>
        <dt>State</dt><dd>{{sessionState}}</dd>
        <dt>Activated</dt><dd>{{activatedAt}}</dd>
        <dt>Expires / closed</dt><dd>{{expiresAt}} / {{closedAt}} {{closedBy}}</dd>
        <dt>MFA</dt><dd>{{mfa}}</dd>
        <dt>Credential</dt><dd>{{credential}}</dd>
        <dt>From</dt><dd>{{from}}</dd>
        </dl></section>
        {{#retro}}
        <section id="retro"><h2>Retro PR</h2><dl>
        <dt>Status</dt><dd><span id="retro-state" class="{{#overdue}}overdue{{/overdue}}">{{retroState}}</span></dd>
        <dt>Due</dt><dd>{{dueAt}}</dd>
        <dt>PR</dt><dd>{{#linked}}<a rel="noreferrer" href="{{prURL}}">{{prURL}}</a> ({{prSource}}, linked {{linkedAt}} by {{linkedBy}}){{/linked}}{{^linked}}—{{/linked}}</dd>
        <dt>Merged</dt><dd>{{#merged}}{{mergedAt}} by {{mergedBy}} · commit <code>{{mergeCommit}}</code>{{/merged}}{{^merged}}—{{/merged}}</dd>
        <dt>PR approvals</dt><dd>{{approvers}}{{#lacksIndependentApproval}} <span class="overdue">(no independent approval)</span>{{/lacksIndependentApproval}}</dd>
        <dt>Last rejection</dt><dd>{{lastRejection}}</dd>
        </dl></section>
        {{/retro}}
        <section><h2>Candidate PRs</h2>
        {{^candidates}}
        <p class="muted">None.</p>
        {{/candidates}}
        {{#anyCandidates}}
        <table id="candidates"><thead><tr><th>PR</th><th>Author</th><th>Repository</th><th>Why it did not link itself</th><th>Received</th><th>Accepted</th></tr></thead><tbody>
        {{#candidates}}
        <tr><td><a rel="noreferrer" href="{{prURL}}">{{prURL}}</a></td><td>{{author}}</td><td>{{repository}}</td><td>{{why}}</td><td>{{receivedAt}}</td><td>{{acceptedAt}}</td></tr>
        {{/candidates}}
        </tbody></table>
        {{/anyCandidates}}
        </section>
        <section><h2>Escalations</h2>
        {{^escalations}}
        <p class="muted">None.</p>
        {{/escalations}}
        {{#anyEscalations}}
        <table id="escalations"><thead><tr><th>Rung</th><th>Scheduled</th><th>Reached</th><th>Outcome</th></tr></thead><tbody>
        {{#escalations}}
        <tr><td>{{rung}}</td><td>{{scheduledAt}}</td><td>{{firedAt}}</td><td>{{outcome}}</td></tr>
        {{/escalations}}
        </tbody></table>
        {{/anyEscalations}}
        </section>
        <section><h2>Reviews</h2>
        {{^reviews}}
        <p class="muted">None.</p>
        {{/reviews}}
        {{#anyReviews}}
        <table id="reviews"><thead><tr><th>Decision</th><th>Reviewer</th><th>Note</th><th>When</th></tr></thead><tbody>
        {{#reviews}}
        <tr><td>{{decision}}</td><td>{{reviewer}}</td><td>{{note}}</td><td>{{decidedAt}}</td></tr>
        {{/reviews}}
        </tbody></table>
        {{/anyReviews}}
        </section>
        <section><h2>Pages</h2>
        {{^pages}}
        <p class="muted">None.</p>
        {{/pages}}
        {{#anyPages}}
        <table id="pages"><thead><tr><th>Event</th><th>Channel</th><th>State</th><th>Attempted</th><th>Status</th></tr></thead><tbody>
        {{#pages}}
        <tr><td>{{eventType}}</td><td>{{channel}}</td><td>{{deliveryState}}</td><td>{{attemptedAt}}</td><td>{{statusCode}}</td></tr>
        {{/pages}}
        </tbody></table>
        {{/anyPages}}
        </section>
        <section><h2>Statements run through the recording proxy</h2>
        {{^statements}}
        <p class="muted">None.</p>
        {{/statements}}
        {{#anyStatements}}
        <table id="statements"><thead><tr><th>Seq</th><th>When</th><th>Connection</th><th>#</th><th>Statement</th><th>Parameters</th><th>Result</th></tr></thead><tbody>
        {{#statements}}
        <tr><td>{{seq}}</td><td>{{at}}</td><td><code>{{connection}}</code></td><td>{{sequence}}</td><td><code>{{statement}}</code></td><td>{{parameters}}</td><td>{{result}}</td></tr>
        {{/statements}}
        </tbody></table>
        {{/anyStatements}}
        </section>
        <section><h2>Audit events</h2>
        {{^events}}
        <p class="muted">None.</p>
        {{/events}}
        {{#anyEvents}}
        <table id="events"><thead><tr><th>Seq</th><th>When</th><th>Event</th><th>Actor</th><th>Outcome</th><th>Hash</th></tr></thead><tbody>
        {{#events}}
        <tr><td>{{seq}}</td><td>{{at}}</td><td>{{type}}</td><td>{{actor}}</td><td>{{outcome}}</td><td><code>{{hashPrefix}}…</code></td></tr>
        {{/events}}
        </tbody></table>
        {{/anyEvents}}
        </section>
        <p class="muted">Decide with <code>breakglass compliance approve|reject {{sessionId}} --note …</code>; export with <code>breakglass compliance evidence {{sessionId}}</code>.</p>
        {{> page-foot}}
        """#

    /// A sign-in link only shows this page; the ticket is spent by the POST its button sends. Link previewers
    /// and mail scanners fetch GET links, and must not sign themselves in with someone's ticket.
    static let signIn = #"""
        <!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Sign in · breakglass</title></head>
        <body><h1>Sign in to breakglass compliance</h1>
        <p>This one-time link signs this browser in to the read-only compliance pages for 8 hours.</p>
        <form method="post" action="/compliance/login"><input type="hidden" name="ticket" value="{{ticket}}">
        <button type="submit" id="confirm-sign-in">Sign in</button></form></body></html>
        """#

    static let problem = #"""
        <!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{{title}} · breakglass</title></head>
        <body><h1>{{title}}</h1><p id="problem">{{message}}</p></body></html>
        """#
}
