import BreakglassCore
import BreakglassStore
import Foundation
import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import Logging
import NIOSSL
import Prometheus
import ServiceLifecycle
import UnixSignals

public struct ListenConfig: Sendable {
    public var host: String
    public var port: Int
    public var tlsCertificatePath: String?
    public var tlsKeyPath: String?
    public var allowInsecure: Bool
    public var idleTimeoutSeconds: Int

    public init(host: String, port: Int, tlsCertificatePath: String? = nil, tlsKeyPath: String? = nil, allowInsecure: Bool = false,
                idleTimeoutSeconds: Int = 30) {
        self.host = host
        self.port = port
        self.tlsCertificatePath = tlsCertificatePath
        self.tlsKeyPath = tlsKeyPath
        self.allowInsecure = allowInsecure
        self.idleTimeoutSeconds = idleTimeoutSeconds
    }

    public var isLoopback: Bool { LoopbackAddress.isLoopback(host) }

    /// The listener's TLS settings from the PEM files, nil without them; a file that does not load is an
    /// error naming both paths (`breakglassd check` reports it before `serve` would fail on it).
    public func tlsConfiguration() throws -> TLSConfiguration? {
        guard let cert = tlsCertificatePath, let key = tlsKeyPath else { return nil }
        let chain: [NIOSSLCertificate]
        let privateKey: NIOSSLPrivateKey
        do {
            chain = try NIOSSLCertificate.fromPEMFile(cert)
            privateKey = try NIOSSLPrivateKey(file: key, format: .pem)
        } catch {
            throw BreakglassError.invalid("tls", "cannot load the TLS certificate or key (\(cert), \(key)): \(error)")
        }
        var tls = TLSConfiguration.makeServerConfiguration(certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(privateKey))
        // TLS 1.0 and 1.1 are broken and refused by PCI DSS; nothing older than 1.2 is offered.
        tls.minimumTLSVersion = .tlsv12
        return tls
    }

    /// Bearer tokens and TOTP codes must not cross a network in clear text.
    public func validate() throws {
        if (tlsCertificatePath == nil) != (tlsKeyPath == nil) {
            throw BreakglassError.invalid("tls", "give both BREAKGLASS_TLS_CERT and BREAKGLASS_TLS_KEY, or neither")
        }
        if tlsCertificatePath == nil && !isLoopback && !allowInsecure {
            throw BreakglassError.invalid(
                "listen", "refusing to listen on \(host) without TLS: set BREAKGLASS_TLS_CERT and BREAKGLASS_TLS_KEY, or pass --insecure-listen if a TLS proxy fronts the broker")
        }
    }
}

/// Builds the HTTP server and its background services as one `ServiceGroup`, with the broker's PostgreSQL pool
/// as its first service. `breakglassd serve` runs it until SIGTERM/SIGINT; the end-to-end tests run the same group
/// and stop it with a graceful shutdown.
public enum BrokerServer {
    /// The HTTP routes alone, as `serve` mounts them: in-process router tests drive this with HummingbirdTesting.
    public static func makeRouter(broker: Broker, migrator: Migrator) throws -> Router<BreakglassRequestContext> {
        try Routes.build(broker: broker, migrator: migrator, pages: try CompliancePages())
    }

    /// `broker` comes from `Broker.startServing`: its pool runs (and stops) with this group.
    public static func makeServiceGroup(broker: Broker, migrator: Migrator, listen: ListenConfig, logger: Logger,
                                        expiryPoll: Duration = .seconds(1), deliveryPoll: Duration? = .milliseconds(500),
                                        retroPoll: Duration? = .seconds(5),
                                        signals: [UnixSignal] = [.sigterm, .sigint], processMetrics: PrometheusCollectorRegistry? = nil,
                                        proxy: ProxyService? = nil,
                                        onRunning: @escaping @Sendable (Int) async -> Void = { _ in }) throws -> ServiceGroup {
        try listen.validate()
        let router = try Routes.build(broker: broker, migrator: migrator, pages: try CompliancePages(), secureCookies: listen.tlsCertificatePath != nil,
                                      processMetrics: processMetrics)
        // Idle connections are closed, so a client that opens many and sends nothing cannot hold them all.
        let http1 = HTTP1Channel.Configuration(idleTimeout: .seconds(Int64(listen.idleTimeoutSeconds)))
        let server: HTTPServerBuilder
        if let tls = try listen.tlsConfiguration() {
            server = try .tls(.http1(configuration: http1), tlsConfiguration: tls)
        } else {
            server = .http1(configuration: http1)
        }
        let app = Application(
            router: router, server: server,
            configuration: .init(address: .hostname(listen.host, port: listen.port), serverName: "breakglassd"),
            onServerRunning: { channel in await onRunning(channel.localAddress?.port ?? listen.port) },
            logger: logger)
        // A graceful shutdown stops services in reverse order, waiting for each: the pool, first here, stops last,
        // after the HTTP server, the loops and the proxy have finished (and flushed what they hold) on it.
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = [
            .init(service: broker.database), .init(service: app),
            .init(service: SweepService.expiry(broker: broker, pollInterval: expiryPoll, logger: logger)),
        ]
        services.append(.init(service: SweepService.hookRejections(broker: broker, pollInterval: expiryPoll, logger: logger)))
        services.append(.init(service: SweepService.credentialReconcile(broker: broker, logger: logger)))
        if let retroPoll {
            services.append(.init(service: SweepService.retroEscalation(broker: broker, pollInterval: retroPoll, logger: logger)))
        }
        if let deliveryPoll {
            services.append(.init(service: DeliveryService(broker: broker, pollInterval: deliveryPoll, logger: logger)))
        }
        if let proxy { services.append(.init(service: proxy)) }
        return ServiceGroup(configuration: .init(services: services, gracefulShutdownSignals: signals, logger: logger))
    }
}
