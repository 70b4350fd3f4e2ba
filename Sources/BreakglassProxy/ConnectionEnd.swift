import NIOConcurrencyHelpers
import NIOCore

/// How a proxied connection ended, for its audit record. Only a client that said Terminate ended it in the
/// ordinary way. Otherwise the side that went away first names the end: once one side is gone the proxy ends
/// the other, and what breaks next is a consequence, not the cause. A side that goes away with a FIN or with a
/// reset gets the same record: which of the two the kernel sends depends on whether unread bytes were left in
/// the closing socket, a race that says nothing about the connection.
enum ConnectionEnd: Sendable {
    case clientSaidTerminate
    case clientLeft
    case targetLeft
    case failed(any Error)

    /// The reason recorded with `session.proxy_disconnected`: never a message the client could fill with secrets.
    var reason: String {
        switch self {
        case .clientSaidTerminate: "ended"
        case .clientLeft: "ended: the client closed the connection without Terminate"
        case .targetLeft: "ended: the target closed the connection"
        case .failed(let error): "ended: \(ProxyServer.describe(error))"
        }
    }

    /// A socket that was closed or reset is the peer going away; anything else (malformed input, an
    /// unrecordable statement) is a failure of its own.
    static func leaving(_ error: any Error, left: ConnectionEnd) -> ConnectionEnd {
        error is IOError || error is ChannelError ? left : .failed(error)
    }
}

/// The first end noted for a connection; later ones are what the proxy did about it.
final class FirstEnd: Sendable {
    private let end = NIOLockedValueBox<ConnectionEnd?>(nil)

    func note(_ value: ConnectionEnd) {
        end.withLockedValue { if $0 == nil { $0 = value } }
    }

    /// Notes the end a thrown error means, unless it is a cancellation: the proxy cancels one side because
    /// the other ended, so a cancellation is never the cause.
    func note(_ error: any Error, left: ConnectionEnd) {
        if !(error is CancellationError) { note(ConnectionEnd.leaving(error, left: left)) }
    }

    var value: ConnectionEnd? { end.withLockedValue { $0 } }
}
