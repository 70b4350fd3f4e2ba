import BreakglassCore
import BreakglassStore
import Foundation
import Hummingbird
import Prometheus

extension Broker {
    /// Broker-wide figures from the database (see `BrokerFigures`): the same on every instance.
    public func brokerFigures() async throws -> BrokerFigures {
        let now = clock.now()
        return try await database.read { try await BrokerFigures.read($0, now: now) }
    }
}

extension Routes {
    /// Adds the broker-wide figures to a scrape's registry. Counters are set from database totals (each
    /// scrape builds a fresh registry), gauges from the current state.
    static func register(_ figures: BrokerFigures, in registry: PrometheusCollectorRegistry) {
        func descriptor(_ name: String, unit: String = "", _ help: String) -> MetricNameDescriptor {
            MetricNameDescriptor(namespace: "breakglass", metricName: name, unitName: unit, helpText: help)
        }
        func counter(_ name: String, _ help: String, _ labels: [(String, String)] = [], _ value: Int) {
            registry.makeCounter(descriptor: descriptor(name, unit: "total", help), labels: labels).increment(by: Int64(value))
        }
        func gauge(_ name: String, unit: String = "", _ help: String, _ value: Double) {
            registry.makeGauge(descriptor: descriptor(name, unit: unit, help)).set(value)
        }
        for row in figures.activations {
            counter("activations", "Break-glass requests by target and outcome (granted or denied), since the database was created",
                    [("target", row.target), ("outcome", row.outcome)], row.count)
        }
        counter("totp_failures", "Wrong or replayed TOTP codes, every proof (activation, extension, step-up, login, enrolment)", [], figures.totpFailures)
        counter("lockouts", "Accounts locked after too many wrong codes", [], figures.lockouts)
        gauge("sessions_active", "Emergency sessions active now", Double(figures.sessionsActive))
        gauge("outbox_pending", "Pages not yet delivered (messages not fanned out and deliveries waiting)", Double(figures.outboxPending))
        gauge("outbox_oldest_pending", unit: "seconds", "Age of the oldest page not yet delivered (0 when none)", figures.outboxOldestPendingSeconds)
        for row in figures.deliveries {
            counter("deliveries", "Delivery attempts by channel kind and result (delivered, retry, dead, gone)",
                    [("channel_kind", row.channelKind), ("result", row.result)], row.count)
        }
        gauge("dead_letters", "Deliveries given up on (re-drive with breakglass notify retry)", Double(figures.deadLetters))
        gauge("expiry_lag", unit: "seconds", "How long the most overdue active session is past its expiry (0 when none)", figures.expiryLagSeconds)
    }
}
