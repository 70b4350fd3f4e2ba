import BreakglassCore
import Foundation
import Logging
import PostgresNIO
import ServiceLifecycle

/// The broker's PostgreSQL connection pool. Every write and its audit and outbox rows share one
/// transaction; errors come out as `BreakglassError` so callers never see driver internals.
public struct Database: Sendable {
    public let client: PostgresClient
    public let config: DatabaseConfig
    let logger: Logger
    /// Longest a use case may wait for the database. Past it the caller hears "unavailable" promptly
    /// and the abandoned work is cancelled, so it cannot complete later behind the user's back.
    let deadline: Duration
    let announcer: OutboxAnnouncer

    public init(config: DatabaseConfig, logger: Logger, deadline: Duration = .seconds(10)) throws {
        self.config = config
        self.logger = logger
        self.deadline = deadline
        client = PostgresClient(configuration: try config.clientConfiguration(), backgroundLogger: logger)
        announcer = OutboxAnnouncer(client: client, logger: logger)
    }

    public func transaction<T: Sendable>(_ body: @escaping @Sendable (Tx) async throws -> T) async throws -> T {
        let pages = PagesQueued()
        do {
            let result = try await withDeadline {
                try await client.withTransaction(logger: logger) { connection in
                    try Task.checkCancellation()
                    return try await body(Tx(connection: connection, logger: logger, pages: pages))
                }
            }
            if pages.any { announcer.announce() }
            return result
        } catch let error as PostgresTransactionError {
            if let closure = error.closureError { throw Self.translate(closure, logger: logger) }
            throw Self.translate(error.beginError ?? error.commitError ?? error, logger: logger)
        } catch {
            throw Self.translate(error, logger: logger)
        }
    }

    public func read<T: Sendable>(_ body: @escaping @Sendable (Tx) async throws -> T) async throws -> T {
        try await autocommit(body)
    }

    /// Statements outside a transaction block, each committing on its own: for a write that is one statement (and so
    /// whole or nothing without BEGIN and COMMIT, two round trips fewer). Pages it queued are announced after it.
    public func autocommit<T: Sendable>(_ body: @escaping @Sendable (Tx) async throws -> T) async throws -> T {
        let pages = PagesQueued()
        do {
            let result = try await withDeadline {
                try await client.withConnection { connection in
                    try Task.checkCancellation()
                    return try await body(Tx(connection: connection, logger: logger, pages: pages))
                }
            }
            if pages.any { announcer.announce() }
            return result
        } catch {
            throw Self.translate(error, logger: logger)
        }
    }

    /// Refusals that must still leave a record (a wrong TOTP code, a lockout) commit their audit rows
    /// and only then surface the refusal.
    public func transactionCommittingRefusal<T: Sendable>(_ body: @escaping @Sendable (Tx) async throws -> Outcome<T>) async throws -> T {
        switch try await transaction(body) {
        case .done(let value): return value
        case .refused(let error): throw error
        }
    }

