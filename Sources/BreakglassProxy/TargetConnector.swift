import BreakglassCore
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NIOSSL
import NIOTLS

/// Logs in to the target as the session's temporary role, over TLS as the target's settings say (an
/// SSLRequest first; `require` encrypts, `verify-full` also checks the certificate and host name against
/// the system's roots; a server that declines TLS is refused, never used in clear), and hands back the
/// connection ready for queries with what the server said during the login (ParameterStatus,
/// BackendKeyData, ReadyForQuery), which the proxy replays to its client.
///
/// Only the methods PostgreSQL may ask of a password role: SCRAM-SHA-256 (the default since 14) and
/// cleartext. md5 is refused: the broker creates its roles with SCRAM verifiers, so an md5 request
/// means a target configured against that, and the broker will not send a weaker proof.
public struct TargetConnector: Sendable {
    public struct Endpoint: Sendable, Hashable {
        public var host: String
        public var port: Int
        public var database: String
        public var tls: PostgresTLSMode
        public init(host: String, port: Int, database: String, tls: PostgresTLSMode = .disable) {
            self.host = host
            self.port = port
            self.database = database
            self.tls = tls
        }
    }

    public enum Failure: Error, Sendable, Equatable {
        /// The target refused the login; its SQLSTATE and message, to pass on to the client.
        case refused(sqlState: String, message: String)
        case unsupportedAuthentication(code: Int32)
        case scram(ScramClient.Failure)
        /// The connection closed or sent something out of place before ReadyForQuery.
        case protocolViolation(String)
        /// The target declined TLS, or TLS could not be set up (the reason, never a secret).
        case tls(String)
    }

    /// What the server said after AuthenticationOk: ParameterStatus and BackendKeyData as received, then
    /// the ReadyForQuery. The proxy replays it to its client.
    public struct Greeting: Sendable, Hashable {
        public let messages: [BackendMessage]
        public var backendKey: FrontendMessage.BackendKey? {
            for case .backendKeyData(let key) in messages { return key }
            return nil
        }
    }

    public typealias Inbound = NIOAsyncChannelInboundStream<BackendMessage>.AsyncIterator
    public typealias Outbound = NIOAsyncChannelOutboundWriter<FrontendMessage>

    public let limits: ProtocolLimits
    private let group: any EventLoopGroup

    public init(group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton, limits: ProtocolLimits = .default) {
        self.group = group
        self.limits = limits
    }

