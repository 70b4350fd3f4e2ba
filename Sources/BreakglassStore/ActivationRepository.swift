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

/// What `ActivationRepository.glance` read, unlocked: the requester, the target (nil when none has that name), the
/// token's expiry, and the version of each row.
public struct ActivationGlance: Sendable {
    public var user: UserRecord
    public var tokenExpiresAt: Date
    public var target: Target?
    var versions: (user: String, token: String, target: String?)
}

/// The requester of an activation, the target they named, and the audit shard head the activation's event will
/// extend, all as the first statement read (and locked) them.
public struct ActivationSubject: Sendable {
    public var user: UserRecord
    public var tokenExpiresAt: Date
    /// Nil when no target of that name exists.
    public var target: Target?
    /// Locked until commit, like `audit.append`'s head: `record` links the event to it.
    var head: ChainHead
}

/// Breaking glass is the path engineers wait on during an incident, so it takes as few round trips as its
/// guarantees allow. The common case reads unlocked (`glance`), writes in one statement (`recordIfUnchanged`) and
/// checks the commit: three. Anything else takes the locked transaction: BEGIN, one to authenticate, load and lock
/// (the requester, with the target and the audit shard head), one to write everything, COMMIT. Every statement is
/// prepared once per connection (`Tx.prepared`).
public struct ActivationRepository: Repository {
    let tx: Tx

    /// The requester, their token and the target as they are now, read without locking anything, with the version
    /// (xmin) of each row: `recordIfUnchanged` writes only if all three are still those versions. Nil when no such
    /// token is held.
    public func glance(apiTokenHash: [UInt8], target name: String) async throws -> ActivationGlance? {
        guard let r = try await tx.prepared(ActivationGlanceStatement(tokenHash: Data(apiTokenHash), target: name)).first else { return nil }
        let (user, target) = try ActivationRequester.read(user: (r.0, r.1, r.2, r.3, r.4, r.5, r.6, r.7, r.8),
                                                          target: (r.10, r.11, r.12, r.13, r.14, r.15, r.16, r.17, r.18, r.19))
        return ActivationGlance(user: user, tokenExpiresAt: r.9, target: target, versions: (r.20, r.21, target == nil ? nil : r.22))
    }

    /// Writes a proven activation decided on `glance`, in one statement outside any transaction block
    /// (`breakglass_activate`, sql/0012): the spend, the session, its obligation, its page and its audit event linked
    /// to the shard's head, which is locked only for this statement. False, with nothing written, when the requester,
    /// their token or the target changed since the glance, or the step is spent: the caller decides again under locks.
    public func recordIfUnchanged(_ a: ActivationRecord, tokenHash: [UInt8], glance: ActivationGlance) async throws -> Bool {
        guard let targetVersion = glance.versions.target else { return false }
        let (before, after) = AuditChain.bodyAroundSeq(a.event, shard: AuditChain.shard(for: a.event.shardKey))
        let statement = ActivationInOneStatement(record: a, tokenHash: Data(tokenHash),
                                                 versions: (glance.versions.user, glance.versions.token, targetVersion),
                                                 bodyBeforeSeq: before, bodyAfterSeq: after)
        let written = try await tx.prepared(statement).first ?? false
        guard written else { return false }
        // The statement commits at the Sync after its result, and postgres-nio ends the result at CommandComplete, so
        // an abort after it (a cancel or termination landing before the commit, a full NOTIFY queue) would go unheard.
        // postgres-nio starts the next statement on a connection only once the previous one's ReadyForQuery arrived, and
        // after an error that follows a result it never answers again (the caller then hears "unavailable" at the
        // database deadline): this one answering means the activation committed. One round trip more, for certainty.
        try await tx.execute("SELECT 1")
        // As `outbox.enqueue`'s page: the delivery service is woken once this has committed.
        pages.mark()
        return true
    }

