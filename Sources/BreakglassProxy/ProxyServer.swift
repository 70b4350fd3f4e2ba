import BreakglassCore
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NIOSSL

/// Who a client is once the proxy has checked its session and token, and where its statements go.
public struct ProxyGrant: Sendable {
    public var session: String
    /// The target's name and the engineer who broke glass, as the audit log names them.
    public var targetName: String
    public var requester: String
    public var target: TargetConnector.Endpoint
    /// The session's temporary role and its password, which the client never sees.
    public var role: String
    public var password: String
    public var redaction: RedactionPolicy

    public init(session: String, targetName: String = "", requester: String = "", target: TargetConnector.Endpoint, role: String,
                password: String, redaction: RedactionPolicy = .recordValues) {
        self.session = session
        self.targetName = targetName
        self.requester = requester
        self.target = target
        self.role = role
        self.password = password
        self.redaction = redaction
    }
}

/// One logged-in client connection: its grant, an id its records carry (a session may have several
/// connections, each numbering its statements from 0), and the client's address.
public struct ProxyConnection: Sendable {
    public var grant: ProxyGrant
    public var id: String
    public var client: String?
    /// The startup parameters passed on to the target (the allowed ones; `application_name` names the session).
    public var parameters: [(name: String, value: String)] = []
}

/// What the proxy asks of the broker, passed in (the proxy knows no database of its own).
public struct ProxyHooks: Sendable {
    /// The startup's user name, the password the client gave and the client's address; nil refuses with 28P01.
    public var authenticate: @Sendable (_ user: String, _ password: String, _ client: String?) async -> ProxyGrant?
    /// Commits records of a connection; must return only once they are durable. A throw refuses the
    /// statement (fail closed): it is not forwarded and the connection ends.
    public var record: @Sendable (_ connection: ProxyConnection, _ records: [StatementRecord]) async throws -> Void
    /// Queues the outcomes of statements already run, in order behind their statements, without waiting
    /// for their commit: the answer reaches the client at once (nothing more can be refused by then).
    public var recordOutcomes: @Sendable (_ connection: ProxyConnection, _ records: [StatementRecord]) async -> Void
    /// Records that a client logged in, before the proxy logs in to the target; a throw refuses the client.
    public var opened: @Sendable (_ connection: ProxyConnection) async throws -> Void
    /// Records that the connection ended, and why.
    public var closed: @Sendable (_ connection: ProxyConnection, _ reason: String) async -> Void
    /// Whether the session may still use its connections: asked every `activityCheck`, so that a session
    /// closed where nobody cut this instance's connections (another instance, a failed revoke) ends here too.
    public var stillActive: @Sendable (_ session: String) async -> Bool

    public init(authenticate: @escaping @Sendable (_ user: String, _ password: String, _ client: String?) async -> ProxyGrant?,
                record: @escaping @Sendable (_ connection: ProxyConnection, _ records: [StatementRecord]) async throws -> Void,
                recordOutcomes: (@Sendable (_ connection: ProxyConnection, _ records: [StatementRecord]) async -> Void)? = nil,
                opened: @escaping @Sendable (_ connection: ProxyConnection) async throws -> Void = { _ in },
                closed: @escaping @Sendable (_ connection: ProxyConnection, _ reason: String) async -> Void = { _, _ in },
                stillActive: @escaping @Sendable (_ session: String) async -> Bool = { _ in true }) {
        self.authenticate = authenticate
        self.record = record
        self.recordOutcomes = recordOutcomes ?? { connection, records in try? await record(connection, records) }
        self.opened = opened
        self.closed = closed
        self.stillActive = stillActive
    }
}

/// The PostgreSQL listener of `recorded` access: TLS when given a context (SSLRequest answered 'S'; a
/// client off loopback that does not ask for it is refused), else plain ('N', for loopback only), a
/// cleartext password inside that channel that is the session's proxy token, then a connection to the
/// target as the session's role, every statement recorded before it is forwarded.
public struct ProxyServer: Sendable {
    public let connections: ProxyConnections
    private let hooks: ProxyHooks
    private let connector: TargetConnector
    private let limits: ProtocolLimits
    /// How long a client has from connecting to being logged in: a client that sends nothing must not
    /// hold a connection (and a file descriptor) forever.
    private let startupTimeout: TimeAmount
    private let tls: NIOSSLContext?
    private let activityCheck: Duration
    private let logger: Logger
    private let listener: NIOAsyncChannel<NIOAsyncChannel<FrontendMessage, ByteBuffer>, Never>

    public var port: Int { listener.channel.localAddress?.port ?? 0 }

