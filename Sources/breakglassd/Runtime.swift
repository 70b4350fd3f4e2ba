import ArgumentParser
import BreakglassCore
import BreakglassServer
import BreakglassStore
import BreakglassSystem
import Foundation
import Logging

/// Everything read from the environment, once, at start. Bad values fail here with the key's name.
struct Runtime {
    let environment: [String: String]
    let dataDirectory: URL
    let logger: Logger

    init(logLevel: Logger.Level = .info) {
        _ = LogOutput.bootstrapped
        environment = ProcessInfo.processInfo.environment
        dataDirectory = EmbeddedCluster.defaultDataDirectory(environment: environment)
        var logger = Logger(label: "breakglassd")
        logger.logLevel = environment["BREAKGLASS_LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? logLevel
        self.logger = logger
    }

    struct Databases {
        let owner: DatabaseConfig
        let runtime: DatabaseConfig
        let embedded: EmbeddedCluster?
        /// Whether this process stops the embedded cluster when it ends: `serve` owns it (also one that a
        /// killed predecessor left running); a short-lived command stops only one it started while no
        /// `serve` runs.
        let stopsEmbedded: Bool
        let ownership: ClusterOwnership?

        /// Decided again at the end, not only at the start: a `serve` that started meanwhile adopted the cluster
        /// this short-lived command started, and must not lose it when the command exits.
        func stopEmbeddedIfOwned() async {
            guard stopsEmbedded else { return }
            if ownership == nil, embedded?.isOwned == true { return }
            await embedded?.stop()
        }

        /// Runs `body`, then `stopEmbeddedIfOwned()` whether it succeeded or threw.
        func stoppingEmbeddedAfter<T>(_ body: () async throws -> T) async throws -> T {
            let result: Result<T, any Error>
            do {
                result = .success(try await body())
            } catch {
                result = .failure(error)
            }
            await stopEmbeddedIfOwned()
            return try result.get()
        }
    }

    /// Which database the broker uses and why, for the log and `breakglassd check`: a stray PG* variable in
    /// a service's environment silently switches to an external database, so the reason is always said.
    var databaseChoice: String {
        if let key = DatabaseConfig.selectingVariable(environment) { return "external database because \(key) is set" }
        return "embedded cluster in \(dataDirectory.path) because no DATABASE_URL or PG* variable is set"
    }

    /// External database from DATABASE_URL / PG*, or the embedded cluster (started if needed).
    func databases(owning: Bool = false) async throws -> Databases {
        logger.notice("using \(databaseChoice)")
        if let runtime = try DatabaseConfig.fromEnvironment(environment) {
            let owner = try DatabaseConfig.fromEnvironment(environment, urlKey: "BREAKGLASS_MIGRATION_DATABASE_URL") ?? runtime

            return Databases(owner: owner, runtime: runtime, embedded: nil, stopsEmbedded: false, ownership: nil)
        }
        let cluster = try EmbeddedCluster(dataDirectory: dataDirectory, logger: logger)
        let ownership = owning ? try cluster.claimOwnership() : nil
        let connections = try await cluster.start()
        return Databases(owner: connections.owner, runtime: connections.runtime, embedded: cluster,
                         stopsEmbedded: owning || (connections.started && !cluster.isOwned), ownership: ownership)
    }

    /// AES-256 master key for seeds and signing keys: BREAKGLASS_MASTER_KEY_FILE, or for the embedded
    /// default a 0600 file created in the data directory.
    /// `create` false (`check`) reports a missing embedded key instead of creating one.
    func masterKey(embedded: Bool, create: Bool = true) throws -> SecretBox {
        let path: String
        if let configured = environment["BREAKGLASS_MASTER_KEY_FILE"], !configured.isEmpty {
            path = configured
            guard FileManager.default.fileExists(atPath: path) else {
                throw ValidationError("BREAKGLASS_MASTER_KEY_FILE \(path) does not exist (restore it from your backup; a new key cannot read the stored seeds and signing keys)")
            }
        } else if embedded {
            path = dataDirectory.appendingPathComponent("master.key").path
            if !FileManager.default.fileExists(atPath: path) && !create {
                throw ValidationError("the embedded default's master key \(path) does not exist: `breakglassd serve` creates it on a new data directory; restore it from your backup if seeds were stored")
            }
            if !FileManager.default.fileExists(atPath: path) {
                let encoded = Data(SecretBox.generateKey()).base64EncodedString() + "\n"
                do {
                    try SecretFile.create(atPath: path, contents: Array(encoded.utf8))
                } catch {
                    throw ValidationError("cannot create the master key file \(path): \(error)")
                }
                logger.notice("created master key file; back it up: without it seeds and signing keys cannot be read", metadata: ["key.path": "\(path)"])
            }
        } else {
            let selector = DatabaseConfig.selectingVariable(environment) ?? "DATABASE_URL"
            throw ValidationError("""
                BREAKGLASS_MASTER_KEY_FILE is required with an external database, which is used because \(selector) is set \
                (unset it to use the embedded cluster); the file holds 32 random bytes, base64: \
                head -c32 /dev/urandom | base64 > master.key; chmod 600 master.key
                """)
        }
        let attributes = try? FileManager.default.attributesOfItem(atPath: path)
        if let mode = attributes?[.posixPermissions] as? Int, mode & 0o077 != 0 {
            throw ValidationError("BREAKGLASS_MASTER_KEY_FILE \(path) is readable by other users (mode \(String(mode, radix: 8))); chmod 600 it")
        }
        guard let text = try? String(contentsOfFile: path, encoding: .utf8),
              let bytes = Data(base64Encoded: text.trimmingCharacters(in: .whitespacesAndNewlines)), bytes.count == 32 else {
            throw ValidationError("BREAKGLASS_MASTER_KEY_FILE \(path) must hold exactly 32 bytes, base64-encoded")
        }
        return try SecretBox(keyBytes: Array(bytes))
    }

    /// The listen address from the command line or BREAKGLASS_HOST/PORT/TLS_*, validated.
    func listen(host: String? = nil, port: Int? = nil, tlsCert: String? = nil, tlsKey: String? = nil, insecure: Bool = false) throws -> ListenConfig {
        let portText = port.map(String.init) ?? environment["BREAKGLASS_PORT"] ?? "8420"
        guard let port = Int(portText), (0...65535).contains(port) else {
            throw ValidationError("BREAKGLASS_PORT '\(portText)' is not a port number")
        }
        let listen = ListenConfig(
            host: host ?? environment["BREAKGLASS_HOST"] ?? "127.0.0.1", port: port,
            tlsCertificatePath: tlsCert ?? environment["BREAKGLASS_TLS_CERT"], tlsKeyPath: tlsKey ?? environment["BREAKGLASS_TLS_KEY"],
            allowInsecure: insecure || environment["BREAKGLASS_INSECURE_LISTEN"] == "1")
        try listen.validate()
        return listen
    }

    /// The recording proxy's address from the command line or BREAKGLASS_PROXY_PORT/HOST/ADVERTISE; nil
    /// when no port is given (no proxy: `recorded` targets are refused at activation, nothing issued).
    func proxyListen(host: String?, port: Int?, advertise: String?, listen: ListenConfig) throws -> ProxyListenConfig? {
        guard let portText = port.map(String.init) ?? environment["BREAKGLASS_PROXY_PORT"], !portText.isEmpty else { return nil }
        guard let port = Int(portText), (0...65535).contains(port) else {
            throw ValidationError("BREAKGLASS_PROXY_PORT '\(portText)' is not a port number")
        }
        return ProxyListenConfig(host: host ?? environment["BREAKGLASS_PROXY_HOST"] ?? listen.host, port: port,
                                 advertisedHost: advertise ?? environment["BREAKGLASS_PROXY_ADVERTISE"])
    }

    func migrator() throws -> Migrator {
        try Migrator.load(directory: Migrator.defaultDirectory(environment: environment))
    }

    func settings() throws -> Broker.Settings {
        if case .failure(let problem) = LogOutput.format { throw ValidationError(problem.message) }
        func duration(_ key: String, default value: TimeInterval, range: ClosedRange<TimeInterval>) throws -> TimeInterval {
            guard let text = environment[key], !text.isEmpty else { return value }
            guard let parsed = TTL.parse(text), range.contains(parsed) else {
                throw ValidationError("\(key) '\(text)' must be a duration between \(TTL.format(range.lowerBound)) and \(TTL.format(range.upperBound))")
            }
            return parsed
        }
        return Broker.Settings(
            issuerName: environment["BREAKGLASS_ISSUER"].flatMap { $0.isEmpty ? nil : $0 } ?? "breakglass",
            deliveryMaxAge: try duration("BREAKGLASS_DELIVERY_MAX_AGE", default: 24 * 3600, range: 60...(30 * 86400)),
            deliveryClaim: try duration("BREAKGLASS_DELIVERY_CLAIM", default: 60, range: 1...3600),
            retroLadder: try retroLadder(), githubWebhookSecret: try githubWebhookSecret(),
            apiTokenLifetime: try duration("BREAKGLASS_TOKEN_LIFETIME", default: 30 * 86400, range: 300...(365 * 86400)),
            allowAdminCompliance: try flag("BREAKGLASS_ALLOW_ADMIN_COMPLIANCE"),
            githubLinkPolicy: try githubLinkPolicy(), trustedProxies: try trustedProxies())
    }

    /// BREAKGLASS_TRUSTED_PROXIES: exact addresses of reverse proxies whose X-Forwarded-For is believed.
    func trustedProxies() throws -> [String] {
        let entries = (environment["BREAKGLASS_TRUSTED_PROXIES"] ?? "").split(whereSeparator: { $0 == "," || $0.isWhitespace }).map(String.init)
        for entry in entries where !LoopbackAddress.isIPAddress(entry) {
            throw ValidationError("BREAKGLASS_TRUSTED_PROXIES: '\(entry)' is not an IP address (networks are not supported)")
        }
        return entries
    }

    /// "1"/"true" or "0"/"false"; anything else is a typo that must not silently weaken a control.
    func flag(_ key: String) throws -> Bool {
        switch environment[key]?.lowercased() {
        case nil, "", "0", "false", "no": return false
        case "1", "true", "yes": return true
        case let other?: throw ValidationError("\(key) '\(other)' must be 1 or 0")
        }
    }

    func githubLinkPolicy() throws -> GitHubLinkPolicy {
        do {
            return try GitHubLinkPolicy.parse(environment["BREAKGLASS_GITHUB_REPOSITORIES"] ?? "")
        } catch let error as BreakglassError {
            throw ValidationError("BREAKGLASS_GITHUB_REPOSITORIES: \(error.message)")
        }
    }

    func retroLadder() throws -> EscalationLadder {
        guard let spec = environment["BREAKGLASS_RETRO_LADDER"], !spec.isEmpty else { return .standard }
        do {
            return try EscalationLadder.parse(spec)
        } catch let error as BreakglassError {
            throw ValidationError("BREAKGLASS_RETRO_LADDER: \(error.message)")
        }
    }

    /// From BREAKGLASS_GITHUB_WEBHOOK_SECRET_FILE (preferred: not visible in the process environment) or
    /// BREAKGLASS_GITHUB_WEBHOOK_SECRET.
    func githubWebhookSecret() throws -> String? {
        if let path = environment["BREAKGLASS_GITHUB_WEBHOOK_SECRET_FILE"], !path.isEmpty {
            guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
                throw ValidationError("BREAKGLASS_GITHUB_WEBHOOK_SECRET_FILE \(path) cannot be read")
            }
            let secret = text.trimmingCharacters(in: .whitespacesAndNewlines)
            guard secret.count >= 16 else { throw ValidationError("BREAKGLASS_GITHUB_WEBHOOK_SECRET_FILE: the secret must be at least 16 characters") }
            return secret
        }
        guard let secret = environment["BREAKGLASS_GITHUB_WEBHOOK_SECRET"], !secret.isEmpty else { return nil }
        guard secret.count >= 16 else { throw ValidationError("BREAKGLASS_GITHUB_WEBHOOK_SECRET must be at least 16 characters") }
        return secret
    }