    /// The holder of an unrevoked API token, locked until commit (their TOTP step and failure count change under
    /// this lock), with the token's expiry (the caller refuses expired ones), the target if one of that name
    /// exists, and the head of `auditShard` locked as `audit.append` locks it: authentication, the activation's
    /// first read and its chain lock in one statement. Nil when no such token is held (nothing is locked then).
    public func subject(apiTokenHash: [UInt8], target name: String, auditShard: Int) async throws -> ActivationSubject? {
        let statement = ActivationSubjectStatement(tokenHash: Data(apiTokenHash), target: name, shard: auditShard)
        guard let r = try await tx.prepared(statement).first else { return nil }
        guard let seq = r.20, let hash = r.21 else {
            throw BreakglassError(.internalFailure, "audit_head_missing", "audit chain head for shard \(auditShard) is missing")
        }
        let (user, target) = try ActivationRequester.read(user: (r.0, r.1, r.2, r.3, r.4, r.5, r.6, r.7, r.8),
                                                          target: (r.10, r.11, r.12, r.13, r.14, r.15, r.16, r.17, r.18, r.19))
        return ActivationSubject(user: user, tokenExpiresAt: r.9, target: target, head: ChainHead(shard: auditShard, seq: seq, hash: hash))
    }

    /// Writes a proven activation as the next link of the shard head `subject` locked: the spend, the session,
    /// the obligation, the page, the audit event and the head's move, as one statement.
    public func record(_ a: ActivationRecord, extending subject: ActivationSubject) async throws {
        let head = subject.head
        // The head was locked for the event's shard before the event existed; an event of another shard would
        // fork that shard's chain, so it is refused rather than written.
        guard AuditChain.shard(for: a.event.shardKey) == head.shard else {
            throw BreakglassError(.internalFailure, "audit_shard_mismatch", "the activation's audit event belongs to another shard than the one locked")
        }
        let sealed = AuditChain.seal(a.event, shard: head.shard, seq: head.seq + 1, prevHash: head.hash)
        let link = AuditLink(shard: head.shard, seq: head.seq + 1, prevHash: head.hash, body: sealed.body, hash: sealed.hash)
        // The page below is an outbox row like `outbox.enqueue`'s: the delivery service is woken after commit.
        pages.mark()
        _ = try await tx.prepared(ActivationWriteStatement(record: a, link: link))
    }
}

/// The requester, their token's expiry and the target named: the columns `subject` and `glance` both read first,
/// in this order, and the records made of them.
enum ActivationRequester {
    static let columns = """
        u.id, u.name, u.roles, u.totp_seed_enc, u.totp_pending_seed_enc, u.totp_confirmed, u.totp_last_step, u.locked_until, \
        u.created_by, k.expires_at, t.name AS target_name, t.kind, t.audience, t.max_ttl_seconds, t.max_total_seconds, \
        t.retro_deadline_seconds, t.retro_deadline_from, t.requesters, t.drill_deadline_seconds, t.postgres::text AS postgres
        """

    /// The target is nil when no target has the name (its columns are all NULL then).
    static func read(user u: (UUID, String, [String], Data?, Data?, Bool, Int64, Date?, String),
                     target t: (String?, String?, String?, Int?, Int?, Int?, String?, [String]?, Int?, String?)) throws -> (UserRecord, Target?) {
        let user = try UserRecord(id: u.0, name: u.1, roles: u.2, seed: u.3, pending: u.4, confirmed: u.5, step: u.6, locked: u.7, creator: u.8)
        guard let name = t.0, let kind = t.1, let audience = t.2, let ttl = t.3, let total = t.4, let retro = t.5, let from = t.6,
              let requesters = t.7 else { return (user, nil) }
        return (user, try Target(name: name, kind: kind, audience: audience, ttl: ttl, total: total, retro: retro, from: from,
                                 requesters: requesters, drill: t.8, postgres: t.9))
    }
}

/// `subject`'s statement. The requester's row is locked before the audit head, in the order every other use case
/// takes them (user, then head): the head's CTE runs only once the requester's has produced its locked row, so an
/// unknown token locks nothing and two use cases never wait on each other's locks in a cycle. The head is joined
/// from the outside, so a missing head row reads as NULLs (an internal error), not as an unknown token.
struct ActivationSubjectStatement: PostgresPreparedStatement {
    static let sql = """
        WITH subject AS MATERIALIZED (
            SELECT \(ActivationRequester.columns)
            FROM api_tokens k JOIN users u ON u.id = k.user_id LEFT JOIN targets t ON t.name = $2
            WHERE k.token_hash = $1 AND k.revoked_at IS NULL AND u.totp_confirmed
            FOR UPDATE OF u
        ), head AS MATERIALIZED (
            SELECT seq, hash FROM audit_chain_heads WHERE shard = $3 AND EXISTS (SELECT 1 FROM subject) FOR UPDATE
        )
        SELECT subject.*, head.seq, head.hash FROM subject LEFT JOIN head ON true
        """
    static let bindingDataTypes: [PostgresDataType] = [.bytea, .text, .int8]
    typealias Row = (UUID, String, [String], Data?, Data?, Bool, Int64, Date?, String, Date, String?, String?, String?, Int?, Int?, Int?,
                     String?, [String]?, Int?, String?, Int64?, String?)

