import AsyncHTTPClient
import BreakglassCore
import BreakglassNotify
import Foundation
import Logging
import ServiceLifecycle

/// Delivers the outbox: routes new messages to channels, claims due deliveries (SKIP LOCKED, so several
/// instances share the work and never send one claim twice), sends them and records every attempt.
/// On graceful shutdown it stops claiming and finishes the sends in flight; a crashed instance's claims
/// lapse and are picked up again.
public struct DeliveryService: Service, CustomStringConvertible {
    let broker: Broker
    let pollInterval: Duration
    let batch: Int
    let logger: Logger
    let instance = "bg-" + UUID().uuidString.prefix(8).lowercased()

    public var description: String { "DeliveryService" }

    public init(broker: Broker, pollInterval: Duration = .milliseconds(500), batch: Int = 32, logger: Logger) {
        self.broker = broker
        self.pollInterval = pollInterval
        self.batch = batch
        self.logger = logger
    }

    public func run() async throws {
        let client = ChannelSender.makeClient()
        let sender = ChannelSender(client: client, source: broker.settings.issuerName)
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            var busy = false
            do {
                busy = try await broker.routeOutbox() > 0
                let claimed = try await broker.claimDeliveries(instance: instance, limit: batch)
                busy = busy || !claimed.isEmpty
                // One lane per channel and session, sent in commit order: a session's pages reach a channel in
                // the order they were written (level 1 before level 2), while other lanes go in parallel.
                let lanes = Dictionary(grouping: claimed) { "\($0.channel.id)|\($0.message.sessionId ?? $0.id.uuidString)" }
                await withTaskGroup(of: Void.self) { group in
                    for lane in lanes.values {
                        group.addTask {
                            for delivery in lane {
                                do {
                                    try await broker.deliver(delivery, sender: sender, instance: instance)
                                } catch {
                                    // The claim lapses and the delivery is retried; the page is delayed, not lost.
                                    logger.error("recording a delivery failed", metadata: ["delivery.id": "\(delivery.id)", "error": "\(error)"])
                                }
                            }
                        }
                    }
                }
            } catch {
                logger.warning("delivery pass failed", metadata: ["error": "\(error)"])
            }
            if !busy {
                try? await cancelWhenGracefulShutdown { try await Task.sleep(for: pollInterval) }
            }
        }
        try? await client.shutdown()
    }
}
