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
    /// Sessions whose connections were cut: a connection of theirs that ends was ended by the broker.
    private var cutSessions: Set<String> = []

    public init() {}

    func add(_ channel: any Channel, session: String) {
        entries[ObjectIdentifier(channel)] = Entry(session: session, channel: channel)
    }

    func setBackend(_ channel: any Channel, key: FrontendMessage.BackendKey?, target: TargetConnector.Endpoint) {
        entries[ObjectIdentifier(channel)]?.key = key
        entries[ObjectIdentifier(channel)]?.target = target
    }

    /// Forgets a connection; true when `cut` had closed it (so its end is told as the broker's doing).
    @discardableResult
    func remove(_ channel: any Channel) -> Bool {
        guard let entry = entries.removeValue(forKey: ObjectIdentifier(channel)) else { return false }
        let wasCut = cutSessions.contains(entry.session)
        if wasCut && !entries.values.contains(where: { $0.session == entry.session }) { cutSessions.remove(entry.session) }
        return wasCut
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
        if !channels.isEmpty { cutSessions.insert(session) }
        for channel in channels { try? await channel.close() }
        return channels.count
    }

    /// Notes that the session's connections are being ended by the broker (so their end is told as such).
    func markCut(_ session: String) {
        if entries.values.contains(where: { $0.session == session }) { cutSessions.insert(session) }
    }

    /// Closes every connection (the broker is stopping): an idle client must not hold the shutdown open.
    public func cutAll() async {
        for session in Set(entries.values.map(\.session)) { await cut(session: session) }
    }
}
