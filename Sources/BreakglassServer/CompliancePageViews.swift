import BreakglassCore
import BreakglassStore
import Foundation
import Mustache

// What the compliance templates (ComplianceTemplates.swift) are rendered with: text and flags only, already worded,
// never markup, and never optional: Mustache looks a missing or nil name up in the enclosing views, so a view that
// lacked a field could silently print its parent's.

/// The retro PR review queue: what is overdue, and what waits for a reviewer.
struct QueuePageView {
    struct Overdue {
        let sessionId, requester, target, dueAt, overdueFor: String
        let rungsFired: Int
        let lastRejection: String
    }

    struct Awaiting {
        let sessionId, requester, target, prURL, waitingFor, mergedAt: String
        let approvalKnown, approved: Bool
    }

    let title = "Retro PR review queue"
    let user: String
    let overdueCount, awaitingCount: Int
    let medianTimeToLink, approvedWithinSLA: String
    let overdue: [Overdue]
    let awaiting: [Awaiting]
    let anyOverdue, anyAwaiting: Bool

    init(_ entries: [RetroView], metrics: RetroMetrics, user: String, now: Date) {
        self.user = user
        overdue = entries.filter { $0.state == .overdue }.map {
            Overdue(sessionId: $0.sessionId, requester: $0.requester, target: $0.target, dueAt: PageText.time($0.dueAt),
                    overdueFor: PageText.age(now.timeIntervalSince($0.dueAt)), rungsFired: $0.rungsFired, lastRejection: $0.lastRejection ?? "—")
        }
        awaiting = entries.filter { $0.status == .linked }.map {
            Awaiting(sessionId: $0.sessionId, requester: $0.requester, target: $0.target, prURL: $0.prUrl ?? "",
                     waitingFor: PageText.age(now.timeIntervalSince($0.linkedAt ?? now)), mergedAt: PageText.time($0.mergedAt),
                     approvalKnown: $0.independentApproval != nil, approved: $0.independentApproval == true)
        }
        overdueCount = metrics.overdue
        awaitingCount = awaiting.count
        medianTimeToLink = metrics.medianTimeToLinkSeconds.map { TTL.format($0) } ?? "—"
        approvedWithinSLA = metrics.approvedWithinSLARatio.map { String(format: "%.0f%%", $0 * 100) } ?? "—"
        anyOverdue = !overdue.isEmpty
        anyAwaiting = !awaiting.isEmpty
    }
}

/// One emergency session, from request to retro review, with its pages, statements and audit events.
struct SessionPageView {
    struct Retro {
        let overdue: Bool
        let retroState, dueAt: String
        let linked: Bool
        let prURL, prSource, linkedAt, linkedBy: String
        let merged: Bool
        let mergedAt, mergedBy, mergeCommit: String
        let approvers: String
        let lacksIndependentApproval: Bool
        let lastRejection: String
    }

    struct Candidate { let prURL, author, repository, why, receivedAt, acceptedAt: String }
    struct Escalation { let rung, scheduledAt, firedAt, outcome: String }
    struct Review { let decision, reviewer, note, decidedAt: String }
    struct Page { let eventType, channel, deliveryState, attemptedAt, statusCode: String }
    struct Statement { let seq, at, connection, sequence, statement, parameters, result: String }
    struct Event { let seq, at, type, actor, outcome, hashPrefix: String }

    let title, user, sessionId: String
    /// A drill reached by its URL must not read as a real emergency change.
    let drill: Bool
    let requester, target, reason, incident, sessionState, activatedAt, expiresAt, closedAt, closedBy: String
    let mfa, credential, from: String
    let retro: Retro
    let candidates: [Candidate]
    let escalations: [Escalation]
    let reviews: [Review]
    let pages: [Page]
    let statements: [Statement]
    let events: [Event]
    let anyCandidates, anyEscalations, anyReviews, anyPages, anyStatements, anyEvents: Bool

