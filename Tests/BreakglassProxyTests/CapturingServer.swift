import BreakglassProxy
import BreakglassSystem
import Foundation
import NIOCore
import NIOPosix

/// Plays just enough of a PostgreSQL server, on a loopback port, for a real client (psql, pgbench) to
/// log in with a cleartext password and run its statements; hands back what the client sent, both as
/// raw bytes and as decoded messages, one capture per connection as each one closes.
struct CapturingServer {
    struct Capture: Sendable {
        var bytes: [UInt8]
        var messages: [FrontendMessage]
        /// The server's answers, in order, to replay into a recorder after the client's messages.
        var replies: [BackendMessage]
    }

    let channel: any Channel
    /// Clients may open more than one connection (pgbench checks the server first, then runs).
    let captures: AsyncStream<Capture>
    var port: Int { channel.localAddress!.port! }

    static func start() async throws -> CapturingServer {
        let (captures, continuation) = AsyncStream.makeStream(of: Capture.self)
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .childChannelInitializer { child in
                child.eventLoop.makeCompletedFuture {
                    let raw = RawBytes()
                    try child.pipeline.syncOperations.addHandlers(
                        raw, ByteToMessageHandler(FrontendMessageDecoder()), ScriptedServer(raw: raw, finished: continuation))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        return CapturingServer(channel: channel, captures: captures)
    }

    func stop() async throws {
        try await channel.close()
    }
}

/// Keeps every byte the client sent, before framing, to compare with the re-encoded messages.
private final class RawBytes: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    var bytes: [UInt8] = []

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        bytes += unwrapInboundIn(data).readableBytesView
        context.fireChannelRead(data)
    }
}

/// Answers each message as PostgreSQL would for a one-column, one-row world. Lives on one event loop.
private final class ScriptedServer: ChannelInboundHandler {
    typealias InboundIn = FrontendMessage
    typealias OutboundOut = ByteBuffer

    let raw: RawBytes
    let finished: AsyncStream<CapturingServer.Capture>.Continuation
    var messages: [FrontendMessage] = []
    var sent: [BackendMessage] = []

    init(raw: RawBytes, finished: AsyncStream<CapturingServer.Capture>.Continuation) {
        self.raw = raw
        self.finished = finished
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let message = unwrapInboundIn(data)
        messages.append(message)
        let column = BackendMessage.ColumnDescription(name: "answer", tableOID: 0, columnAttributeNumber: 0, typeOID: 23, typeSize: 4,
                                                      typeModifier: -1, format: 0)
        let row = BackendMessage.dataRow(.init(columns: [ByteBuffer(string: "42")]))
        var out = context.channel.allocator.buffer(capacity: 256)
        var replies: [BackendMessage] = []
        switch message {
        case .sslRequest, .gssEncRequest:
            out.writeInteger(UInt8(ascii: "N"))  // not a typed message: the one-byte refusal
        case .startup:
            replies = [.authentication(.cleartextPassword)]
        case .password:
            replies = [.authentication(.ok), .parameterStatus(name: "server_version", value: "15.0"),
                       .parameterStatus(name: "client_encoding", value: "UTF8"), .parameterStatus(name: "standard_conforming_strings", value: "on"),
                       .parameterStatus(name: "integer_datetimes", value: "on"), .backendKeyData(.init(processID: 4242, secretKey: 99)),
                       .readyForQuery(.idle)]
        case .query:
            replies = [.rowDescription([column]), row, .commandComplete(tag: "SELECT 1"), .readyForQuery(.idle)]
        case .parse:
            replies = [.other(type: UInt8(ascii: "1"), body: ByteBuffer())]
        case .bind:
            replies = [.other(type: UInt8(ascii: "2"), body: ByteBuffer())]
        case .describe(let object):
            if object.kind == .statement { replies = [.other(type: UInt8(ascii: "t"), body: ByteBuffer(bytes: [0, 0]))] }
            replies.append(.rowDescription([column]))
        case .execute:
            replies = [row, .commandComplete(tag: "SELECT 1")]
        case .sync:
            replies = [.readyForQuery(.idle)]
        case .close:
            replies = [.other(type: UInt8(ascii: "3"), body: ByteBuffer())]
        case .terminate:
            context.close(promise: nil)
            return
        case .cancelRequest, .flush, .functionCall, .other:
            break
        }
        sent += replies
        for reply in replies { reply.encode(into: &out) }
        if out.readableBytes > 0 { context.writeAndFlush(wrapOutboundOut(out), promise: nil) }
    }

    func channelInactive(context: ChannelHandlerContext) {
        finished.yield(.init(bytes: raw.bytes, messages: messages, replies: sent))
        context.fireChannelInactive()
    }

    /// A decoding error ends the connection; the capture then shows how far the client got.
    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        messages.append(.other(type: 0, body: ByteBuffer(string: "error: \(error)")))
        context.close(promise: nil)
    }
}

/// Runs a PostgreSQL client binary to completion; returns its exit status and output.
func runClient(_ path: String, _ arguments: [String], password: String) async throws -> (status: Int32, output: String) {
    // Only what the client needs: no PGSERVICE, PGSSLMODE or PGHOST from the caller's environment.
    let environment = ["PGPASSWORD": password, "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "PGCLIENTENCODING": "UTF8"]
    let outcome = try await ChildProcess(path, arguments, environment: environment).run(mergingErrorIntoOutput: true)
    return (outcome.status, outcome.stdout)
}
