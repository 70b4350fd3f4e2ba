import BreakglassCore
import BreakglassProxy
import Logging
import NIOSSL
import ServiceLifecycle

/// Where the recording proxy listens; like the HTTP listener, plain only on loopback.
public struct ProxyListenConfig: Sendable {
    public var host: String
    public var port: Int
    /// The host clients are told to connect to; nil means "the broker URL's host" (for 0.0.0.0 and ::).
    public var advertisedHost: String?

    public init(host: String, port: Int, advertisedHost: String? = nil) {
        self.host = host
        self.port = port
        self.advertisedHost = advertisedHost ?? (["0.0.0.0", "::", ""].contains(host) ? nil : host)
    }
}

/// The recording proxy as a service of the broker's group: bound before the group runs (a taken port fails
/// at start), serving until the group shuts down, and telling the broker where it listens meanwhile.
public struct ProxyService: Service, CustomStringConvertible {
    public let description = "RecordingProxyService"
    let server: ProxyServer
    let broker: Broker
    let endpoint: ProxyEndpoint

    /// Binds with the broker's TLS settings (the HTTP listener's certificate). Without them it binds only to loopback.
    public static func bind(_ config: ProxyListenConfig, broker: Broker, listen: ListenConfig, activityCheck: Duration = .seconds(5),
                            logger: Logger) async throws -> ProxyService {
        let tls = try listen.tlsConfiguration().map { try NIOSSLContext(configuration: $0) }
        // Unlike HTTP there is no TLS-terminating proxy in front of this port: --insecure-listen does not apply.
        if tls == nil && !LoopbackAddress.isLoopback(config.host) {
            throw BreakglassError.invalid("proxy_host", "the PostgreSQL proxy listens without TLS only on loopback; give --tls-cert and --tls-key, or --proxy-host 127.0.0.1")
        }
        let server = try await ProxyServer.bind(host: config.host, port: config.port, hooks: broker.proxyHooks(),
                                                connections: broker.recordingProxy.connections, tls: tls, activityCheck: activityCheck,
                                                logger: logger)
        let endpoint = ProxyEndpoint(host: config.advertisedHost, port: server.port, tls: tls != nil)
        broker.recordingProxy.listening(at: endpoint)
        return ProxyService(server: server, broker: broker, endpoint: endpoint)
    }

    public var port: Int { server.port }

    /// Stops listening and ends every open connection (what a graceful shutdown does).
    public func stop() async {
        await server.close()
        await broker.recordingProxy.connections.cutAll()
        broker.recordingProxy.listening(at: nil)
    }

    public func run() async throws {
        defer { broker.recordingProxy.listening(at: nil) }
        try await withGracefulShutdownHandler {
            try await server.run()
        } onGracefulShutdown: {
            Task { await stop() }
        }
        // Every connection has ended and awaited its own records; statement results were only queued. The pool
        // stops after this service, so they are committed first.
        await broker.recordingProxy.journal.drained()
    }
}