    /// Binds now (so a bad port fails at start); `run()` serves.
    public static func bind(host: String, port: Int, hooks: ProxyHooks, connections: ProxyConnections = ProxyConnections(),
                            connector: TargetConnector = TargetConnector(), limits: ProtocolLimits = .default,
                            startupTimeout: TimeAmount = .seconds(10), tls: NIOSSLContext? = nil, activityCheck: Duration = .seconds(5),
                            logger: Logger) async throws -> ProxyServer {
        let listener = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .bind(host: host, port: port) { child in
                child.eventLoop.makeCompletedFuture {
                    try child.pipeline.syncOperations.addHandler(ByteToMessageHandler(FrontendMessageDecoder(limits: limits)))
                    if let tls { try child.pipeline.syncOperations.addHandler(TLSStarter(context: tls)) }
                    try child.pipeline.syncOperations.addHandler(TerminateWatch())
                    return try NIOAsyncChannel<FrontendMessage, ByteBuffer>(wrappingChannelSynchronously: child)
                }
            }
        return ProxyServer(connections: connections, hooks: hooks, connector: connector, limits: limits, startupTimeout: startupTimeout,
                           tls: tls, activityCheck: activityCheck, logger: logger, listener: listener)
    }

    /// Serves until cancelled, then closes the listener; open connections end with their tasks.
    public func run() async throws {
        try await withThrowingDiscardingTaskGroup { group in
            try await listener.executeThenClose { inbound in
                for try await client in inbound {
                    group.addTask { await serve(client) }
                }
            }
        }
    }

    public func close() async {
        try? await listener.channel.close()
    }

    enum Refusal: Error {
        case sent
    }

    func serve(_ client: NIOAsyncChannel<FrontendMessage, ByteBuffer>) async {
        let channel = client.channel
        let startupDeadline = channel.eventLoop.scheduleTask(in: startupTimeout) { channel.close(promise: nil) }
        defer { startupDeadline.cancel() }
        do {
            try await client.executeThenClose { inbound, outbound in
                var messages = inbound.makeAsyncIterator()
                guard let (startup, secured) = try await handshake(&messages, outbound, channel: channel) else { return }
                if tls != nil && !secured && !Self.isLoopback(channel.remoteAddress) {
                    // The token would cross the network in clear text: refused before the client sends it.
                    try await refuse(outbound, sqlState: "28000", message: "breakglass requires TLS (sslmode=require or verify-full) off loopback")
                    return
                }
                try await outbound.write(encode([.authentication(.cleartextPassword)]))
                guard case .password(let password)? = try await messages.next() else { return }
                let user = startup.parameter("user") ?? ""
                let address = channel.remoteAddress?.ipAddress
                guard let grant = await hooks.authenticate(user, password.string, address) else {
                    try await refuse(outbound, sqlState: "28P01", message: "password authentication failed for user \"\(user)\"")
                    return
                }
                startupDeadline.cancel()
                // The target's log ties the connection to the session by its name, whatever the client calls itself.
                let passed = startup.parameters.filter { TargetConnector.passedParameters.contains($0.name.string) && $0.name.string != "application_name" }
                    + [(name: WireText("application_name"), value: WireText("breakglass \(grant.session)"))]
                let connection = ProxyConnection(grant: grant, id: String(UInt64.random(in: 1...UInt64.max), radix: 16), client: address,
                                                 parameters: passed.map { ($0.name.string, $0.value.string) })
                // Looked up while the channel is open: its handlers are removed once it closes.
                let watch = try await channel.pipeline.handler(type: TerminateWatch.self).get()
                do {
                    try await hooks.opened(connection)
                } catch {
                    try await refuse(outbound, sqlState: "58000", message: "breakglass could not record this connection; it was refused")
                    return
                }
                await connections.add(client.channel, session: grant.session)
                do {
                    let end = try await forward(messages, outbound, parameters: passed, connection: connection, clientChannel: client.channel,
                                                watch: watch)
                    let cut = await connections.remove(client.channel)
                    await hooks.closed(connection, cut ? "cut by the broker: the session closed" : end.reason)
                } catch {
                    let cut = await connections.remove(client.channel)
                    await hooks.closed(connection, cut ? "cut by the broker: the session closed" : "ended: \(Self.describe(error))")
                    throw error
                }
            }
        } catch {
            // Malformed input, a dropped client, a cut session: the connection ends, the proxy goes on.
            logger.debug("proxy connection ended", metadata: ["proxy.error": "\(error)"])
        }
    }

