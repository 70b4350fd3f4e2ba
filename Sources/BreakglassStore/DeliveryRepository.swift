import BreakglassCore
import Foundation
import PostgresNIO

/// A delivery this instance has claimed and may send now.
public struct ClaimedDelivery: Sendable {
    public var id: UUID
    public var attempts: Int
    public var channel: ChannelRecord
    public var message: NotificationMessage
    /// Sent with the channel's configuration from before an admin change: its failure says nothing about the
    /// channel as it is now, so it never disables it.
    public var usesSnapshot = false
}

public struct DeliveryLogEntry: Codable, Sendable {
    public var deliveryId: UUID
    public var channel: String
    public var host: String
    public var eventType: String
    public var sessionId: String?
    public var state: DeliveryState
    public var attemptedAt: Date?
    public var statusCode: Int?
    public var latencyMs: Int?
    public var outcome: DeliveryAttemptOutcome?
    public var errorClass: String?
    public var detail: String?
}

/// Deliveries: one per page and routed channel, claimed and sent by the delivery loops of every instance.
public struct DeliveryRepository: Repository {
    let tx: Tx

    // MARK: fan-out

    /// Turns outbox messages into one delivery per routed channel. Claims messages with SKIP LOCKED so
    /// several instances route disjoint messages. A failure alert never goes to the channel that failed.
    public func routeOutbox(now: Date, limit: Int) async throws -> Int {
        let messages = try await tx.prepared(UnroutedOutboxStatement(limit: limit))
        guard !messages.isEmpty else { return 0 }
        let channels = try await tx.channels.sendable().filter(\.enabled)
        var routed = FanOutStatement(now: now)
        for (id, type, target, payloadData) in messages {
            // Not a corrupt-row error on purpose: one message altered by hand must not stop every page queued behind it.
            // It is routed (and sent) with no fields; the audit chain still holds what happened.
            let payload = (try? JSONDecoder().decode([String: String].self, from: Data(payloadData.utf8))) ?? [:]
            for channel in channels {
                let channelId = channel.id.uuidString.lowercased()
                switch type {
                case "notify.test":
                    // A test page goes to the channel under test whatever its routing, and nowhere else.
                    guard payload["channel_id"] == channelId else { continue }
                case "delivery.failed":
                    guard payload["channel_id"] != channelId, channel.routing.matches(eventType: type, target: target) else { continue }
                default:
                    guard channel.routing.matches(eventType: type, target: target) else { continue }
                }
                routed.deliveries.append((UUID(), id, channel.id))
            }
            routed.messages.append(id)
        }
        _ = try await tx.prepared(routed)
        return messages.count
    }

    // MARK: claims and results

    /// A lane (one channel, one session) with a page in flight is skipped until that send finishes, so a
    /// session's pages reach a channel in order even while the service keeps claiming during slow sends.
    public func claim(now: Date, claimUntil: Date, instance: String, limit: Int) async throws -> [ClaimedDelivery] {
        let ids = try await tx.prepared(ClaimDueStatement(now: now, claimUntil: claimUntil, instance: instance, limit: limit))
        guard !ids.isEmpty else { return [] }
        let channels = Dictionary(uniqueKeysWithValues: try await tx.channels.sendable().map { ($0.id, $0) })
        var out: [ClaimedDelivery] = []
        for (id, attempts, channelId, outboxId, type, sessionId, payload, created, snapshotKind, snapshotConfig, snapshotHost)
            in try await tx.prepared(ClaimedDeliveriesStatement(ids: ids)) {
            guard var channel = channels[channelId] else { continue }
            // An admin page goes where the channel pointed when the change was made (see `Outbox.enqueueAdmin`).
            if let snapshotKind, let snapshotConfig {
                channel.kind = try ChannelKind(stored: snapshotKind, "the channel kind of delivery \(id) (deliveries.snapshot_kind)")
                channel.configEnc = Array(snapshotConfig)
                channel.host = snapshotHost ?? channel.host
            }
            // As in `routeOutbox`: an unreadable payload still pages, with no fields, rather than blocking the claim.
            let fields = (try? JSONDecoder().decode([String: String].self, from: Data(payload.utf8))) ?? [:]
            out.append(ClaimedDelivery(id: id, attempts: attempts, channel: channel,
                                       message: NotificationMessage(id: "msg_" + outboxId.uuidString.lowercased(), type: type,
                                                                    sessionId: sessionId, payload: fields, createdAt: created),
                                       usesSnapshot: snapshotConfig != nil))
        }
        return out
    }

