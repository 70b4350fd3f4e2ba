import BreakglassCore
import Foundation
import PostgresNIO

/// Everything a proven activation writes, in the caller's transaction: the spent TOTP step, the session,
/// its retro obligation, its page and its audit event.
public struct ActivationRecord: Sendable {
    public var session: EmergencySession
    public var userId: UUID
    /// The TOTP step the proof accepted: spent here, with the rest, so the code works once.
    public var step: Int64
    public var credential: CredentialRef
    public var origin: RequestOrigin
    public var obligation: RetroObligation
    public var pageType: String
    /// Carries the drill mark already (`EmergencySession.pagePayload`): the session row is not visible to the page's
    /// insert in the same statement, so the outbox cannot mark it from there.
    public var page: [String: String]
    public var event: AuditEvent
    public var now: Date

    public init(session: EmergencySession, userId: UUID, step: Int64, credential: CredentialRef, origin: RequestOrigin,
                obligation: RetroObligation, pageType: String, page: [String: String], event: AuditEvent, now: Date) {
        self.session = session
        self.userId = userId
        self.step = step
        self.credential = credential
        self.origin = origin
        self.obligation = obligation
        self.pageType = pageType
        self.page = page
        self.event = event
        self.now = now
    }
}

/// Breaking glass is the path engineers wait on during an incident, so it takes as few round trips as its
/// guarantees allow: BEGIN, one to authenticate and load (the requester locked, with the target), one to lock
/// the audit shard head, one to write everything, COMMIT. Five, where it took thirteen.
public struct ActivationRepository: Repository {
    let tx: Tx

    /// The holder of an unrevoked API token, locked until commit (their TOTP step and failure count change under
    /// this lock), with the token's expiry (the caller refuses expired ones) and the target if one of that name
    /// exists: authentication and the activation's first read in one statement. Nil when no such token is held.
    public func subject(apiTokenHash: [UInt8], target name: String) async throws
        -> (user: UserRecord, tokenExpiresAt: Date, target: Target?)? {
        for try await row in try await query("""
            SELECT u.id, u.name, u.roles, u.totp_seed_enc, u.totp_pending_seed_enc, u.totp_confirmed, u.totp_last_step, u.locked_until,
                   u.created_by, k.expires_at, t.name, t.kind, t.audience, t.max_ttl_seconds, t.max_total_seconds, t.retro_deadline_seconds,
                   t.retro_deadline_from, t.requesters, t.drill_deadline_seconds, t.postgres::text
            FROM api_tokens k JOIN users u ON u.id = k.user_id LEFT JOIN targets t ON t.name = \(name)
            WHERE k.token_hash = \(Data(apiTokenHash)) AND k.revoked_at IS NULL AND u.totp_confirmed
            FOR UPDATE OF u
            """) {
            let r = try row.decode((UUID, String, [String], Data?, Data?, Bool, Int64, Date?, String, Date, String?, String?, String?, Int?,
                                    Int?, Int?, String?, [String]?, Int?, String?).self)
            let user = try UserRecord(id: r.0, name: r.1, roles: r.2, seed: r.3, pending: r.4, confirmed: r.5, step: r.6, locked: r.7,
                                      creator: r.8)
            guard let targetName = r.10, let kind = r.11, let audience = r.12, let ttl = r.13, let total = r.14, let retro = r.15,
                  let from = r.16, let requesters = r.17 else {
                return (user, r.9, nil)
            }
            return (user, r.9, try Target(name: targetName, kind: kind, audience: audience, ttl: ttl, total: total, retro: retro,
                                          from: from, requesters: requesters, drill: r.18, postgres: r.19))
        }
        return nil
    }

    /// Writes a proven activation after locking its audit shard head: the spend, the session, the obligation,
    /// the page, the audit event and the head's move, as one statement.
    public func record(_ a: ActivationRecord) async throws {
        let link = try await nextAuditLink(for: a.event)
        let ladder = String(decoding: try JSONEncoder().encode(a.obligation.ladder), as: UTF8.self)
        let session = a.session, obligation = a.obligation, credential = a.credential
        let pageKeys = Array(a.page.keys), pageValues = pageKeys.map { a.page[$0] ?? "" }
        // The page below is an outbox row like `enqueueNotification`'s: the delivery service is woken after commit.
        pages.mark()
        // Sibling statements of one WITH see the same snapshot, and the obligation's foreign key is checked at
        // the end of the statement, after the session is in.
        try await execute("""
            WITH spent AS (
                UPDATE users SET totp_last_step = \(a.step) WHERE id = \(a.userId) AND totp_last_step < \(a.step)
            ), session AS (
                INSERT INTO sessions (id, user_id, target, credential_kind, reason, incident, state, activated_at, expires_at, hard_limit,
                                      retro_due_at, extensions, credential_ref, client_address, user_agent, drill)
                VALUES (\(session.id), \(a.userId), \(session.target), \(credential.kind.rawValue), \(session.reason), \(session.incident),
                        \(session.state.rawValue), \(session.activatedAt), \(session.expiresAt), \(session.hardLimit), \(session.retroDueAt),
                        \(session.extensions),
                        jsonb_strip_nulls(jsonb_build_object('kind', \(credential.kind.rawValue)::text, 'keyId', \(credential.keyId)::text,
                                                             'tokenId', \(credential.tokenId)::text, 'audience', \(credential.audience)::text,
                                                             'role', \(credential.role)::text)),
                        \(a.origin.address), \(a.origin.userAgent), \(session.drill))
            ), obligation AS (
                INSERT INTO retro_obligations (session_id, status, window_start, due_at, ladder, next_level, next_due_at)
                VALUES (\(obligation.sessionId), \(obligation.status.rawValue), \(obligation.windowStart), \(obligation.dueAt), \(ladder)::jsonb,
                        \(obligation.nextLevel), \(obligation.nextDueAt))
            ), page AS (
                INSERT INTO outbox (id, event_type, session_id, target, payload, created_at, fanned_out_at)
                VALUES (\(UUID()), \(a.pageType), \(session.id), \(a.page["target"]), jsonb_object(\(pageKeys)::text[], \(pageValues)::text[]),
                        \(a.now), NULL)
            ), head AS (
                UPDATE audit_chain_heads SET seq = \(link.seq), hash = \(link.hash) WHERE shard = \(link.shard)
            )
            INSERT INTO audit_events (shard, seq, occurred_at, body, prev_hash, hash)
            VALUES (\(link.shard), \(link.seq), \(a.event.at), \(link.body), \(link.prevHash), \(link.hash))
            """)
    }

    /// Seals the event as the next link of its (now locked) audit shard head.
    private func nextAuditLink(for event: AuditEvent) async throws -> AuditLink {
        try await tx.audit.nextLink(for: event)
    }
}