    init(_ story: SessionStory, user: String) {
        let s = story.session, o = story.obligation
        title = "Session \(s.id)"
        self.user = user
        sessionId = s.id
        drill = s.drill
        requester = s.requester
        target = s.target
        reason = s.reason
        incident = s.incident
        sessionState = s.state.rawValue
        activatedAt = PageText.time(s.activatedAt)
        expiresAt = PageText.time(s.expiresAt)
        closedAt = PageText.time(s.closedAt)
        closedBy = s.closedBy ?? ""
        mfa = "\(story.mfa.method): \(story.mfa.outcome); \(story.mfa.deniedAttempts) denied attempts; \(story.mfa.extensionsProven) extensions proven"
        let c = story.credential
        credential = "\(c.kind.rawValue) · key \(c.keyId ?? "-") · aud \(c.audience ?? "-") · jti \(c.tokenId ?? "-")"
        from = "\(story.clientAddress ?? "-") · \(story.userAgent ?? "-")"
        retro = Retro(
            overdue: story.retro.state == .overdue, retroState: story.retro.state.rawValue, dueAt: PageText.time(o.dueAt),
            linked: o.prURL != nil, prURL: o.prURL ?? "", prSource: o.prSource?.rawValue ?? "", linkedAt: PageText.time(o.linkedAt),
            linkedBy: o.linkedBy ?? "",
            merged: o.mergedAt != nil, mergedAt: PageText.time(o.mergedAt), mergedBy: o.mergedBy ?? "?", mergeCommit: o.mergeCommit ?? "?",
            approvers: o.prApprovers.isEmpty ? "none" : o.prApprovers.joined(separator: ", "),
            lacksIndependentApproval: o.independentApproval == false, lastRejection: o.lastRejection ?? "—")
        candidates = story.candidates.map {
            Candidate(prURL: $0.prURL, author: $0.prAuthor, repository: $0.repository ?? "—", why: $0.reason,
                      receivedAt: PageText.time($0.receivedAt), acceptedAt: PageText.time($0.acceptedAt))
        }
        escalations = story.escalations.map {
            Escalation(rung: $0.rung, scheduledAt: PageText.time($0.scheduledAt), firedAt: PageText.time($0.firedAt), outcome: $0.outcome.rawValue)
        }
        reviews = story.reviews.map {
            Review(decision: $0.decision.rawValue, reviewer: $0.reviewer, note: $0.note, decidedAt: PageText.time($0.decidedAt))
        }
        pages = story.pages.map {
            Page(eventType: $0.eventType, channel: "\($0.channel) (\($0.host))", deliveryState: $0.state.rawValue,
                 attemptedAt: PageText.time($0.attemptedAt), statusCode: $0.statusCode.map(String.init) ?? "—")
        }
        statements = Self.statements(story.events)
        events = story.events.map {
            Event(seq: String($0.seq), at: PageText.time($0.event.at), type: $0.event.type.rawValue, actor: $0.event.actor ?? "server",
                  outcome: $0.event.outcome.rawValue, hashPrefix: String($0.hash.prefix(16)))
        }
        anyCandidates = !candidates.isEmpty
        anyEscalations = !escalations.isEmpty
        anyReviews = !reviews.isEmpty
        anyPages = !pages.isEmpty
        anyStatements = !statements.isEmpty
        anyEvents = !events.isEmpty
    }

    /// Each recorded statement with what the target answered (its result events, matched by connection and sequence).
    static func statements(_ events: [AuditEventView]) -> [Statement] {
        var results: [String: [String]] = [:]
        for view in events where view.event.type == .sessionStatementResult {
            let d = view.event.details
            results["\(d["connection"] ?? "")#\(d["sequence"] ?? "")", default: []].append(StatementLogText.result(d))
        }
        return events.filter { $0.event.type == .sessionStatement }.map { view in
            let d = view.event.details
            return Statement(seq: String(view.seq), at: PageText.time(view.event.at), connection: String((d["connection"] ?? "").prefix(6)),
                             sequence: d["sequence"] ?? "", statement: StatementLogText.statement(d), parameters: d["parameters"] ?? "",
                             result: results["\(d["connection"] ?? "")#\(d["sequence"] ?? "")"]?.joined(separator: "; ") ?? "no answer recorded")
        }
    }
}

struct SignInPageView { let ticket: String }

struct ProblemPageView { let title, message: String }

/// Times and ages as the pages word them.
enum PageText {
    static func time(_ date: Date?) -> String { date.map { Timestamp.format(Timestamp.wholeSeconds($0)) } ?? "—" }

    static func age(_ seconds: TimeInterval) -> String { TTL.format(max(0, (seconds / 60).rounded(.down) * 60)) }
}

// A session's statements and events can run to tens of thousands of rows: looked up by name here, not by
// reflection, each row renders several times faster.
extension SessionPageView.Statement: MustacheParent {
    func child(named name: String) -> Any? {
        switch name {
        case "seq": seq
        case "at": at
        case "connection": connection
        case "sequence": sequence
        case "statement": statement
        case "parameters": parameters
        case "result": result
        default: nil
        }
    }
}

extension SessionPageView.Event: MustacheParent {
    func child(named name: String) -> Any? {
        switch name {
        case "seq": seq
        case "at": at
        case "type": type
        case "actor": actor
        case "outcome": outcome
        case "hashPrefix": hashPrefix
        default: nil
        }
    }
}
