import BreakglassCore
import Foundation
import PostgresNIO

/// Pages queued in the transaction of the event they announce (the transactional outbox).
public struct Outbox: Repository {
    let tx: Tx

    /// Queues a notification in the caller's transaction: it exists exactly when the event it announces does.
    /// The payload's `target` is what per-target routing matches. Every page about a drill session is marked
    /// `"drill": "true"` here, whichever use case queues it (rungs, reviews, GitHub, …): one place, so no
    /// event type of a drill can page as if it were real.
    public func enqueue(type: String, sessionId: String?, payload: [String: String], now: Date) async throws {
        try await insertOutbox(id: UUID(), type: type, sessionId: sessionId, payload: payload, now: now, fannedOutAt: nil)
    }

    /// The one outbox insert: a page about a drill session (by its id, or the payload's `session_id`) is marked.
    private func insertOutbox(id: UUID, type: String, sessionId: String?, payload: [String: String], now: Date, fannedOutAt: Date?) async throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let json = String(decoding: try encoder.encode(payload), as: UTF8.self)
        try await execute("""
            INSERT INTO outbox (id, event_type, session_id, target, payload, created_at, fanned_out_at)
            VALUES (\(id), \(type), \(sessionId), \(payload["target"]),
                    CASE WHEN EXISTS (SELECT 1 FROM sessions WHERE id = \(sessionId ?? payload["session_id"]) AND drill)
                         THEN \(json)::jsonb || jsonb_build_object('drill', 'true') ELSE \(json)::jsonb END,
                    \(now), \(fannedOutAt))
            """)
        pages.mark()
    }

    /// Queues a page about an admin change (marked like any page when it is about a drill session, e.g. an
    /// admin linking someone's drill PR) and fans it out at once to `channels` as they were *before* the
    /// change, each delivery carrying that configuration: a stolen admin token that repoints or narrows a
    /// channel is announced on the old endpoint, and a channel it creates does not hear of itself first.
    public func enqueueAdmin(type: String, payload: [String: String], now: Date, channelsBefore channels: [ChannelRecord]) async throws {
        let id = UUID()
        try await insertOutbox(id: id, type: type, sessionId: nil, payload: payload, now: now, fannedOutAt: now)
        for channel in channels where channel.enabled && channel.routing.matches(eventType: type, target: payload["target"]) {
            try await execute("""
                INSERT INTO deliveries (id, outbox_id, channel_id, state, next_attempt_at, created_at, snapshot_kind, snapshot_config_enc,
                                        snapshot_host)
                VALUES (\(UUID()), \(id), \(channel.id), 'pending', \(now), \(now), \(channel.kind.rawValue), \(Data(channel.configEnc)),
                        \(channel.host))
                """)
        }
    }

    /// Whether a test page for this channel is still waiting (not yet routed, or routed and not yet finished).
    public func testPagePending(channelId: UUID) async throws -> Bool {
        let id = channelId.uuidString.lowercased()
        return !(try await query("""
            SELECT 1 FROM outbox o WHERE o.event_type = 'notify.test' AND o.payload ->> 'channel_id' = \(id)
              AND (o.fanned_out_at IS NULL OR EXISTS (SELECT 1 FROM deliveries d WHERE d.outbox_id = o.id AND d.state = 'pending'))
            LIMIT 1
            """).collect()).isEmpty
    }
}