    /// Runs `body` but returns (with "unavailable") once the deadline passes, without waiting for a body
    /// stuck on a connection that never comes: the body is cancelled, and `transaction`/`read` check for
    /// cancellation as soon as they hold a connection, so abandoned work does not start late.
    private func withDeadline<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) async throws -> T {
        let race = DeadlineRace<T>()
        let work = Task { await race.finish(with: await Result(catching: body)) }
        let timer = Task { [deadline, logger] in
            let timedOut = (try? await Task.sleep(for: deadline)) != nil
            if timedOut { logger.error("database deadline passed", metadata: ["db.deadline": "\(deadline)"]) }
            await race.finish(with: .failure(timedOut ? BreakglassError.storeUnavailable : CancellationError()))
        }
        let result = await withTaskCancellationHandler {
            await race.result()
        } onCancel: {
            timer.cancel()
            work.cancel()
        }
        timer.cancel()
        work.cancel()
        return try result.get()
    }

    static let invalidText = BreakglassError(.invalidInput, "invalid_text",
                                             "a name, id or text in the request contains a NUL character, which cannot be stored; nothing was changed")

    static func translate(_ error: any Error, logger: Logger) -> any Error {
        if error is BreakglassError || error is CancellationError { return error }
        if let psql = error as? PSQLError {
            let state = psql.serverInfo?[.sqlState] ?? ""
            // character_not_in_repertoire: a NUL (or bytes that are not UTF-8) in a name, id or text the client sent,
            // which PostgreSQL text cannot hold. The broker never makes such text itself: it is bad input, not a fault.
            if state == "22021" { return invalidText }
            logger.error("database error", metadata: ["db.sqlstate": "\(state)", "db.code": "\(psql.code)",
                                                      "db.message": "\(psql.serverInfo?[.message] ?? "")"])
            if psql.serverInfo == nil || unavailableStates.contains(where: state.hasPrefix) { return BreakglassError.storeUnavailable }
            if state == "40001" || state == "40P01" {
                return BreakglassError(.unavailable, "database_conflict", "the database was busy; nothing was changed, try again")
            }
            return BreakglassError(.internalFailure, "database_error", "the database refused the change; nothing was issued")
        }
        // A row that does not decode is a fault in the data (or in this build), not an outage: retrying will not help.
        if let decoding = error as? PostgresDecodingError {
            logger.error("stored row does not decode", metadata: ["db.column": "\(decoding.columnName)", "db.type": "\(decoding.postgresType)"])
            return BreakglassError.corruptRow("a stored value (column \(decoding.columnName))")
        }
        if error is DecodingError {
            logger.error("stored JSON does not decode", metadata: ["error.type": "\(type(of: error))"])
            return BreakglassError.corruptRow("a stored JSON value")
        }
        logger.error("unexpected database failure", metadata: ["error.type": "\(type(of: error))"])
        return BreakglassError.storeUnavailable
    }

    /// SQLSTATE classes that mean "cannot reach or use the server now", not "this change is wrong":
    /// connection exceptions, operator intervention (shutdown), insufficient resources, authentication,
    /// missing database.
    static let unavailableStates = ["08", "57", "53", "28", "3D"]
}

public enum Outcome<T: Sendable>: Sendable {
    case done(T)
    case refused(BreakglassError)
}

/// One connection inside a transaction (or a plain read), and the repositories that work on it, one per
/// aggregate: `tx.sessions`, `tx.audit`, `tx.outbox`, … A repository is a view of this connection, so
/// whatever several of them write in one transaction commits (or rolls back) together.
public struct Tx: Sendable {
    public let connection: PostgresConnection
    let logger: Logger
    /// Marked by the outbox insert, so the delivery loops are woken once the transaction commits.
    let pages: PagesQueued

    @discardableResult
    func query(_ query: PostgresQuery) async throws -> PostgresRowSequence {
        try await connection.query(query, logger: logger)
    }

    func execute(_ query: PostgresQuery) async throws {
        _ = try await connection.query(query, logger: logger).collect()
    }

    /// Runs a statement this connection prepares on first use and keeps: the hot paths (activation, the delivery
    /// loop's passes) run the same few statements thousands of times, and parsing and planning them each time cost
    /// PostgreSQL more CPU than running them. A prepared statement that failed once fails on its connection for
    /// good: postgres-nio keeps a failed prepare, and PostgreSQL refuses one whose result type a migration changed
    /// ("cached plan must not change result type"), as when an older broker runs on while a newer one migrates.
    /// The connection is closed then, so the pool replaces it with one that prepares the statement afresh.
    func prepared<S: PostgresPreparedStatement>(_ statement: S) async throws -> [S.Row] {
        do {
            var rows: [S.Row] = []
            for try await row in try await connection.execute(statement, logger: logger) { rows.append(row) }
            return rows
        } catch let error as PSQLError where Self.outlivesItsConnection(error) {
            try? await connection.close()
            throw error
        }
    }