    /// Prepares the database (embedded start, migrations), runs `body` with a started broker, and stops an
    /// embedded cluster this process started. For the short-lived admin commands: the broker's pool lives as long
    /// as `body`.
    func withBroker(_ body: @Sendable (Broker, Migrator) async throws -> Void) async throws {
        try await preparingDatabase(roleCheck: nil, owningCluster: false) { settings, databases, box, migrator in
            try await Database.withDatabase(databases.runtime, logger: logger) { database in
                try await checkSchema(database, migrator: migrator)
                try await body(try await Broker.start(database: database, clock: SystemClock(), box: box, settings: settings, logger: logger),
                               migrator)
            }
        }
    }

    /// As `withBroker`, for `serve`: the schema and `roleCheck` are checked first, and the broker's pool is not
    /// running yet when `body` gets it; `body` runs it as the first service of its group (`BrokerServer.makeServiceGroup`).
    func withServingBroker(roleCheck: PrivilegedRolePolicy, _ body: @Sendable (Broker, Migrator) async throws -> Void) async throws {
        try await preparingDatabase(roleCheck: roleCheck, owningCluster: true) { settings, databases, box, migrator in
            let broker = try await Broker.startServing(database: databases.runtime, clock: SystemClock(), box: box, settings: settings,
                                                       logger: logger) { database in
                try await checkSchema(database, migrator: migrator)
                try await checkRuntimeRole(database, policy: roleCheck)
            }
            try await body(broker, migrator)
        }
    }

