import BreakglassCore
import Foundation
import PostgresNIO

extension Tx {
    /// Queues a notification in the caller's transaction: it exists exactly when the event it announces does.
    /// The payload's `target` is what per-target routing matches.
    public func enqueueNotification(type: String, sessionId: String?, payload: [String: String], now: Date) async throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let json = String(decoding: try encoder.encode(payload), as: UTF8.self)
        try await execute("""
            INSERT INTO outbox (id, event_type, session_id, target, payload, created_at)
            VALUES (\(UUID()), \(type), \(sessionId), \(payload["target"]), \(json)::jsonb, \(now))
            """)
    }
}
