import BreakglassCore
import Foundation

/// A broker's past, made up for `scripts/bench-scale.sh`: sessions with what a real one leaves behind (its retro
/// obligation in the state it ended in, the rungs that fired, the reviews, its pages and their deliveries, and
/// its audit events). Settled sessions (approved, some after a rejection; waived; linked late) span the year
/// before `now`; `queue` sessions still wait for compliance (a linked PR to review, or an overdue one whose
/// ladder has run out); the last hundredth of the rest are recent and still owed, with their next reminder
/// hours away, so no background service wakes up for them while the benchmark measures.
struct ScaleHistory {
    struct Requester {
        var id: UUID
        var name: String
    }

    struct Rung {
        var level: Int
        var name: String
        var scheduledAt: Date
        var paged: Bool
    }

    struct Review {
        var decision: String
        var note: String
        var at: Date
    }

    struct Page {
        var id = UUID()
        var type: String
        var at: Date
        var payload: [String: String]
        /// The first attempt failed and was retried.
        var retried: Bool
    }

    struct Session {
        var id: String
        var requester: Requester
        var activatedAt: Date
        var expiresAt: Date
        var state: String
        var closedAt: Date
        var closedBy: String?
        var closeReason: String?
        var status: RetroStatus
        var dueAt: Date
        var nextLevel: Int
        var nextDueAt: Date?
        var prURL: String?
        var linkedAt: Date?
        var reviewedAt: Date?
        var reviewer: String?
        var reviewNote: String?
        var lastRejection: String?
        var rungs: [Rung] = []
        var reviews: [Review] = []
        var pages: [Page] = []
        /// Statement and result events recorded for the session (the bulk of a busy broker's log).
        var statements = 0
    }

    let target: String
    let kind: String
    let audience: String
    let reviewer: String
    let ladder = EscalationLadder.standard
    let deadline: TimeInterval = 24 * 3600
    var sessions: [Session] = []

    /// Events of a session other than its statements.
    static func baseEvents(_ s: Session) -> Int { 2 + s.rungs.count + (s.linkedAt == nil ? 0 : 1) + s.reviews.count * 2 }

    init(count: Int, events: Int, queue: Int, requesters: [Requester], target: String, kind: String, audience: String, reviewer: String,
         now: Date) throws {
        guard !requesters.isEmpty else { throw BenchFailure("seed-history needs engineers in the database (run enroll-many first)") }
        guard queue <= count else { throw BenchFailure("seed-history: the queue (\(queue)) cannot hold more than the sessions (\(count))") }
        self.target = target
        self.kind = kind
        self.audience = audience
        self.reviewer = reviewer
        var random = SplitMix(seed: 0x5ca1e)
        let settled = count - queue
        let recent = settled >= 100 ? settled / 100 : 0
        for index in 0..<count {
            let requester = requesters[index % requesters.count]
            if index < queue {
                sessions.append(waiting(index, requester: requester, now: now, random: &random))
            } else if index >= count - recent {
                sessions.append(owedSoon(requester: requester, now: now, random: &random))
            } else {
                // Spread over the year that ended three days ago, oldest first, so every rung is in the past.
                let at = now - 365 * 86400 + Double(index - queue) / Double(max(1, settled - recent)) * 362 * 86400
                sessions.append(settledSession(requester: requester, at: at, random: &random))
            }
        }
        let base = sessions.reduce(0) { $0 + Self.baseEvents($1) }
        guard events >= base else { throw BenchFailure("seed-history: \(count) sessions need at least \(base) audit events") }
        let extra = events - base
        for index in sessions.indices { sessions[index].statements = extra / count + (index < extra % count ? 1 : 0) }
    }

    // MARK: sessions in the state they ended in

