import BreakglassCore
import Foundation
import PostgresNIO

/// The broker-wide figures `/metrics` exports, read from the database at scrape time: they survive restarts
/// and every instance reports the same values. Counters come from rows that are never deleted (sessions,
/// audit events, delivery attempts), so they only grow.
public struct BrokerFigures: Sendable, Equatable {
    public struct Activations: Sendable, Equatable {
        public var target: String
        /// `granted` or `denied`.
        public var outcome: String
        public var count: Int
    }

    public struct Deliveries: Sendable, Equatable {
        public var channelKind: String
        /// The attempt's outcome: `delivered`, `retry`, `dead` or `gone`.
        public var result: String
        public var count: Int
    }

    public var activations: [Activations] = []
    public var totpFailures = 0
    public var lockouts = 0
    public var sessionsActive = 0
    /// Messages not yet fanned out plus deliveries not yet sent.
    public var outboxPending = 0
    /// Age of the oldest of those (0 when none): a page that waits this long is not reaching anyone.
    public var outboxOldestPendingSeconds: Double = 0
    public var deliveries: [Deliveries] = []
    public var deadLetters = 0
    /// How long the most overdue active session has been past its expiry (0 when none): the expiry service is behind.
    public var expiryLagSeconds: Double = 0

    /// Audit events whose `failure` detail is a refused TOTP code.
    static let proofEvents = ["session.denied", "session.extension_denied", "admin.step_up_denied", "user.token_issued", "user.enrollment_failed"]
}

extension BrokerFigures {
    /// The figures as the database holds them at `now`, read on `tx`'s connection.
    public static func read(_ tx: Tx, now: Date) async throws -> BrokerFigures {
        var figures = BrokerFigures()
        for try await (target, outcome, count) in try await tx.query("""
            SELECT target, 'granted', count(*)::bigint FROM sessions WHERE NOT drill GROUP BY target
            UNION ALL
            SELECT coalesce((body::jsonb) -> 'event' ->> 'target', ''), 'denied', count(*)::bigint
              FROM audit_events WHERE event_type = 'session.denied'
               AND coalesce((body::jsonb) -> 'event' -> 'details' ->> 'drill', 'false') <> 'true' GROUP BY 1
            ORDER BY 1, 2
            """).decode((String, String, Int).self) {
            figures.activations.append(.init(target: target, outcome: outcome, count: count))
        }
        for try await (failures, lockouts) in try await tx.query("""
            SELECT count(*) FILTER (WHERE event_type = ANY(\(BrokerFigures.proofEvents))
                                    AND (body::jsonb) -> 'event' -> 'details' ->> 'failure' IN ('totp_wrong', 'totp_reused'))::bigint,
                   count(*) FILTER (WHERE event_type = 'user.locked')::bigint
              FROM audit_events WHERE event_type = ANY(\(BrokerFigures.proofEvents + ["user.locked"]))
            """).decode((Int, Int).self) {
            (figures.totpFailures, figures.lockouts) = (failures, lockouts)
        }
        for try await (active, lag) in try await tx.query("""
            SELECT count(*) FILTER (WHERE expires_at > \(now))::bigint,
                   coalesce(extract(epoch FROM \(now) - min(expires_at) FILTER (WHERE expires_at <= \(now))), 0)::float8
              FROM sessions WHERE state = 'active'
            """).decode((Int, Double).self) {
            (figures.sessionsActive, figures.expiryLagSeconds) = (active, lag)
        }
        for try await (pending, oldest, dead) in try await tx.query("""
            WITH waiting AS (
                SELECT created_at FROM outbox WHERE fanned_out_at IS NULL
                UNION ALL
                SELECT o.created_at FROM deliveries d JOIN outbox o ON o.id = d.outbox_id WHERE d.state = 'pending'
            )
            SELECT (SELECT count(*) FROM waiting)::bigint,
                   coalesce((SELECT extract(epoch FROM \(now) - min(created_at)) FROM waiting), 0)::float8,
                   (SELECT count(*) FROM deliveries WHERE state = 'dead')::bigint
            """).decode((Int, Double, Int).self) {
            (figures.outboxPending, figures.outboxOldestPendingSeconds, figures.deadLetters) = (pending, max(0, oldest), dead)
        }
        for try await (kind, result, count) in try await tx.query("""
            SELECT coalesce(d.snapshot_kind, c.kind), a.outcome, count(*)::bigint
              FROM delivery_attempts a JOIN deliveries d ON d.id = a.delivery_id JOIN channels c ON c.id = d.channel_id
             GROUP BY 1, 2 ORDER BY 1, 2
            """).decode((String, String, Int).self) {
            figures.deliveries.append(.init(channelKind: kind, result: result, count: count))
        }
        return figures
    }
}