    /// Logs in, runs `body` with the logged-in connection, and closes it when `body` returns or throws.
    /// `parameters` are the client's startup parameters; only `passedParameters` reach the target, and
    /// `user` and `database` always come from the broker.
    public func withConnection<Result: Sendable>(
        to endpoint: Endpoint, user: String, password: String, parameters: [(name: WireText, value: WireText)] = [],
        _ body: (_ greeting: Greeting, _ inbound: inout Inbound, _ outbound: Outbound) async throws -> Result
    ) async throws -> Result {
        let limits = self.limits
        let tls = try Self.tlsContext(endpoint)
        let negotiation = NIOLockedValueBox<SSLNegotiation?>(nil)
        let channel = try await ClientBootstrap(group: group)
            .connectTimeout(.seconds(10))
            .connect(host: endpoint.host, port: endpoint.port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let tls {
                        let handler = try SSLNegotiation(context: tls, serverHostname: endpoint.tls == .verifyFull ? endpoint.host : nil,
                                                         promise: channel.eventLoop.makePromise())
                        negotiation.withLockedValue { $0 = handler }
                        try channel.pipeline.syncOperations.addHandler(handler)
                    }
                    try channel.pipeline.syncOperations.addHandlers(
                        ByteToMessageHandler(BackendMessageDecoder(limits: limits)), MessageToByteHandler(FrontendMessageEncoder()))
                    return try NIOAsyncChannel<BackendMessage, FrontendMessage>(wrappingChannelSynchronously: channel)
                }
            }
        if let handler = negotiation.withLockedValue({ $0 }) {
            do {
                try await handler.promise.futureResult.get()
            } catch {
                try? await channel.channel.close()
                throw (error as? Failure) ?? Failure.tls("\(error)")
            }
        }
        let startup = FrontendMessage.StartupMessage(
            parameters: [(name: "user", value: WireText(user)), (name: "database", value: WireText(endpoint.database))]
                + parameters.filter { Self.passedParameters.contains($0.name.string) })
        return try await channel.executeThenClose { inbound, outbound in
            var iterator = inbound.makeAsyncIterator()
            try await outbound.write(.startup(startup))
            let greeting = try await Self.logIn(&iterator, outbound, password: password, encrypted: tls != nil)
            return try await body(greeting, &iterator, outbound)
        }
    }

    /// The client's startup parameters that reach the target: how it wants text and dates presented and its
    /// name. Everything else (`options` with `-c statement_timeout=0`, `search_path`, any GUC) could undo the
    /// role's settings or change what a recorded statement means without a recorded statement; a client
    /// that needs such a setting runs `SET`, which is recorded.
    public static let passedParameters: Set<String> = [
        "application_name", "client_encoding", "DateStyle", "IntervalStyle", "TimeZone", "extra_float_digits",
    ]

    private static func tlsContext(_ endpoint: Endpoint) throws -> NIOSSLContext? {
        var configuration = TLSConfiguration.makeClientConfiguration()
        switch endpoint.tls {
        case .disable: return nil
        case .require: configuration.certificateVerification = .none
        case .verifyFull: configuration.certificateVerification = .fullVerification
        }
        do {
            return try NIOSSLContext(configuration: configuration)
        } catch {
            throw Failure.tls("TLS could not be set up: \(error)")
        }
    }

    private static func logIn(_ inbound: inout Inbound, _ outbound: Outbound, password: String, encrypted: Bool) async throws -> Greeting {
        var scram: ScramClient?
        var greeting: [BackendMessage] = []
        while let message = try await inbound.next() {
            switch message {
            case .authentication(.ok):
                continue
            case .authentication(.cleartextPassword) where !encrypted:
                // Only on a plain (loopback) connection: over TLS a request for cleartext means a server that
                // should not have it, or someone in the middle of a connection whose certificate is not checked.
                try await outbound.write(.password(WireText(password)))
            case .authentication(.cleartextPassword):
                throw Failure.unsupportedAuthentication(code: 3)
            case .authentication(.md5Password):
                throw Failure.unsupportedAuthentication(code: 5)
            case .authentication(.other(code: 10, let data)):
                guard mechanisms(data).contains(ScramClient.mechanism) else { throw Failure.unsupportedAuthentication(code: 10) }
                var client = ScramClient(password: password)
                let first = try scramStep { try client.clientFirstMessage() }
                scram = client
                try await outbound.write(.other(type: UInt8(ascii: "p"), body: saslInitialResponse(first)))
            case .authentication(.other(code: 11, let data)):
                guard var client = scram else { throw Failure.protocolViolation("SASLContinue without SASL") }
                let final = try Self.scramStep { try client.clientFinalMessage(serverFirst: Array(data.readableBytesView)) }
                scram = client
                try await outbound.write(.other(type: UInt8(ascii: "p"), body: ByteBuffer(bytes: final)))
            case .authentication(.other(code: 12, let data)):
                guard var client = scram else { throw Failure.protocolViolation("SASLFinal without SASL") }
                try Self.scramStep { try client.verifyServerFinal(Array(data.readableBytesView)) }
                scram = client
            case .authentication(.other(let code, _)):
                throw Failure.unsupportedAuthentication(code: code)
            case .errorResponse(let fields):
                throw Failure.refused(sqlState: fields.sqlState ?? "08000", message: fields.message ?? "the target refused the login")
            case .parameterStatus, .backendKeyData:
                greeting.append(message)
            case .readyForQuery:
                // A server that skipped SASLFinal (or AuthenticationOk) after SASL did not prove its key.
                if let client = scram, !client.isComplete { throw Failure.scram(.unexpectedStep) }
                greeting.append(message)
                return Greeting(messages: greeting)
            case .other(type: UInt8(ascii: "N"), _):
                continue  // NoticeResponse during login: nothing for the client
            default:
                throw Failure.protocolViolation("unexpected message during login")
            }
        }
        throw Failure.protocolViolation("the target closed the connection during login")
    }

    private static func scramStep<T>(_ body: () throws -> T) throws -> T {
        do { return try body() } catch let failure as ScramClient.Failure { throw Failure.scram(failure) }
    }

    /// AuthenticationSASL's body: NUL-terminated mechanism names, ended by an empty one.
    static func mechanisms(_ data: ByteBuffer) -> [String] {
        data.readableBytesView.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
    }

    /// SASLInitialResponse: the mechanism, then the client-first-message with its length.
    static func saslInitialResponse(_ first: [UInt8]) -> ByteBuffer {
        var body = ByteBuffer()
        body.writeBytes(Array(ScramClient.mechanism.utf8) + [0])
        body.writeInteger(Int32(first.count))
        body.writeBytes(first)
        return body
    }
}