    private func opened(requester: Requester, at: Date, random: inout SplitMix) -> Session {
        let at = Timestamp.truncated(at)
        let expires = at + 30 * 60
        let session = Secrets.sessionId()
        var s = Session(id: session, requester: requester, activatedAt: at, expiresAt: expires, state: "expired", closedAt: expires,
                        status: .owed, dueAt: at + deadline, nextLevel: 0)
        switch random.next(100) {
        case 0..<25:
            s.state = "ended"
            s.closedAt = at + Double(5 + random.next(20)) * 60
            s.closedBy = requester.name
        case 25..<29:
            s.state = "revoked"
            s.closedAt = at + Double(2 + random.next(20)) * 60
            s.closedBy = reviewer
            s.closeReason = "INC closed, access no longer needed"
        default:
            break
        }
        s.pages.append(page(AuditEventType.sessionActivated.rawValue, s, at: at, random: &random))
        s.pages.append(page("session.\(s.state)", s, at: s.closedAt, random: &random))
        return s
    }

    private func settledSession(requester: Requester, at: Date, random: inout SplitMix) -> Session {
        var s = opened(requester: requester, at: at, random: &random)
        let roll = random.next(100)
        // Reminders at 50% and 90% of the window fire unless the PR came first; a late PR lets escalations fire.
        let linkedAt: Date?
        switch roll {
        case 0..<88: linkedAt = s.activatedAt + Double(2 + random.next(10)) * 3600
        case 88..<95: linkedAt = nil
        default: linkedAt = s.dueAt + Double(1 + random.next(20)) * 3600
        }
        fire(&s, before: linkedAt ?? s.dueAt + 2 * 86400, random: &random)
        if let linkedAt {
            s.prURL = "https://github.com/acme/payments/pull/\(10_000 + random.next(90_000))"
            s.linkedAt = linkedAt
            var decided = linkedAt + Double(1 + random.next(30)) * 3600
            if (80..<88).contains(roll) {
                s.reviews.append(Review(decision: "rejected", note: "the PR does not say which rows were changed", at: decided))
                s.lastRejection = "the PR does not say which rows were changed"
                decided += 6 * 3600
            }
            s.reviews.append(Review(decision: "approved", note: "change matches the incident timeline", at: decided))
            s.status = .approved
        } else {
            s.reviews.append(Review(decision: "waived", note: "read-only investigation, nothing changed", at: s.dueAt + 3 * 86400))
            s.status = .waived
        }
        if let last = s.reviews.last {
            s.reviewedAt = last.at
            s.reviewer = reviewer
            s.reviewNote = last.note
        }
        for review in s.reviews {
            s.pages.append(page("retro.\(review.decision)", s, at: review.at, random: &random))
        }
        return s
    }

    /// What compliance has to act on: half linked PRs awaiting review, half overdue with every rung fired.
    private func waiting(_ index: Int, requester: Requester, now: Date, random: inout SplitMix) -> Session {
        var s = opened(requester: requester, at: now - Double(3 + random.next(27)) * 86400 - Double(random.next(86400)), random: &random)
        if index % 2 == 0 {
            s.linkedAt = s.activatedAt + Double(2 + random.next(40)) * 3600
            s.prURL = "https://github.com/acme/payments/pull/\(random.next(10_000))"
            s.status = .linked
            fire(&s, before: s.linkedAt!, random: &random)
        } else {
            fire(&s, before: now, random: &random)
        }
        return s
    }

    /// Activated in the last hours, its retro PR not due yet; the first reminder is still hours away.
    private func owedSoon(requester: Requester, now: Date, random: inout SplitMix) -> Session {
        var s = opened(requester: requester, at: now - 3600 - Double(random.next(9 * 3600)), random: &random)
        s.nextDueAt = ladder.rungs[0].fireTime(windowStart: s.activatedAt, dueAt: s.dueAt)
        return s
    }

    /// Fires, in order, the rungs due before `until`, as the scheduler would have.
    private func fire(_ s: inout Session, before until: Date, random: inout SplitMix) {
        for (level, rung) in ladder.rungs.enumerated() {
            let at = rung.fireTime(windowStart: s.activatedAt, dueAt: s.dueAt)
            guard at < until else { break }
            s.rungs.append(Rung(level: level, name: rung.name, scheduledAt: at, paged: true))
            s.pages.append(page(rung.eventType, s, at: at + 1, random: &random))
        }
        s.nextLevel = s.rungs.count
    }

    private func page(_ type: String, _ s: Session, at: Date, random: inout SplitMix) -> Page {
        Page(type: type, at: at, payload: ["session_id": s.id, "user": s.requester.name, "target": target,
                                           "reason": "INC lock pile-up on payments, kill blockers", "state": s.state],
             retried: random.next(20) == 0)
    }

