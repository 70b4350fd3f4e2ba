import ArgumentParser
import BreakglassServer
import BreakglassStore
import Foundation

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run the broker (HTTP API, expiry service).")

    @Option(help: "Address to listen on (BREAKGLASS_HOST).")
    var host: String?

    @Option(help: "Port to listen on (BREAKGLASS_PORT).")
    var port: Int?

    @Option(help: "PEM certificate chain for TLS (BREAKGLASS_TLS_CERT).")
    var tlsCert: String?

    @Option(help: "PEM private key for TLS (BREAKGLASS_TLS_KEY).")
    var tlsKey: String?

    @Option(help: ArgumentHelp("Port of the PostgreSQL proxy for `recorded` targets (BREAKGLASS_PROXY_PORT); without it, recorded sessions are refused.",
                               discussion: "The proxy uses the broker's TLS certificate; without one it listens only on loopback."))
    var proxyPort: Int?

    @Option(help: "Address the PostgreSQL proxy listens on (BREAKGLASS_PROXY_HOST; default: the HTTP listen address).")
    var proxyHost: String?

    @Option(help: "Host name clients are told to reach the proxy at (BREAKGLASS_PROXY_ADVERTISE; default: the proxy host, or the broker URL's host when it listens on every address).")
    var proxyAdvertise: String?

    @Flag(help: "Allow plain HTTP on a non-loopback address (only behind a TLS-terminating proxy).")
    var insecureListen = false

    @Flag(help: "Serve even if the database role can alter the audit log (BREAKGLASS_ALLOW_PRIVILEGED_ROLE=1).")
    var allowPrivilegedRole = false

    func run() async throws {
        let runtime = Runtime()
        let env = runtime.environment
        try await reportingErrors {
            let listen = try runtime.listen(host: host, port: port, tlsCert: tlsCert, tlsKey: tlsKey, insecure: insecureListen)
            let proxyListen = try runtime.proxyListen(host: proxyHost, port: proxyPort, advertise: proxyAdvertise, listen: listen)
            if listen.tlsCertificatePath == nil && !listen.isLoopback {
                runtime.logger.warning("listening without TLS on a non-loopback address (--insecure-listen)")
            }
            let logger = runtime.logger
            let roleCheck = try PrivilegedRolePolicy.from(flag: allowPrivilegedRole, environment: env)
            let processMetrics = MetricsBackend.bootstrap()
            try await runtime.withServingBroker(roleCheck: roleCheck) { broker, migrator in
                var proxy: ProxyService?
                if let proxyListen {
                    proxy = try await ProxyService.bind(proxyListen, broker: broker, listen: listen, logger: logger)
                }
                if let proxy, let proxyListen {
                    logger.notice("PostgreSQL proxy listening", metadata: ["proxy.address": "\(proxyListen.host):\(proxy.port)",
                                                                           "proxy.tls": "\(listen.tlsCertificatePath != nil)"])
                }
                let services = try BrokerServer.makeServiceGroup(broker: broker, migrator: migrator, listen: listen, logger: logger,
                                                                 processMetrics: processMetrics, proxy: proxy) { port in
                    let scheme = listen.tlsCertificatePath == nil ? "http" : "https"
                    logger.notice("breakglassd listening", metadata: ["http.url": "\(scheme)://\(listen.host):\(port)"])
                }
                try await services.run()
            }
        }
    }
}

struct Migrate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Apply pending database migrations and exit.")

    func run() async throws {
        let runtime = Runtime()
        try await reportingErrors {
            let databases = try await runtime.databases()
            try await databases.stoppingEmbeddedAfter {
                let migrator = try runtime.migrator()
                let logger = runtime.logger
                let applied = try await Database.withDatabase(databases.owner, logger: logger) { try await migrator.migrate($0, logger: logger) }
                print(applied.isEmpty ? "schema is current (\(migrator.migrations.count) migrations)" : "applied: \(applied.joined(separator: ", "))")
            }
        }
    }
}
