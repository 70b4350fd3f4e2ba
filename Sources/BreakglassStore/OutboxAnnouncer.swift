import Logging
import NIOConcurrencyHelpers
import PostgresNIO

/// Tells every instance's delivery loop (through `OutboxListener`) that pages were committed, so they are sent
/// now rather than at the next poll.
///
/// The NOTIFY is sent after the commit, in a statement of its own, not inside the transaction that queued the
/// pages: PostgreSQL serialises the commits of all notifying transactions on one database-wide lock held across
/// the WAL flush, which took a same-shape pgbench run (16 clients, fsync on) from about 5,900 to 2,100
/// transactions/s, a ceiling far below what activations must reach. Out here it costs no round trip on the
/// request path and commits asynchronously (losing it in a crash costs a page one poll interval). Commits that
/// land while one NOTIFY is in flight share the next one, so a burst of activations sends a few, not one each.
final class OutboxAnnouncer: Sendable {
    private struct State {
        var sending = false
        var again = false
    }

    private let state = NIOLockedValueBox(State())
    private let client: PostgresClient
    private let logger: Logger

    init(client: PostgresClient, logger: Logger) {
        self.client = client
        self.logger = logger
    }

    /// Called once a transaction that queued pages has committed.
    func announce() {
        let start = state.withLockedValue { state in
            if state.sending {
                state.again = true
                return false
            }
            state.sending = true
            return true
        }
        guard start else { return }
        // Unstructured: the committing request must not wait for it. It is one short statement, bounded by the
        // pool's own timeouts, and ends when the pool shuts down.
        Task { [self] in
            repeat {
                state.withLockedValue { $0.again = false }
                do {
                    _ = try await client.query("""
                        SELECT set_config('synchronous_commit', 'off', true), pg_notify(\(OutboxListener.channel), '')
                        """, logger: logger).collect()
                } catch {
                    logger.debug("announcing committed pages failed; they go at the next poll", metadata: ["error": "\(error)"])
                }
            } while state.withLockedValue { state in
                if state.again { return true }
                state.sending = false
                return false
            }
        }
    }
}

/// Whether a transaction queued pages: set by the outbox insert, read once the transaction has committed.
final class PagesQueued: Sendable {
    private let flag = NIOLockedValueBox(false)

    func mark() { flag.withLockedValue { $0 = true } }
    var any: Bool { flag.withLockedValue { $0 } }
}