    /// Reads the settings (a bad one stops the broker before any database is touched), finds or starts the
    /// database, applies migrations where this process may, runs `body`, and stops an embedded cluster it owns.
    private func preparingDatabase(roleCheck: PrivilegedRolePolicy?, owningCluster: Bool,
                                   _ body: (Broker.Settings, Databases, SecretBox, Migrator) async throws -> Void) async throws {
        let settings = try settings()
        let databases = try await databases(owning: owningCluster)
        try await databases.stoppingEmbeddedAfter {
            let box = try masterKey(embedded: databases.embedded != nil)
            let migrator = try migrator()
            let logger = logger
            // The server role must not hold the owner's password, and cannot create tables: with an external database
            // and no owner URL, it only checks that `breakglassd migrate` was run. One URL for both (an operator who
            // accepted a privileged role) still migrates.
            let ownerGiven = environment["BREAKGLASS_MIGRATION_DATABASE_URL"].map { !$0.isEmpty } ?? false
            if databases.embedded != nil || ownerGiven || roleCheck == .allow {
                let applied = try await Database.withDatabase(databases.owner, logger: logger) { try await migrator.migrate($0, logger: logger) }
                if !applied.isEmpty { logger.info("migrations applied", metadata: ["migrations": "\(applied.joined(separator: ", "))"]) }
            }
            try await body(settings, databases, box, migrator)
        }
    }

    /// The server role cannot apply migrations, so it refuses to run on a schema that lacks some.
    private func checkSchema(_ database: Database, migrator: Migrator) async throws {
        let pending = try await database.read { try await migrator.pending($0) }
        guard pending.isEmpty else {
            throw BreakglassError(.unavailable, "migrations_pending",
                                  "migrations pending: \(pending.joined(separator: ", ")); apply them with `breakglassd migrate` with BREAKGLASS_MIGRATION_DATABASE_URL set to the schema owner (the server role cannot, and should not hold the owner's password)")
        }
    }
}

/// Turns domain errors into a one-line message and a non-zero exit, never a stack trace.
func reportingErrors(_ body: () async throws -> Void) async throws {
    do {
        try await body()
    } catch let error as BreakglassError {
        FileHandle.standardError.write(Data("breakglassd: \(error.message)\n".utf8))
        throw ExitCode(error.kind == .invalidInput ? 64 : 1)
    }
}
