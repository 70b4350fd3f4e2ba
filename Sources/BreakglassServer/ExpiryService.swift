import BreakglassCore
import Logging
import ServiceLifecycle

/// Records expiry of sessions when their time comes, and on start catches up on every session that
/// expired while no broker was running. Safe to run in several instances (claims use SKIP LOCKED).
public struct ExpiryService: Service, CustomStringConvertible {
    let broker: Broker
    let pollInterval: Duration
    let logger: Logger

    public var description: String { "ExpiryService" }

    public init(broker: Broker, pollInterval: Duration = .seconds(1), logger: Logger) {
        self.broker = broker
        self.pollInterval = pollInterval
        self.logger = logger
    }

    public func run() async throws {
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            do {
                var closed = 0
                repeat {
                    closed = try await broker.expireDueSessions()
                    if closed > 0 { logger.notice("sessions expired", metadata: ["sessions.count": "\(closed)"]) }
                } while closed > 0
            } catch {
                // The database may be briefly away; expiry is retried on the next tick and views already
                // show the session as expired.
                logger.warning("expiry pass failed", metadata: ["error": "\(error)"])
            }
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: pollInterval) }
        }
    }
}
