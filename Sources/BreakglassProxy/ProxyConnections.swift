import NIOCore

/// The proxy's live client connections by session, so that end/expiry/revoke can cut them, and the
/// target backend keys they were given, so that a CancelRequest reaches only a backend of the proxy's
/// own connections (a client cannot cancel queries of other sessions or of the target's other users).
public actor ProxyConnections {
    struct Entry {
        var session: String
        var channel: any Channel
        var key: FrontendMessage.BackendKey?
        var target: TargetConnector.Endpoint?
    }

    private var entries: [ObjectIdentifier: Entry] = [:]

    public init() {}

    func add(_ channel: any Channel, session: String) {
        entries[ObjectIdentifier(channel)] = Entry(session: session, channel: channel)
    }

    func setBackend(_ channel: any Channel, key: FrontendMessage.BackendKey?, target: TargetConnector.Endpoint) {
        entries[ObjectIdentifier(channel)]?.key = key
        entries[ObjectIdentifier(channel)]?.target = target
    }

    func remove(_ channel: any Channel) {
        entries[ObjectIdentifier(channel)] = nil
    }

    /// The target of a live connection given this key, if any.
    func target(forCancel key: FrontendMessage.BackendKey) -> TargetConnector.Endpoint? {
        entries.values.first { $0.key == key }?.target
    }

    /// How many client connections a session has open.
    public func count(session: String) -> Int {
        entries.values.filter { $0.session == session }.count
    }

    /// Closes every connection of the session; returns how many were open.
    @discardableResult
    public func cut(session: String) async -> Int {
        let channels = entries.values.filter { $0.session == session }.map(\.channel)
        for channel in channels { try? await channel.close() }
        return channels.count
    }
}