    var tokenHash: Data
    var target: String
    var shard: Int

    func makeBindings() throws -> PostgresBindings {
        var bindings = PostgresBindings(capacity: 3)
        try bindings.append(tokenHash)
        bindings.append(target)
        bindings.append(Int64(shard))
        return bindings
    }

    func decodeRow(_ row: PostgresRow) throws -> Row { try row.decode(Row.self) }
}

/// `record`'s statement. Sibling statements of one WITH see the same snapshot, and the obligation's
/// foreign key is checked at the end of the statement, after the session is in.
struct ActivationWriteStatement: PostgresPreparedStatement {
    static let sql = """
        WITH spent AS (
            UPDATE users SET totp_last_step = $1 WHERE id = $2 AND totp_last_step < $1
        ), session AS (
            INSERT INTO sessions (id, user_id, target, credential_kind, reason, incident, state, activated_at, expires_at, hard_limit,
                                  retro_due_at, extensions, credential_ref, client_address, user_agent, drill)
            VALUES ($3, $2, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13,
                    jsonb_strip_nulls(jsonb_build_object('kind', $5::text, 'keyId', $14::text, 'tokenId', $15::text,
                                                         'audience', $16::text, 'role', $17::text)),
                    $18, $19, $20)
        ), obligation AS (
            INSERT INTO retro_obligations (session_id, status, window_start, due_at, ladder, next_level, next_due_at)
            VALUES ($3, $21, $22, $23, $24::jsonb, $25, $26)
        ), page AS (
            INSERT INTO outbox (id, event_type, session_id, target, payload, created_at, fanned_out_at)
            VALUES ($27, $28, $3, $29, jsonb_object($30::text[], $31::text[]), $32, NULL)
        ), head AS (
            UPDATE audit_chain_heads SET seq = $34, hash = $37 WHERE shard = $33
        )
        INSERT INTO audit_events (shard, seq, occurred_at, body, prev_hash, hash)
        VALUES ($33, $34, $35, $36, $38, $37)
        """
    static let bindingDataTypes: [PostgresDataType] = [
        .int8, .uuid, .text, .text, .text, .text, .text, .text, .timestamptz, .timestamptz, // $1-$10
        .timestamptz, .timestamptz, .int8, .text, .text, .text, .text, .text, .text, .bool, // $11-$20
        .text, .timestamptz, .timestamptz, .text, .int8, .timestamptz, .uuid, .text, .text, .textArray, // $21-$30
        .textArray, .timestamptz, .int8, .int8, .timestamptz, .text, .text, .text, // $31-$38
    ]
    typealias Row = ()

    var record: ActivationRecord
    var link: AuditLink

    func makeBindings() throws -> PostgresBindings {
        let a = record, session = a.session
        var b = PostgresBindings(capacity: 38)
        b.append(a.step)
        b.append(a.userId)
        b.append(session.id)
        b.append(session.target)
        try a.appendSessionObligationAndPage(to: &b)
        b.append(Int64(link.shard))
        b.append(link.seq)
        b.append(a.event.at)
        b.append(link.body)
        b.append(link.hash)
        b.append(link.prevHash)
        return b
    }

    func decodeRow(_ row: PostgresRow) throws -> Row {}
}

