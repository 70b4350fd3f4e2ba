import NIOConcurrencyHelpers
import NIOCore

/// Notes that the client sent Terminate, on the event loop as its bytes are decoded. A client that says
/// Terminate and closes its socket may reset it (if the proxy's last bytes were still unread); NIO reads what
/// arrived before the reset and passes it on first, so this handler sees the Terminate before the reset is
/// reported. The task that forwards the client's messages may not: once one side of the connection fails, the
/// proxy cancels that task, and a cancelled stream drops the messages it still held.
final class TerminateWatch: ChannelInboundHandler, Sendable {
    typealias InboundIn = FrontendMessage
    typealias InboundOut = FrontendMessage

    private let seen = NIOLockedValueBox(false)

    var clientSaidTerminate: Bool { seen.withLockedValue { $0 } }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .terminate = unwrapInboundIn(data) { seen.withLockedValue { $0 = true } }
        context.fireChannelRead(data)
    }
}
