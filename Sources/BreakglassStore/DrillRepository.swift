import BreakglassCore
import Foundation
import PostgresNIO

/// What a drill shows of its pages.
public struct DrillRepository: Repository {
    let tx: Tx

    /// Every page of a session, one row per channel it was routed to (one row with no channel while it is
    /// not routed, or when no channel wanted it), in the order the pages were written.
    public func pages(sessionId: String) async throws -> [DrillPageRecord] {
        var out: [DrillPageRecord] = []
        let rows = try await query("""
            SELECT o.id, o.event_type, o.payload ->> 'level', o.created_at, o.fanned_out_at IS NOT NULL, c.name, d.state, d.attempts,
                   (SELECT min(a.attempted_at) FROM delivery_attempts a WHERE a.delivery_id = d.id),
                   (SELECT min(a.attempted_at) FROM delivery_attempts a WHERE a.delivery_id = d.id AND a.outcome = 'delivered'),
                   d.last_error
            FROM outbox o LEFT JOIN deliveries d ON d.outbox_id = o.id LEFT JOIN channels c ON c.id = d.channel_id
            WHERE o.session_id = \(sessionId)
            ORDER BY o.seq, c.name
            """)
        for try await r in rows.decode((UUID, String, String?, Date, Bool, String?, String?, Int?, Date?, Date?, String?).self) {
            // Escalation pages say `level: "N/COUNT"` (1-based), as their audit events do.
            let level = r.1.hasPrefix("retro.") ? r.2.flatMap { $0.split(separator: "/").first }.flatMap { Int($0) }.map { $0 - 1 } : nil
            let state: DrillPageRecord.State? = if let delivery = r.6 {
                .delivery(try DeliveryState(stored: delivery, "a delivery of page \(r.0) (deliveries.state)"))
            } else {
                r.4 ? nil : .queued
            }
            out.append(DrillPageRecord(messageId: r.0.uuidString.lowercased(), eventType: r.1, level: level, queuedAt: r.3, channel: r.5,
                                       state: state, attempts: r.7 ?? 0, firstAttemptAt: r.8, deliveredAt: r.9, lastError: r.10))
        }
        return out
    }
}
