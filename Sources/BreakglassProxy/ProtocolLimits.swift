/// Bounds the decoders enforce before buffering anything, so a peer cannot make the proxy allocate
/// what it merely declares.
public struct ProtocolLimits: Sendable, Hashable {
    /// PostgreSQL itself refuses startup packets over 10 000 bytes (`MAX_STARTUP_PACKET_LENGTH`).
    public var maxStartupPacketLength: Int
    /// Largest typed message (length field, so body + 4). PostgreSQL allows up to 1 GiB; a proxy in
    /// front of an incident database rarely needs more than a few MiB, so the default is lower.
    public var maxMessageLength: Int

    /// The protocol's own ceiling on a message (`PQ_LARGE_MESSAGE_LIMIT`, 1 GiB - 1).
    public static let protocolMaximumMessageLength = (1 << 30) - 1

    public static let `default` = ProtocolLimits()

    public init(maxStartupPacketLength: Int = 10_000, maxMessageLength: Int = 64 << 20) {
        precondition(maxStartupPacketLength >= 8, "a startup packet holds at least its length and code")
        precondition((5...Self.protocolMaximumMessageLength).contains(maxMessageLength), "message limit must be within the protocol's")
        self.maxStartupPacketLength = maxStartupPacketLength
        self.maxMessageLength = maxMessageLength
    }
}
