import BreakglassCore
import BreakglassStore
import Foundation
import Logging
import PostgresNIO

/// A fresh database per test on the throwaway cluster `scripts/with-postgres.sh` started, migrated by the
/// superuser (the schema owner) and used by the server through the unprivileged runtime role, exactly as
/// in production.
public struct TestDatabase: Sendable {
    public let name: String
    public let owner: DatabaseConfig
    public let runtime: DatabaseConfig

    public static let runtimeUser = "bg_test_server"
    public static let runtimePassword = "bg-test-server-password"

    public static var logger: Logger {
        var logger = Logger(label: "breakglass-test")
        logger.logLevel = ProcessInfo.processInfo.environment["BREAKGLASS_TEST_LOG"].flatMap(Logger.Level.init(rawValue:)) ?? .critical
        return logger
    }

    public static func superuser() throws -> DatabaseConfig {
        guard let config = try DatabaseConfig.fromEnvironment(ProcessInfo.processInfo.environment) else {
            throw BreakglassError(.unavailable, "no_test_database",
                                  "no PostgreSQL configured for tests: run them with scripts/test.sh (it starts a throwaway cluster)")
        }
        return config
    }

    public static var sqlDirectory: URL {
        Migrator.defaultDirectory(environment: ProcessInfo.processInfo.environment)
    }

    public static var repositoryRoot: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }

    public static func create(migrate: Bool = true) async throws -> TestDatabase {
        // Tests that run in parallel (swift-testing) would otherwise alter the shared runtime role at the same time,
        // which PostgreSQL refuses with "tuple concurrently updated".
        try await creation.serially { try await createAlone(migrate: migrate) }
    }

    private static let creation = Turnstile()

    private static func createAlone(migrate: Bool) async throws -> TestDatabase {
        let superuser = try superuser()
        let name = "bg_test_" + Base32.encode(Secrets.randomBytes(10)).lowercased()
        try await Provisioning.prepare(superuser: superuser, database: name, runtimeUser: runtimeUser, runtimePassword: runtimePassword,
                                       logger: logger)
        let db = TestDatabase(name: name, owner: superuser.with(user: superuser.user, password: superuser.password, database: name),
                              runtime: superuser.with(user: runtimeUser, password: runtimePassword, database: name))
        if migrate {
            let migrator = try Migrator.load(directory: sqlDirectory)
            try await Database.withDatabase(db.owner, logger: logger) { try await migrator.migrate($0, logger: logger) }
        }
        return db
    }

    public func drop() async {
        let superuser = try? Self.superuser()
        guard let superuser else { return }
        _ = try? await Database.withDatabase(superuser, logger: Self.logger) { admin in
            try await admin.read { tx in
                _ = try await tx.connection.query(PostgresQuery(unsafeSQL: "DROP DATABASE IF EXISTS \(name) WITH (FORCE)"), logger: Self.logger).collect()
            }
        }
    }

    /// Runs SQL as the superuser on this database (what an attacker with full database access could do).
    public func asSuperuser(_ sql: String) async throws {
        try await Database.withDatabase(owner, logger: Self.logger) { db in
            try await db.read { tx in
                _ = try await tx.connection.query(PostgresQuery(unsafeSQL: sql), logger: Self.logger).collect()
            }
        }
    }

    /// Runs SQL as the server's own role and returns the server's error message, or nil if it succeeded.
    public func asServerRole(_ sql: String) async -> String? {
        do {
            try await Database.withDatabase(runtime, logger: Self.logger) { db in
                try await db.client.withConnection { connection in
                    _ = try await connection.query(PostgresQuery(unsafeSQL: sql), logger: Self.logger).collect()
                }
            }
            return nil
        } catch let error as PSQLError {
            return error.serverInfo?[.message] ?? "\(error)"
        } catch {
            return "\(error)"
        }
    }

    /// The first column of each row, as text (e.g. an EXPLAIN plan).
    public func lines(_ sql: String) async throws -> [String] {
        try await Database.withDatabase(owner, logger: Self.logger) { db in
            try await db.read { tx in
                var out: [String] = []
                for try await value in try await tx.connection.query(PostgresQuery(unsafeSQL: sql), logger: Self.logger).decode(String.self) {
                    out.append(value)
                }
                return out
            }
        }
    }

    public func count(_ sql: String) async throws -> Int {
        try await Database.withDatabase(owner, logger: Self.logger) { db in
            try await db.read { tx in
                var n = 0
                for try await value in try await tx.connection.query(PostgresQuery(unsafeSQL: sql), logger: Self.logger).decode(Int.self) { n = value }
                return n
            }
        }
    }
}

extension DatabaseConfig {
    /// The libpq URL, password included, for handing to a `breakglassd` process in a test.
    public var urlWithPassword: String {
        "postgres://\(user):\(password ?? "")@\(host):\(port)/\(database)?sslmode=disable"
    }
}

/// One at a time, in arrival order, across suspension points (an actor alone lets calls interleave at each `await`).
actor Turnstile {
    private var busy = false
    private var waiting: [CheckedContinuation<Void, Never>] = []

    func serially<T: Sendable>(_ body: @Sendable () async throws -> T) async throws -> T {
        if busy {
            await withCheckedContinuation { waiting.append($0) }
        } else {
            busy = true
        }
        defer {
            if waiting.isEmpty { busy = false } else { waiting.removeFirst().resume() }
        }
        return try await body()
    }
}
