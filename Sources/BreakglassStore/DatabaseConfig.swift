import BreakglassCore
import Foundation
import NIOSSL
import PostgresNIO

/// Where the broker's PostgreSQL is, following libpq conventions: `DATABASE_URL`, or the `PG*` variables.
/// Printing one (even nested in another value, as service descriptions in logs are) never shows the password.
public struct DatabaseConfig: Sendable, Equatable, CustomStringConvertible, CustomDebugStringConvertible {
    public enum SSLMode: String, Sendable { case disable, prefer, require, verifyFull = "verify-full" }

    public var host: String
    public var port: Int
    public var user: String
    public var password: String?
    public var database: String
    public var sslMode: SSLMode

    public init(host: String, port: Int, user: String, password: String?, database: String, sslMode: SSLMode = .prefer) {
        self.host = host
        self.port = port
        self.user = user
        self.password = password
        self.database = database
        self.sslMode = sslMode
    }

    /// The libpq variables that select an external database when `DATABASE_URL` is not given.
    public static let libpqKeys = ["PGHOST", "PGPORT", "PGUSER", "PGPASSWORD", "PGDATABASE"]

    /// The variable that makes the broker use an external database (`DATABASE_URL`, else the first `PG*`
    /// one set), or nil for the embedded default. Operators are told which, so a stray `PGPASSWORD` in a
    /// service's environment does not silently switch databases.
    public static func selectingVariable(_ env: [String: String]) -> String? {
        (["DATABASE_URL"] + libpqKeys).first { env[$0].map { !$0.isEmpty } ?? false }
    }

    /// `nil` when nothing is configured (the embedded default applies).
    public static func fromEnvironment(_ env: [String: String], urlKey: String = "DATABASE_URL") throws -> DatabaseConfig? {
        if let url = env[urlKey], !url.isEmpty { return try parse(url: url, key: urlKey) }
        guard urlKey == "DATABASE_URL", selectingVariable(env) != nil else { return nil }
        let user = env["PGUSER"] ?? env["USER"] ?? "postgres"
        guard let port = Int(env["PGPORT"] ?? "5432"), (1...65535).contains(port) else {
            throw configError("PGPORT", "must be a port number")
        }
        let host = env["PGHOST"] ?? "127.0.0.1"
        let mode = try env["PGSSLMODE"].map { try sslMode($0, key: "PGSSLMODE") } ?? defaultSSLMode(host: host)
        return DatabaseConfig(host: host, port: port, user: user, password: env["PGPASSWORD"],
                              database: env["PGDATABASE"] ?? user, sslMode: mode)
    }

    public static func parse(url text: String, key: String = "DATABASE_URL") throws -> DatabaseConfig {
        guard let components = URLComponents(string: text),
              components.scheme == "postgres" || components.scheme == "postgresql" else {
            throw configError(key, "must be a postgres://user:password@host:port/database URL")
        }
        guard let host = components.host, !host.isEmpty else { throw configError(key, "has no host") }
        let database = String(components.path.drop(while: { $0 == "/" }))
        let user = components.user?.removingPercentEncoding ?? "postgres"
        var mode = defaultSSLMode(host: host)
        if let value = components.queryItems?.first(where: { $0.name == "sslmode" })?.value {
            mode = try sslMode(value, key: "\(key) sslmode")
        }
        return DatabaseConfig(host: host, port: components.port ?? 5432, user: user,
                              password: components.password?.removingPercentEncoding,
                              database: database.isEmpty ? user : database, sslMode: mode)
    }

    /// Unlike libpq's `prefer`, a database across a network is verified by default (certificate and host
    /// name): the broker's connection carries every audit row and credential decision. Loopback needs no TLS.
    static func defaultSSLMode(host: String) -> SSLMode {
        LoopbackAddress.isLoopback(host) || host.hasPrefix("/") ? .prefer : .verifyFull
    }

    private static func sslMode(_ value: String, key: String) throws -> SSLMode {
        guard let mode = SSLMode(rawValue: value) else {
            throw configError(key, "'\(value)' is not supported; use disable, prefer, require or verify-full")
        }
        return mode
    }

    static func configError(_ key: String, _ message: String) -> BreakglassError {
        BreakglassError(.invalidInput, "bad_config", "\(key) \(message)")
    }

    /// For logs and errors: never the password.
    public var redacted: String { "postgres://\(user)@\(host):\(port)/\(database)" }
    public var description: String { redacted }
    public var debugDescription: String { redacted }

    public func with(user: String, password: String?, database: String? = nil) -> DatabaseConfig {
        var copy = self
        copy.user = user
        copy.password = password
        if let database { copy.database = database }
        return copy
    }

    func clientConfiguration() throws -> PostgresClient.Configuration {
        let tls: PostgresClient.Configuration.TLS
        switch (sslMode, tlsConfiguration) {
        case (.prefer, let config?): tls = .prefer(config)
        case (.require, let config?), (.verifyFull, let config?): tls = .require(config)
        default: tls = .disable
        }
        var configuration = PostgresClient.Configuration(
            host: host, port: port, username: user, password: password, database: database, tls: tls)
        configuration.options.connectTimeout = .seconds(5)
        configuration.options.maximumConnections = 40
        return configuration
    }

    /// One connection outside the pool, with the pool's TLS rules; `applicationName` shows in `pg_stat_activity`.
    func connectionConfiguration(applicationName: String) throws -> PostgresConnection.Configuration {
        let tls: PostgresConnection.Configuration.TLS
        switch (sslMode, tlsConfiguration) {
        case (.prefer, let config?): tls = .prefer(try NIOSSLContext(configuration: config))
        case (.require, let config?), (.verifyFull, let config?): tls = .require(try NIOSSLContext(configuration: config))
        default: tls = .disable
        }
        var configuration = PostgresConnection.Configuration(host: host, port: port, username: user, password: password, database: database, tls: tls)
        configuration.options.connectTimeout = .seconds(5)
        configuration.options.additionalStartupParameters = [("application_name", applicationName)]
        return configuration
    }

    /// nil when TLS is off.
    private var tlsConfiguration: TLSConfiguration? {
        switch sslMode {
        case .disable: return nil
        case .prefer, .require:
            // As libpq: these modes encrypt but do not authenticate the server.
            var config = TLSConfiguration.makeClientConfiguration()
            config.certificateVerification = .none
            return config
        case .verifyFull: return .makeClientConfiguration()
        }
    }
}
