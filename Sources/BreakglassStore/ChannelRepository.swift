import BreakglassCore
import Foundation
import PostgresNIO

public struct ChannelRecord: Sendable, Equatable {
    public var id: UUID
    public var name: String
    public var kind: ChannelKind
    public var configEnc: [UInt8]
    public var host: String
    public var routing: ChannelRouting
    public var enabled: Bool
    public var disabledReason: String?
    public var minInterval: TimeInterval

    public init(id: UUID, name: String, kind: ChannelKind, configEnc: [UInt8], host: String, routing: ChannelRouting, enabled: Bool,
                disabledReason: String?, minInterval: TimeInterval) {
        self.id = id
        self.name = name
        self.kind = kind
        self.configEnc = configEnc
        self.host = host
        self.routing = routing
        self.enabled = enabled
        self.disabledReason = disabledReason
        self.minInterval = minInterval
    }

    /// Binds the encrypted configuration to its channel row.
    public static func context(_ id: UUID) -> String { "channel-config:\(id.uuidString.lowercased())" }
}

/// The channels pages go to (Slack, PagerDuty, signed webhooks), their routing and their send pacing.
public struct ChannelRepository: Repository {
    let tx: Tx

    public func find(named name: String) async throws -> ChannelRecord? {
        try await list(name: name).first
    }

    public func list(name: String? = nil) async throws -> [ChannelRecord] {
        try await channelRows(name: name).map { try $0.get() }
    }

    /// For routing and sending: a channel whose stored kind this build cannot read is left out rather than
    /// stopping every page to every other channel. `notify list` and `breakglassd check` still name it.
    func sendable() async throws -> [ChannelRecord] {
        try await channelRows(name: nil).compactMap { try? $0.get() }
    }

    private func channelRows(name: String?) async throws -> [Result<ChannelRecord, BreakglassError>] {
        // Prepared: every pass of the delivery loop reads the channels.
        var out: [Result<ChannelRecord, BreakglassError>] = []
        for (id, name, kind, config, host, events, targets, enabled, reason, interval) in try await tx.prepared(ChannelRowsStatement(name: name)) {
            out.append(Result {
                ChannelRecord(id: id, name: name, kind: try ChannelKind(stored: kind, "the kind of channel \(name) (channels.kind)"),
                              configEnc: Array(config), host: host,
                              routing: ChannelRouting(events: events, targets: targets), enabled: enabled, disabledReason: reason,
                              minInterval: TimeInterval(interval) / 1000)
            }.mapError { $0 as? BreakglassError ?? BreakglassError.corruptRow("channel \(name) (channels)") })
        }
        return out
    }

    public func save(_ channel: ChannelRecord, by admin: String, now: Date) async throws {
        try await execute("""
            INSERT INTO channels (id, name, kind, config_enc, host, events, targets, enabled, min_interval_ms, created_at, updated_at, updated_by)
            VALUES (\(channel.id), \(channel.name), \(channel.kind.rawValue), \(Data(channel.configEnc)), \(channel.host), \(channel.routing.events),
                    \(channel.routing.targets), true, \(Int(channel.minInterval * 1000)), \(now), \(now), \(admin))
            ON CONFLICT (name) DO UPDATE SET kind = EXCLUDED.kind, config_enc = EXCLUDED.config_enc, host = EXCLUDED.host,
                events = EXCLUDED.events, targets = EXCLUDED.targets, enabled = true, disabled_reason = NULL,
                min_interval_ms = EXCLUDED.min_interval_ms, updated_at = EXCLUDED.updated_at, updated_by = EXCLUDED.updated_by
            """)
    }

    public func disable(id: UUID, reason: String) async throws {
        try await execute("UPDATE channels SET enabled = false, disabled_reason = \(reason) WHERE id = \(id)")
    }

    public func enable(name: String) async throws -> Bool {
        !(try await query("UPDATE channels SET enabled = true, disabled_reason = NULL WHERE name = \(name) RETURNING id").collect()).isEmpty
    }

    /// Takes the channel's next send slot if it is free now (shared by all instances); false means wait.
    public func takeSendSlot(channelId: UUID, interval: TimeInterval, now: Date) async throws -> Date? {
        let taken = try await query("""
            UPDATE channels SET next_send_at = \(now + interval) WHERE id = \(channelId) AND next_send_at <= \(now) RETURNING id
            """).collect()
        if !taken.isEmpty { return nil }
        var next = now + interval
        for try await at in try await query("SELECT next_send_at FROM channels WHERE id = \(channelId)").decode(Date.self) { next = at }
        return next
    }
}

struct ChannelRowsStatement: PostgresPreparedStatement {
    static let sql = """
        SELECT id, name, kind, config_enc, host, events, targets, enabled, disabled_reason, min_interval_ms FROM channels
        WHERE $1::text IS NULL OR name = $1 ORDER BY name
        """
    static let bindingDataTypes: [PostgresDataType] = [.text]
    typealias Row = (UUID, String, String, Data, String, [String], [String], Bool, String?, Int)

    var name: String?

    func makeBindings() throws -> PostgresBindings {
        var bindings = PostgresBindings(capacity: 1)
        bindings.append(name)
        return bindings
    }

    func decodeRow(_ row: PostgresRow) throws -> Row { try row.decode(Row.self) }
}
