import BreakglassCore
import Foundation

/// Appends audit events in group commits: whatever arrives while a transaction is committing goes into
/// the next one, so many proxy connections share transactions without any timer, and a lone statement
/// waits for one commit only. Each caller returns only once its own events are committed (the proxy's
/// fail-closed rule depends on it) and gets the batch's error if that commit failed.
public actor AuditBatcher {
    private let database: Database
    private var waiting: [(events: [AuditEvent], done: CheckedContinuation<Void, any Error>)] = []
    private var flushing = false
    /// Transactions committed so far: what the grouping saves shows as events per batch.
    public private(set) var batches = 0

    public init(database: Database) {
        self.database = database
    }

    public func append(_ events: [AuditEvent]) async throws {
        guard !events.isEmpty else { return }
        try await withCheckedThrowingContinuation { (done: CheckedContinuation<Void, any Error>) in
            waiting.append((events, done))
            if !flushing {
                flushing = true
                Task { await self.flush() }
            }
        }
    }

    private func flush() async {
        while !waiting.isEmpty {
            let batch = waiting
            waiting = []
            let events = batch.flatMap(\.events)
            do {
                try await database.transaction { tx in
                    for event in events { try await tx.appendAudit(event) }
                }
                batches += 1
                for waiter in batch { waiter.done.resume() }
            } catch {
                for waiter in batch { waiter.done.resume(throwing: error) }
            }
        }
        flushing = false
    }
}