    // MARK: audit events

    /// The session's audit events in the order the broker would have appended them.
    func events(of s: Session) -> [AuditEvent] {
        let origin = RequestOrigin(address: "10.20.\(s.requester.name.count % 250).\(s.id.utf8.last ?? 1)", userAgent: "breakglass-cli/1")
        var out: [AuditEvent] = [
            AuditEvent(type: .sessionActivated, at: s.activatedAt, actor: s.requester.name, actorRoles: [.engineer], origin: origin,
                       target: target, sessionId: s.id, reason: "INC lock pile-up on \"payments\", kill blockers", incident: "INC-4521",
                       details: ["mfa": "totp", "mfa_outcome": "success", "credential_kind": kind, "audience": audience,
                                 "expires_at": Timestamp.format(s.expiresAt), "retro_due_at": Timestamp.format(s.dueAt), "ttl": "30m"]),
        ]
        let open = s.closedAt.timeIntervalSince(s.activatedAt)
        for n in 0..<s.statements {
            let at = s.activatedAt + open * Double(n + 1) / Double(s.statements + 2)
            if n % 2 == 0 {
                out.append(AuditEvent(type: .sessionStatement, at: at, actor: s.requester.name, target: target, sessionId: s.id,
                                      details: ["statement": "SELECT pid, state, query\nFROM pg_stat_activity\nWHERE datname = 'payments' -- \(n)",
                                                "protocol": "simple", "statement_number": String(n / 2 + 1)]))
            } else {
                out.append(AuditEvent(type: .sessionStatementResult, at: at, actor: s.requester.name, target: target, sessionId: s.id,
                                      details: ["command_tag": "SELECT \(n % 17)", "statement_number": String(n / 2 + 1)]))
            }
        }
        switch s.state {
        case "ended":
            out.append(AuditEvent(type: .sessionEnded, at: s.closedAt, actor: s.requester.name, actorRoles: [.engineer], origin: origin,
                                  target: target, sessionId: s.id))
        case "revoked":
            out.append(AuditEvent(type: .sessionRevoked, at: s.closedAt, actor: reviewer, actorRoles: [.admin], origin: origin, target: target,
                                  sessionId: s.id, reason: s.closeReason))
        default:
            out.append(AuditEvent(type: .sessionExpired, at: s.closedAt, actor: nil, target: target, sessionId: s.id,
                                  details: ["requester": s.requester.name, "expired_at": Timestamp.format(s.expiresAt), "recorded_late_by": "0s"]))
        }
        for rung in s.rungs {
            out.append(AuditEvent(type: .retroEscalated, at: rung.scheduledAt + 1, actor: nil, target: target, sessionId: s.id,
                                  details: ["rung": rung.name, "level": "\(rung.level + 1)/\(ladder.rungs.count)", "event_type": "retro.\(rung.name)",
                                            "scheduled_at": Timestamp.format(rung.scheduledAt), "due_at": Timestamp.format(s.dueAt)]))
        }
        if let linkedAt = s.linkedAt, let url = s.prURL {
            out.append(AuditEvent(type: .retroLinked, at: linkedAt, actor: s.requester.name, actorRoles: [.engineer], origin: origin,
                                  target: target, sessionId: s.id, details: ["pr_url": url, "source": "cli"]))
        }
        for review in s.reviews {
            out.append(AuditEvent(type: .sessionViewed, at: review.at - 60, actor: reviewer, actorRoles: [.compliance], origin: origin,
                                  target: target, sessionId: s.id))
            let type: AuditEventType = review.decision == "approved" ? .retroApproved : review.decision == "rejected" ? .retroRejected : .retroWaived
            out.append(AuditEvent(type: type, at: review.at, actor: reviewer, actorRoles: [.compliance], origin: origin, target: target,
                                  sessionId: s.id, details: ["note": review.note]))
        }
        return out
    }
}

/// A small fast generator (Vigna's SplitMix64), seeded, so two seedings of the same size look alike.
struct SplitMix {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next(_ bound: Int) -> Int {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return Int((z ^ (z >> 31)) % UInt64(bound))
    }
}
