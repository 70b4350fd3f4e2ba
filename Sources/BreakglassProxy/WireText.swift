/// A NUL-terminated string from the wire, kept as the exact bytes the peer sent.
///
/// PostgreSQL strings are in the client encoding, which need not be UTF-8; keeping the bytes
/// (rather than a decoded `String`) is what lets the proxy re-emit a message byte for byte.
/// `string` is for display and recording only.
public struct WireText: Sendable, Hashable, ExpressibleByStringLiteral, CustomStringConvertible {
    /// The bytes without the terminating NUL; never contains a NUL.
    public private(set) var bytes: [UInt8]

    /// Text the proxy itself writes. A NUL would end the string early on the wire, so it is dropped.
    public init(_ string: String) {
        self.bytes = Array(string.utf8).filter { $0 != 0 }
    }

    public init(stringLiteral value: String) {
        self.init(value)
    }

    /// Bytes read from the wire; the decoder guarantees they hold no NUL.
    init(wireBytes: [UInt8]) {
        self.bytes = wireBytes
    }

    /// The text decoded as UTF-8, invalid sequences replaced: for humans and records, never for forwarding.
    public var string: String { String(decoding: bytes, as: UTF8.self) }

    public var description: String { string }
}
