import BreakglassCore
import Foundation
import Logging
import PostgresNIO

/// The broker's PostgreSQL connection pool. Every write and its audit and outbox rows share one
/// transaction; errors come out as `BreakglassError` so callers never see driver internals.
public struct Database: Sendable {
    public let client: PostgresClient
    public let config: DatabaseConfig
    let logger: Logger

    public init(config: DatabaseConfig, logger: Logger) throws {
        self.config = config
        self.logger = logger
        client = PostgresClient(configuration: try config.clientConfiguration(), backgroundLogger: logger)
    }

    /// Runs the pool until the surrounding task is cancelled.
    public func run() async { await client.run() }

    public func transaction<T: Sendable>(_ body: (Tx) async throws -> T) async throws -> T {
        do {
            return try await client.withTransaction(logger: logger) { connection in
                try await body(Tx(connection: connection, logger: logger))
            }
        } catch let error as PostgresTransactionError {
            if let closure = error.closureError { throw Self.translate(closure, logger: logger) }
            throw Self.translate(error.beginError ?? error.commitError ?? error, logger: logger)
        } catch {
            throw Self.translate(error, logger: logger)
        }
    }

    public func read<T: Sendable>(_ body: (Tx) async throws -> T) async throws -> T {
        do {
            return try await client.withConnection { connection in
                try await body(Tx(connection: connection, logger: logger))
            }
        } catch {
            throw Self.translate(error, logger: logger)
        }
    }

    /// Refusals that must still leave a record (a wrong TOTP code, a lockout) commit their audit rows
    /// and only then surface the refusal.
    public func transactionCommittingRefusal<T: Sendable>(_ body: (Tx) async throws -> Outcome<T>) async throws -> T {
        switch try await transaction(body) {
        case .done(let value): return value
        case .refused(let error): throw error
        }
    }

    static func translate(_ error: any Error, logger: Logger) -> any Error {
        if error is BreakglassError || error is CancellationError { return error }
        if let psql = error as? PSQLError {
            let state = psql.serverInfo?[.sqlState] ?? ""
            let message = psql.serverInfo?[.message] ?? ""
            logger.error("database error", metadata: ["db.sqlstate": "\(state)", "db.message": "\(message)", "db.code": "\(psql.code)"])
            if psql.serverInfo == nil { return BreakglassError.storeUnavailable }
            if state == "40001" || state == "40P01" {
                return BreakglassError(.unavailable, "database_conflict", "the database was busy; nothing was changed, try again")
            }
            return BreakglassError(.internalFailure, "database_error", "the database refused the change; nothing was issued")
        }
        logger.error("unexpected database failure", metadata: ["error.type": "\(type(of: error))"])
        return BreakglassError.storeUnavailable
    }
}

public enum Outcome<T: Sendable>: Sendable {
    case done(T)
    case refused(BreakglassError)
}

/// One connection inside a transaction (or a plain read). Repositories are extensions on it.
public struct Tx {
    public let connection: PostgresConnection
    let logger: Logger

    @discardableResult
    func query(_ query: PostgresQuery) async throws -> PostgresRowSequence {
        try await connection.query(query, logger: logger)
    }

    func execute(_ query: PostgresQuery) async throws {
        _ = _ = try await connection.query(query, logger: logger).collect()
    }
}

extension Database {
    /// Opens a pool for the duration of `body` and closes it afterwards.
    @discardableResult
    public static func withDatabase<T: Sendable>(_ config: DatabaseConfig, logger: Logger, _ body: @Sendable (Database) async throws -> T) async throws -> T {
        let database = try Database(config: config, logger: logger)
        return try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask {
                await database.run()
                return nil
            }
            // Let the pool's run loop start before the first lease, which it otherwise logs a warning about.
            for _ in 0..<20 { await Task.yield() }
            defer { group.cancelAll() }
            return try await body(database)
        }
    }
}