/// Asks the target for TLS the PostgreSQL way: SSLRequest in clear, one byte back ('S' or 'N'), then on 'S'
/// a TLS client handler in front of everything, and the rest of the connection inside it. Completes
/// `promise` once the TLS handshake is done; fails it if the server says 'N' or the handshake fails.
final class SSLNegotiation: ChannelInboundHandler, RemovableChannelHandler, @unchecked Sendable {
    // @unchecked: touched only on its channel's event loop.
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    let promise: EventLoopPromise<Void>
    private let context: NIOSSLContext
    private let serverHostname: String?
    private var answered = false
    private var completed = false

    init(context: NIOSSLContext, serverHostname: String?, promise: EventLoopPromise<Void>) throws {
        self.context = context
        self.serverHostname = serverHostname
        self.promise = promise
    }

    func channelActive(context: ChannelHandlerContext) {
        var request = context.channel.allocator.buffer(capacity: 8)
        FrontendMessage.sslRequest.encode(into: &request)
        context.writeAndFlush(NIOAny(request), promise: nil)
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !answered else { return context.fireChannelRead(data) }
        var buffer = unwrapInboundIn(data)
        answered = true
        // Anything after the answer byte, before the handshake, would be injected cleartext (CVE-2021-23222).
        guard buffer.readableBytes == 1, let answer = buffer.readInteger(as: UInt8.self) else {
            return fail(context, TargetConnector.Failure.tls("the target sent data with its answer to SSLRequest"))
        }
        guard answer == UInt8(ascii: "S") else {
            return fail(context, TargetConnector.Failure.tls("the target does not accept TLS connections"))
        }
        do {
            let tls = try NIOSSLClientHandler(context: self.context, serverHostname: serverHostname)
            try context.pipeline.syncOperations.addHandler(tls, position: .before(self))
        } catch {
            fail(context, TargetConnector.Failure.tls("TLS could not start: \(error)"))
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case .handshakeCompleted? = event as? TLSUserEvent {
            complete(.success(()))
            context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // A failed handshake (an unknown issuer, a wrong host name) ends here before any login is sent.
        complete(.failure(TargetConnector.Failure.tls("the TLS handshake with the target failed: \(error)")))
        context.fireErrorCaught(error)
    }

    func channelInactive(context: ChannelHandlerContext) {
        complete(.failure(TargetConnector.Failure.tls("the target closed the connection during TLS negotiation")))
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        // A connection that failed before it was active still completes the promise (never leaks it).
        complete(.failure(TargetConnector.Failure.tls("the connection to the target ended before TLS")))
    }

    private func complete(_ result: Result<Void, any Error>) {
        guard !completed else { return }
        completed = true
        promise.completeWith(result)
    }

    private func fail(_ context: ChannelHandlerContext, _ error: any Error) {
        complete(.failure(error))
        context.close(promise: nil)
    }
}
