import Foundation
import PostgresNIO

// The delivery loop's statements, prepared once per connection (`Tx.prepared`): the loop runs a pass after every
// committed page, and planning the claim's query alone cost PostgreSQL more CPU than the activation that queued the page.

/// Outbox messages not yet fanned out, oldest first, locked so that several instances route disjoint messages.
struct UnroutedOutboxStatement: PostgresPreparedStatement {
    static let sql = """
        SELECT id, event_type, target, payload::text FROM outbox WHERE fanned_out_at IS NULL
        ORDER BY created_at LIMIT $1 FOR UPDATE SKIP LOCKED
        """
    static let bindingDataTypes: [PostgresDataType] = [.int8]
    typealias Row = (UUID, String, String?, String)

    var limit: Int

    func makeBindings() throws -> PostgresBindings {
        var bindings = PostgresBindings(capacity: 1)
        bindings.append(Int64(limit))
        return bindings
    }

    func decodeRow(_ row: PostgresRow) throws -> Row { try row.decode(Row.self) }
}

/// One delivery per routed (message, channel), and every message of the pass marked as fanned out, in one statement.
struct FanOutStatement: PostgresPreparedStatement {
    static let sql = """
        WITH routed AS (
            INSERT INTO deliveries (id, outbox_id, channel_id, state, next_attempt_at, created_at)
            SELECT d.id, d.outbox_id, d.channel_id, 'pending', $1, $1 FROM unnest($2::uuid[], $3::uuid[], $4::uuid[]) AS d (id, outbox_id, channel_id)
            ON CONFLICT DO NOTHING
        )
        UPDATE outbox SET fanned_out_at = $1 WHERE id = ANY($5)
        """
    static let bindingDataTypes: [PostgresDataType] = [.timestamptz, .uuidArray, .uuidArray, .uuidArray, .uuidArray]
    typealias Row = ()

    var now: Date
    /// (delivery id, outbox message, channel)
    var deliveries: [(UUID, UUID, UUID)] = []
    var messages: [UUID] = []

    init(now: Date) {
        self.now = now
    }

    func makeBindings() throws -> PostgresBindings {
        var bindings = PostgresBindings(capacity: 5)
        bindings.append(now)
        bindings.append(deliveries.map(\.0))
        bindings.append(deliveries.map(\.1))
        bindings.append(deliveries.map(\.2))
        bindings.append(messages)
        return bindings
    }

    func decodeRow(_ row: PostgresRow) throws -> Row {}
}

/// Claims due deliveries of enabled channels, skipping a lane (one channel, one session) with a page in flight.
struct ClaimDueStatement: PostgresPreparedStatement {
    static let sql = """
        WITH due AS (
            SELECT d.id FROM deliveries d JOIN channels c ON c.id = d.channel_id JOIN outbox o ON o.id = d.outbox_id
            WHERE d.state = 'pending' AND d.next_attempt_at <= $1 AND (d.claimed_until IS NULL OR d.claimed_until < $1) AND c.enabled
              AND NOT EXISTS (SELECT 1 FROM deliveries f JOIN outbox fo ON fo.id = f.outbox_id
                              WHERE f.channel_id = d.channel_id AND f.state = 'pending' AND f.claimed_until IS NOT NULL
                                AND f.claimed_until >= $1 AND fo.session_id = o.session_id)
            ORDER BY d.next_attempt_at, o.seq LIMIT $4 FOR UPDATE OF d SKIP LOCKED)
        UPDATE deliveries d SET claimed_until = $2, claimed_by = $3 FROM due WHERE d.id = due.id RETURNING d.id
        """
    static let bindingDataTypes: [PostgresDataType] = [.timestamptz, .timestamptz, .text, .int8]
    typealias Row = UUID

    var now: Date
    var claimUntil: Date
    var instance: String
    var limit: Int

    func makeBindings() throws -> PostgresBindings {
        var bindings = PostgresBindings(capacity: 4)
        bindings.append(now)
        bindings.append(claimUntil)
        bindings.append(instance)
        bindings.append(Int64(limit))
        return bindings
    }

    func decodeRow(_ row: PostgresRow) throws -> Row { try row.decode(UUID.self) }
}

/// What the claimed deliveries carry, in the order they are to be sent.
struct ClaimedDeliveriesStatement: PostgresPreparedStatement {
    static let sql = """
        SELECT d.id, d.attempts, d.channel_id, o.id, o.event_type, o.session_id, o.payload::text, o.created_at,
               d.snapshot_kind, d.snapshot_config_enc, d.snapshot_host
        FROM deliveries d JOIN outbox o ON o.id = d.outbox_id WHERE d.id = ANY($1) ORDER BY d.next_attempt_at, o.seq
        """
    static let bindingDataTypes: [PostgresDataType] = [.uuidArray]
    typealias Row = (UUID, Int, UUID, UUID, String, String?, String, Date, String?, Data?, String?)

    var ids: [UUID]

    func makeBindings() throws -> PostgresBindings {
        var bindings = PostgresBindings(capacity: 1)
        bindings.append(ids)
        return bindings
    }

    func decodeRow(_ row: PostgresRow) throws -> Row { try row.decode(Row.self) }
}