    /// SSLRequest answered 'S' and TLS started when the proxy has a certificate (else 'N'), GSSENCRequest
    /// answered 'N', CancelRequest forwarded if it names one of our backends. Returns the startup message and
    /// whether it came over TLS.
    private func handshake(_ messages: inout NIOAsyncChannelInboundStream<FrontendMessage>.AsyncIterator,
                           _ outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>,
                           channel: any Channel) async throws -> (FrontendMessage.StartupMessage, Bool)? {
        var secured = false
        while let message = try await messages.next() {
            switch message {
            case .sslRequest where tls != nil && !secured:
                // TLSStarter already answered 'S' and put TLS in place when it saw this message.
                secured = true
            case .sslRequest, .gssEncRequest:
                try await outbound.write(ByteBuffer(bytes: [UInt8(ascii: "N")]))
            case .startup(let startup):
                return (startup, secured)
            case .cancelRequest(let key):
                let target = await connections.target(forCancel: key)
                if let target { await forwardCancel(key, to: target) }
                return nil
            default:
                return nil
            }
        }
        return nil
    }

    static func isLoopback(_ address: SocketAddress?) -> Bool {
        guard let ip = address?.ipAddress else { return false }
        return LoopbackAddress.isLoopback(ip)
    }

    private func forwardCancel(_ key: FrontendMessage.BackendKey, to target: TargetConnector.Endpoint) async {
        do {
            let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .connectTimeout(.seconds(5))
                .connect(host: target.host, port: target.port).get()
            var buffer = channel.allocator.buffer(capacity: 16)
            FrontendMessage.cancelRequest(key).encode(into: &buffer)
            try await channel.writeAndFlush(buffer).get()
            try await channel.close().get()
        } catch {
            logger.info("proxy could not forward a cancel request", metadata: ["proxy.error": "\(error)"])
        }
    }

    /// Forwards until the connection ends and returns how it ended; throws when it broke before either side
    /// ended it (a target that refused the login, a client gone before the greeting).
    private func forward(_ clientMessages: NIOAsyncChannelInboundStream<FrontendMessage>.AsyncIterator,
                         _ toClient: NIOAsyncChannelOutboundWriter<ByteBuffer>, parameters: [(name: WireText, value: WireText)],
                         connection: ProxyConnection, clientChannel: any Channel, watch: TerminateWatch) async throws -> ConnectionEnd {
        let grant = connection.grant
        let handOff = HandOff(clientMessages)
        let end = FirstEnd()
        let recorder = RecorderBox(StatementRecorder(redaction: grant.redaction))
        let hooks = self.hooks
        let connections = self.connections
        do {
            try await connector.withConnection(to: grant.target, user: grant.role, password: grant.password,
                                               parameters: parameters) { greeting, fromTarget, toTarget in
                await connections.setBackend(clientChannel, key: greeting.backendKey, target: grant.target)
                do {
                    try await toClient.write(encode([.authentication(.ok)] + greeting.messages))
                } catch {
                    end.note(error, left: .clientLeft)
                    throw error
                }
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask { [activityCheck] in
                        while true {
                            // Cancelled when the connection ends by itself: that is no error of this task's.
                            do { try await Task.sleep(for: activityCheck) } catch { return }
                            if await !hooks.stillActive(grant.session) {
                                await connections.markCut(grant.session)
                                try? await clientChannel.close()
                                try? await toTarget.write(.terminate)
                                throw CancellationError()
                            }
                        }
                    }
                    group.addTask { [handOff] in
                        var clientMessages = handOff.value
                        do {
                            while let message = try await clientMessages.next() {
                                let intents = recorder.frontend(message)
                                if !intents.isEmpty {
                                    do {
                                        try await hooks.record(connection, intents)
                                    } catch {
                                        // Fail closed: the statement was not recorded, so it does not run.
                                        end.note(.failed(error))
                                        try? await toClient.write(encode([.errorResponse(.init(
                                            severity: "FATAL", sqlState: "58000",
                                            message: "breakglass could not record this statement; it was not run"))]))
                                        throw error
                                    }
                                }
                                do {
                                    try await toTarget.write(message)
                                } catch {
                                    end.note(error, left: .targetLeft)
                                    throw error
                                }
                                if case .terminate = message { return }
                            }
                        } catch {
                            end.note(error, left: .clientLeft)
                            try? await toTarget.write(.terminate)
                            throw error
                        }
                        // The client went away without Terminate: end the target's side as it would.
                        end.note(.clientLeft)
                        try await toTarget.write(.terminate)
                    }
                    do {
                        // Once the client is gone the target still answers what it was sent, and then reads the
                        // Terminate the proxy sent for the client: its answers are recorded, not forwarded.
                        var clientGone = false
                        while let message = try await fromTarget.next() {
                            if case .errorResponse(let fields) = message, ["FATAL", "PANIC"].contains(fields.severity) {
                                // The target says it ends the connection: whatever the client does next is an answer to that.
                                end.note(.targetLeft)
                            }
                            let results = recorder.backend(message)
                            if !results.isEmpty { await hooks.recordOutcomes(connection, results) }
                            if clientGone { continue }
                            do {
                                try await toClient.write(encode([message]))
                            } catch {
                                end.note(error, left: .clientLeft)
                                guard error is IOError || error is ChannelError else { throw error }
                                clientGone = true
                            }
                        }
                    } catch {
                        end.note(error, left: .targetLeft)
                        group.cancelAll()
                        throw error
                    }
                    // The target ended the connection: so does the client's.
                    end.note(.targetLeft)
                    group.cancelAll()
                    try? await clientChannel.close()
                    try await group.waitForAll()
                }
            }
        } catch let failure as TargetConnector.Failure {
            switch failure {
            case .refused(let sqlState, let message):
                try await refuse(toClient, sqlState: sqlState, message: message)
            default:
                try await refuse(toClient, sqlState: "08001", message: "breakglass could not log in to the target")
            }
            throw failure
        } catch {
            // What broke after the first end (closing the target's socket after a goodbye, a write to a client
            // already gone) is the proxy ending the other side: the first end is the one recorded.
            guard watch.clientSaidTerminate || end.value != nil else { throw error }
        }
        if watch.clientSaidTerminate { return .clientSaidTerminate }
        // Returning normally means the target's messages ended, which the loop above noted.
        return end.value ?? .targetLeft
    }

    /// Why a connection ended, for its audit record: never a message the client could fill with secrets.
    static func describe(_ error: any Error) -> String {
        switch error {
        case let failure as TargetConnector.Failure:
            switch failure {
            case .refused(let sqlState, _): "the target refused the login (SQLSTATE \(sqlState))"
            case .unsupportedAuthentication: "the target asked for an authentication method the broker does not use"
            case .scram: "SCRAM authentication with the target failed"
            case .protocolViolation: "the target broke the protocol"
            case .tls(let reason): "TLS with the target failed: \(reason)"
            }
        case is WireProtocolError: "malformed protocol input"
        case is ChannelError: "the connection closed"
        case is IOError: "the connection was reset"
        default: "error"
        }
    }

    private func refuse(_ outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>, sqlState: String, message: String) async throws {
        try await outbound.write(encode([.errorResponse(.init(severity: "FATAL", sqlState: sqlState, message: message))]))
    }
}