/// `glance`'s statement: `subject`'s read without its locks and without the chain head, with each row's xmin.
struct ActivationGlanceStatement: PostgresPreparedStatement {
    static let sql = """
        SELECT \(ActivationRequester.columns), u.xmin::text, k.xmin::text, t.xmin::text
        FROM api_tokens k JOIN users u ON u.id = k.user_id LEFT JOIN targets t ON t.name = $2
        WHERE k.token_hash = $1 AND k.revoked_at IS NULL AND u.totp_confirmed
        """
    static let bindingDataTypes: [PostgresDataType] = [.bytea, .text]
    typealias Row = (UUID, String, [String], Data?, Data?, Bool, Int64, Date?, String, Date, String?, String?, String?, Int?, Int?, Int?,
                     String?, [String]?, Int?, String?, String, String, String?)

    var tokenHash: Data
    var target: String

    func makeBindings() throws -> PostgresBindings {
        var bindings = PostgresBindings(capacity: 2)
        try bindings.append(tokenHash)
        bindings.append(target)
        return bindings
    }

    func decodeRow(_ row: PostgresRow) throws -> Row { try row.decode(Row.self) }
}

/// `recordIfUnchanged`'s statement.
struct ActivationInOneStatement: PostgresPreparedStatement {
    static let sql = """
        SELECT breakglass_activate($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17,
                                   jsonb_strip_nulls(jsonb_build_object('kind', $9::text, 'keyId', $18::text, 'tokenId', $19::text,
                                                                        'audience', $20::text, 'role', $21::text)),
                                   $22, $23, $24, $25, $26, $27, $28::jsonb, $29, $30, $31, $32, $33, $34, $35, $36, $37, $38, $39, $40)
        """
    static let bindingDataTypes: [PostgresDataType] = [
        .uuid, .text, .bytea, .text, .text, .text, .int8, .text, .text, .text, // $1-$10
        .text, .text, .timestamptz, .timestamptz, .timestamptz, .timestamptz, .int8, .text, .text, .text, // $11-$20
        .text, .text, .text, .bool, .text, .timestamptz, .timestamptz, .text, .int8, .timestamptz, // $21-$30
        .uuid, .text, .text, .textArray, .textArray, .timestamptz, .int8, .timestamptz, .text, .text, // $31-$40
    ]
    typealias Row = Bool

    var record: ActivationRecord
    var tokenHash: Data
    var versions: (user: String, token: String, target: String)
    var bodyBeforeSeq: String
    var bodyAfterSeq: String

    func makeBindings() throws -> PostgresBindings {
        let a = record, session = a.session
        var b = PostgresBindings(capacity: 40)
        b.append(a.userId)
        b.append(versions.user)
        try b.append(tokenHash)
        b.append(versions.token)
        b.append(session.target)
        b.append(versions.target)
        b.append(a.step)
        b.append(session.id)
        try a.appendSessionObligationAndPage(to: &b)
        b.append(Int64(AuditChain.shard(for: a.event.shardKey)))
        b.append(a.event.at)
        b.append(bodyBeforeSeq)
        b.append(bodyAfterSeq)
        return b
    }

    func decodeRow(_ row: PostgresRow) throws -> Row { try row.decode(Bool.self) }
}

extension ActivationRecord {
    /// The values both activation statements write in the same order: the session from its credential kind on, its
    /// obligation, and its page.
    func appendSessionObligationAndPage(to b: inout PostgresBindings) throws {
        let session = self.session, obligation = self.obligation, credential = self.credential
        let pageKeys = Array(page.keys), pageValues = pageKeys.map { page[$0] ?? "" }
        b.append(credential.kind.rawValue)
        b.append(session.reason)
        b.append(session.incident)
        b.append(session.state.rawValue)
        b.append(session.activatedAt)
        b.append(session.expiresAt)
        b.append(session.hardLimit)
        b.append(session.retroDueAt)
        b.append(Int64(session.extensions))
        b.append(credential.keyId)
        b.append(credential.tokenId)
        b.append(credential.audience)
        b.append(credential.role)
        b.append(origin.address)
        b.append(origin.userAgent)
        b.append(session.drill)
        b.append(obligation.status.rawValue)
        b.append(obligation.windowStart)
        b.append(obligation.dueAt)
        b.append(try StoredLadder.json(obligation.ladder))
        b.append(Int64(obligation.nextLevel))
        b.append(obligation.nextDueAt)
        b.append(UUID())
        b.append(pageType)
        b.append(page["target"])
        b.append(pageKeys)
        b.append(pageValues)
        b.append(now)
    }
}
