import BreakglassCore
import Logging
import ServiceLifecycle

/// Fires retro PR reminders and escalations when they fall due, and on start catches up on every rung
/// missed while no broker ran. Safe in several instances: obligations are claimed with SKIP LOCKED and
/// each rung can be recorded only once.
public struct RetroEscalationService: Service, CustomStringConvertible {
    let broker: Broker
    let pollInterval: Duration
    let logger: Logger

    public var description: String { "RetroEscalationService" }

    public init(broker: Broker, pollInterval: Duration = .seconds(5), logger: Logger) {
        self.broker = broker
        self.pollInterval = pollInterval
        self.logger = logger
    }

    public func run() async throws {
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            do {
                var moved = 0
                repeat {
                    moved = try await broker.fireDueEscalations()
                    if moved > 0 { logger.notice("retro escalation rungs reached", metadata: ["obligations.count": "\(moved)"]) }
                } while moved > 0
            } catch {
                // A rung not recorded is still due; the next tick fires it.
                logger.warning("retro escalation pass failed", metadata: ["error": "\(error)"])
            }
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: pollInterval) }
        }
    }
}
