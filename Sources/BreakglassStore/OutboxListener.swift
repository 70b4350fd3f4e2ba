import BreakglassCore
import Logging
import PostgresNIO

/// Hears that pages were committed: sql/0012 notifies `breakglass_outbox` whenever the outbox gains rows (or a
/// dead letter is put back). It holds a connection of its own, outside the pool: a LISTEN lives as long as its
/// connection, and a pool would hand that connection to other work or close it when idle.
public struct OutboxListener: Sendable {
    public static let channel = "breakglass_outbox"
    /// How the listening connection shows in `pg_stat_activity`: an operator can tell it from the pool's
    /// connections (it is idle for hours on end, by design).
    public static let applicationName = "breakglassd outbox listener"

    let config: DatabaseConfig
    let logger: Logger
    let firstRetry: Duration
    let longestRetry: Duration

    public init(config: DatabaseConfig, logger: Logger, firstRetry: Duration = .milliseconds(100), longestRetry: Duration = .seconds(10)) {
        self.config = config
        self.logger = logger
        self.firstRetry = firstRetry
        self.longestRetry = longestRetry
    }

    /// Calls `heard` for every notification until the task is cancelled, reconnecting with backoff whenever
    /// the connection is lost. `heard` is also called each time listening (re)starts: a page committed while
    /// nobody listened sent its notification to no one.
    public func run(_ heard: @escaping @Sendable () -> Void) async {
        var retry = firstRetry
        while !Task.isCancelled {
            do {
                try await listenOnce {
                    retry = firstRetry
                    heard()
                } heard: { heard() }
            } catch where !Task.isCancelled {
                logger.warning("outbox listener lost its connection; pages wait for the poll until it is back",
                               metadata: ["db.retry_in": "\(retry)", "error": "\(String(reflecting: error))"])
            } catch {}
            guard (try? await Task.sleep(for: retry)) != nil else { return }
            retry = min(retry * 2, longestRetry)
        }
    }

    /// One connection's life: returns when cancelled, throws when the connection fails.
    private func listenOnce(listening: () -> Void, heard: @Sendable () -> Void) async throws {
        let connection = try await PostgresConnection.connect(
            configuration: try config.connectionConfiguration(applicationName: Self.applicationName), id: 0, logger: logger)
        do {
            try await connection.listen(on: Self.channel) { notifications in
                logger.debug("listening for committed pages", metadata: ["db.channel": "\(Self.channel)"])
                listening()
                for try await _ in notifications { heard() }
                try Task.checkCancellation()
                // The sequence ends without an error only if the connection went away quietly.
                throw BreakglassError.storeUnavailable
            }
        } catch {
            try? await connection.close()
            throw error
        }
    }
}