private func encode(_ messages: [BackendMessage]) -> ByteBuffer {
    var buffer = ByteBuffer()
    for message in messages { message.encode(into: &buffer) }
    return buffer
}

/// One connection's recorder, shared by its two directions. The server answers in the order it
/// received, and each direction feeds the recorder in its own order, so a lock is all it needs.
final class RecorderBox: Sendable {
    private let recorder: NIOLockedValueBox<StatementRecorder>

    init(_ recorder: StatementRecorder) {
        self.recorder = NIOLockedValueBox(recorder)
    }

    func frontend(_ message: FrontendMessage) -> [StatementRecord] {
        recorder.withLockedValue { $0.frontend(message) }
    }

    func backend(_ message: BackendMessage) -> [StatementRecord] {
        recorder.withLockedValue { $0.backend(message) }
    }
}

/// Moves the client's message iterator into the task that reads the client. `@unchecked Sendable` is
/// safe because exactly one task touches `value`: `forward` creates the box and never reads it again
/// after handing it to the child task (the iterator itself is not Sendable only because two tasks must
/// not call `next()` at once, which this hand-off rules out).
private final class HandOff<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) {
        self.value = value
    }
}

/// Starts TLS the moment the decoder hands over an SSLRequest, on the event loop and before the next read is
/// decoded: 'S' goes out in clear, then TLS sits in front of the decoder, so nothing the client sent in clear
/// after its SSLRequest can be taken for what it sends inside TLS (the CVE-2021-23214 class; bytes in the
/// same read as the SSLRequest are already refused by the decoder). A second SSLRequest is left to the
/// proxy, which answers it 'N'.
final class TLSStarter: ChannelInboundHandler, @unchecked Sendable {
    // @unchecked: touched only on its channel's event loop.
    typealias InboundIn = FrontendMessage
    typealias InboundOut = FrontendMessage

    private let context: NIOSSLContext
    private var started = false

    init(context: NIOSSLContext) {
        self.context = context
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .sslRequest = unwrapInboundIn(data), !started {
            started = true
            context.writeAndFlush(NIOAny(ByteBuffer(bytes: [UInt8(ascii: "S")])), promise: nil)
            do {
                try context.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: self.context), position: .first)
            } catch {
                context.fireErrorCaught(error)
                return
            }
        }
        context.fireChannelRead(data)
    }
}
