import Foundation

/// GitHub deliveries refused for their signature, counted in memory between two aggregated audit events.
/// Per-address counts are capped so a flood from many addresses cannot grow it without bound.
actor HookRejections {
    struct Batch: Sendable {
        var count = 0
        var missingSignature = 0
        var firstAt: Date
        var lastAt: Date
        var byAddress: [String: Int] = [:]

        var distinctAddresses: Int { byAddress.count }
        var topAddresses: [(address: String, count: Int)] {
            byAddress.sorted { $0.value > $1.value || ($0.value == $1.value && $0.key < $1.key) }.prefix(5).map { ($0.key, $0.value) }
        }
    }

    static let maxAddresses = 1000
    private var pending: Batch?
    /// Since the broker started, for `/metrics`.
    private(set) var total = 0

    func record(address: String, missingSignature: Bool, at now: Date) {
        var batch = pending ?? Batch(firstAt: now, lastAt: now)
        batch.count += 1
        if missingSignature { batch.missingSignature += 1 }
        batch.lastAt = max(batch.lastAt, now)
        let key = batch.byAddress[address] != nil || batch.byAddress.count < Self.maxAddresses ? address : "other"
        batch.byAddress[key, default: 0] += 1
        pending = batch
        total += 1
    }

    /// The pending batch once `interval` has passed since its first rejection; it is then cleared.
    func take(now: Date, interval: TimeInterval) -> Batch? {
        guard let batch = pending, now.timeIntervalSince(batch.firstAt) >= interval else { return nil }
        pending = nil
        return batch
    }

    func restore(_ batch: Batch) {
        guard var current = pending else {
            pending = batch
            return
        }
        current.count += batch.count
        current.missingSignature += batch.missingSignature
        current.firstAt = min(current.firstAt, batch.firstAt)
        current.lastAt = max(current.lastAt, batch.lastAt)
        current.byAddress.merge(batch.byAddress) { $0 + $1 }
        pending = current
    }
}
