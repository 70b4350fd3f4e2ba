import BreakglassCore
import Foundation
import PostgresNIO

extension Tx {
    /// Queues a notification in the caller's transaction: it exists exactly when the event it announces does.
    public func enqueueNotification(type: String, sessionId: String?, payload: [String: String], now: Date) async throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let json = String(decoding: try encoder.encode(payload), as: UTF8.self)
        try await execute("""
            INSERT INTO outbox (id, event_type, session_id, payload, created_at, available_at)
            VALUES (\(UUID()), \(type), \(sessionId), \(json)::jsonb, \(now), \(now))
            """)
    }

    public func pendingNotificationCount() async throws -> Int {
        var count = 0
        for try await n in try await query("SELECT count(*)::bigint FROM outbox WHERE delivered_at IS NULL").decode(Int.self) { count = n }
        return count
    }
}
