import BreakglassCore
import Foundation

/// Appends audit events in group commits: whatever arrives while a transaction is committing goes into
/// the next one, so many proxy connections share transactions without any timer, and a lone statement
/// waits for one commit only. Each caller returns only once its own events are committed (the proxy's
/// fail-closed rule depends on it) and gets the batch's error if that commit failed. `submit` queues events in
/// the same order without waiting for their commit (for records nothing waits on, such as a statement's
/// result); a failed commit of those is reported to `onLost`.
public actor AuditBatcher {
    private let database: Database
    private var waiting: [(events: [AuditEvent], done: CheckedContinuation<Void, any Error>?)] = []
    private var flushing = false
    private var drainers: [CheckedContinuation<Void, Never>] = []
    private let onLost: @Sendable (_ error: any Error, _ events: Int) -> Void
    /// Transactions committed so far: what the grouping saves shows as events per batch.
    public private(set) var batches = 0

    public init(database: Database, onLost: @escaping @Sendable (_ error: any Error, _ events: Int) -> Void = { _, _ in }) {
        self.database = database
        self.onLost = onLost
    }

    public func append(_ events: [AuditEvent]) async throws {
        guard !events.isEmpty else { return }
        try await withCheckedThrowingContinuation { (done: CheckedContinuation<Void, any Error>) in
            enqueue(events, done)
        }
    }

    /// Queues events behind everything appended so far and returns at once.
    public func submit(_ events: [AuditEvent]) {
        guard !events.isEmpty else { return }
        enqueue(events, nil)
    }

    /// Returns once everything queued so far is committed (or reported lost): what a graceful shutdown waits
    /// for before the pool closes, so `submit`ted records are not dropped with the process.
    public func drained() async {
        guard flushing || !waiting.isEmpty else { return }
        await withCheckedContinuation { drainers.append($0) }
    }

    private func enqueue(_ events: [AuditEvent], _ done: CheckedContinuation<Void, any Error>?) {
        waiting.append((events, done))
        if !flushing {
            flushing = true
            Task { await self.flush() }
        }
    }

    private func flush() async {
        while !waiting.isEmpty {
            let batch = waiting
            waiting = []
            let events = batch.flatMap(\.events)
            do {
                try await database.transaction { tx in
                    try await tx.audit.append(batch: events)
                }
                batches += 1
                for waiter in batch { waiter.done?.resume() }
            } catch {
                for waiter in batch { waiter.done?.resume(throwing: error) }
                let unwatched = batch.filter { $0.done == nil }.reduce(0) { $0 + $1.events.count }
                if unwatched > 0 { onLost(error, unwatched) }
            }
        }
        flushing = false
        for drainer in drainers { drainer.resume() }
        drainers = []
    }
}