    public func recordAttempt(deliveryId: UUID, at: Date, latencyMs: Int, statusCode: Int?, outcome: DeliveryAttemptOutcome, errorClass: String?,
                              detail: String?, instance: String) async throws {
        try await execute("""
            INSERT INTO delivery_attempts (delivery_id, attempted_at, latency_ms, status_code, outcome, error_class, detail, instance)
            VALUES (\(deliveryId), \(at), \(latencyMs), \(statusCode), \(outcome.rawValue), \(errorClass), \(detail), \(instance))
            """)
    }

    /// Ends or reschedules a claimed delivery. Only the current claimant's result counts, so a late result
    /// from an instance whose claim lapsed (and was taken over) cannot overwrite a newer one.
    @discardableResult
    public func update(id: UUID, claimedBy instance: String, state: DeliveryState, attempted: Bool, nextAttemptAt: Date?,
                       finishedAt: Date?, error: String?) async throws -> Bool {
        let rows = try await query("""
            UPDATE deliveries SET state = \(state.rawValue), attempts = attempts + \(attempted ? 1 : 0), next_attempt_at = coalesce(\(nextAttemptAt), next_attempt_at),
                finished_at = \(finishedAt), last_error = coalesce(\(error), last_error), claimed_until = NULL, claimed_by = NULL
            WHERE id = \(id) AND claimed_by = \(instance) RETURNING id
            """).collect()
        return !rows.isEmpty
    }

    public func log(sessionId: String?, deadOnly: Bool, limit: Int) async throws -> [DeliveryLogEntry] {
        let rows = try await query("""
            SELECT d.id, c.name, coalesce(d.snapshot_host, c.host), o.event_type, o.session_id, d.state, a.attempted_at, a.status_code, a.latency_ms, a.outcome,
                   a.error_class, coalesce(a.detail, d.last_error)
            FROM deliveries d JOIN channels c ON c.id = d.channel_id JOIN outbox o ON o.id = d.outbox_id
            LEFT JOIN delivery_attempts a ON a.delivery_id = d.id
            WHERE (\(sessionId)::text IS NULL OR o.session_id = \(sessionId)) AND (NOT \(deadOnly) OR d.state = 'dead')
            ORDER BY o.created_at DESC, d.id, a.attempted_at LIMIT \(limit)
            """)
        var out: [DeliveryLogEntry] = []
        for try await r in rows.decode((UUID, String, String, String, String?, String, Date?, Int?, Int?, String?, String?, String?).self) {
            out.append(DeliveryLogEntry(
                deliveryId: r.0, channel: r.1, host: r.2, eventType: r.3, sessionId: r.4,
                state: try DeliveryState(stored: r.5, "the state of delivery \(r.0) (deliveries.state)"), attemptedAt: r.6, statusCode: r.7,
                latencyMs: r.8, outcome: try DeliveryAttemptOutcome(stored: r.9, "an attempt of delivery \(r.0) (delivery_attempts.outcome)"),
                errorClass: r.10, detail: r.11))
        }
        return out
    }

    /// Puts a dead letter back in the queue, now. Returns the channel name, or nil if no such dead letter.
    public func redrive(deliveryId: UUID, now: Date) async throws -> String? {
        var name: String?
        for try await channel in try await query("""
            UPDATE deliveries d SET state = 'pending', next_attempt_at = \(now), finished_at = NULL FROM channels c
            WHERE d.id = \(deliveryId) AND d.state = 'dead' AND c.id = d.channel_id RETURNING c.name
            """).decode(String.self) {
            name = channel
        }
        return name
    }
}