    /// Any refusal by the server but bad data (22) or a broken constraint (23), which say nothing about the statement:
    /// postgres-nio keeps whatever made a prepare fail (a changed result type, but also a deadlock or a lock timeout
    /// against a migration's lock while preparing), and an execution failure cannot be told from a prepare failure
    /// here. Closing a connection that was fine costs one reconnect.
    static func outlivesItsConnection(_ error: PSQLError) -> Bool {
        guard let state = error.serverInfo?[.sqlState] else { return false }
        return !state.hasPrefix("22") && !state.hasPrefix("23")
    }

    /// Must be the first statement of a transaction.
    public func beginSnapshot() async throws {
        try await execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
    }

    public var activations: ActivationRepository { ActivationRepository(tx: self) }
    public var audit: AuditLog { AuditLog(tx: self) }
    public var channels: ChannelRepository { ChannelRepository(tx: self) }
    public var deliveries: DeliveryRepository { DeliveryRepository(tx: self) }
    public var drills: DrillRepository { DrillRepository(tx: self) }
    public var github: GitHubRepository { GitHubRepository(tx: self) }
    public var outbox: Outbox { Outbox(tx: self) }
    public var proxyCredentials: ProxyCredentialRepository { ProxyCredentialRepository(tx: self) }
    public var retro: RetroRepository { RetroRepository(tx: self) }
    public var sessions: SessionRepository { SessionRepository(tx: self) }
    public var signingKeys: SigningKeyRepository { SigningKeyRepository(tx: self) }
    public var targets: TargetRepository { TargetRepository(tx: self) }
    public var tokens: TokenRepository { TokenRepository(tx: self) }
    public var users: UserRepository { UserRepository(tx: self) }
    public var webLogins: WebLoginRepository { WebLoginRepository(tx: self) }
}

/// A repository runs its statements on the connection of the `Tx` it came from.
protocol Repository: Sendable {
    var tx: Tx { get }
}

extension Repository {
    @discardableResult
    func query(_ query: PostgresQuery) async throws -> PostgresRowSequence {
        try await tx.query(query)
    }

    func execute(_ query: PostgresQuery) async throws {
        try await tx.execute(query)
    }

    /// Marked by whatever queues a page, so the delivery loops are woken once the transaction commits.
    var pages: PagesQueued { tx.pages }
}

/// The pool is a service of the server's `ServiceGroup`, listed first so that it stops last: the HTTP server and
/// the background loops finish their work (and flush what they hold) on it during a graceful shutdown.
extension Database: Service, CustomStringConvertible {
    public var description: String { "PostgresPool" }

    /// Runs the pool (it must run before anything leases a connection) until a graceful shutdown or cancellation.
    public func run() async {
        await client.run()
    }
}

extension Database {
    /// Opens a pool for the duration of `body` and closes it afterwards: for the short-lived commands and the
    /// startup checks, which have no `ServiceGroup`.
    @discardableResult
    public static func withDatabase<T: Sendable>(_ config: DatabaseConfig, logger: Logger, deadline: Duration = .seconds(10),
                                                 _ body: @Sendable (Database) async throws -> T) async throws -> T {
        let database = try Database(config: config, logger: logger, deadline: deadline)
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

/// The first of the work and the timer to finish decides; the other is ignored.
private actor DeadlineRace<T: Sendable> {
    private var outcome: Result<T, any Error>?
    private var waiter: CheckedContinuation<Result<T, any Error>, Never>?

    func finish(with result: Result<T, any Error>) {
        guard outcome == nil else { return }
        outcome = result
        waiter?.resume(returning: result)
        waiter = nil
    }

    func result() async -> Result<T, any Error> {
        if let outcome { return outcome }
        return await withCheckedContinuation { waiter = $0 }
    }
}

extension Result where Failure == any Error {
    init(catching body: () async throws -> Success) async {
        do { self = .success(try await body()) } catch { self = .failure(error) }
    }
}
