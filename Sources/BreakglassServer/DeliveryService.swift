import AsyncHTTPClient
import BreakglassCore
import BreakglassNotify
import BreakglassStore
import Foundation
import Logging
import ServiceLifecycle

/// Delivers the outbox: routes new messages to channels, claims due deliveries (SKIP LOCKED, so several
/// instances share the work and never send one claim twice), sends them and records every attempt.
/// Committed pages wake it at once (`OutboxListener`, NOTIFY); the poll remains for what no notification
/// announces (retries coming due, pages committed while the listener was reconnecting).
/// Claiming goes on while sends are in flight (up to `maxInFlight`), so a slow receiver delays only its own
/// lane, never another channel's pages. On graceful shutdown it stops claiming and finishes the sends in
/// flight; a crashed instance's claims lapse and are picked up again.
public struct DeliveryService: Service, CustomStringConvertible {
    let broker: Broker
    let pollInterval: Duration
    let batch: Int
    /// As many sends as one claimed batch used to hold: each send takes pool connections for its short
    /// transactions, and the HTTP API shares that pool.
    let maxInFlight: Int
    let logger: Logger
    let instance = "bg-" + UUID().uuidString.prefix(8).lowercased()

    public var description: String { "DeliveryService" }

    public init(broker: Broker, pollInterval: Duration = .milliseconds(500), batch: Int = 32, maxInFlight: Int = 32, logger: Logger) {
        self.broker = broker
        self.pollInterval = pollInterval
        self.batch = batch
        self.maxInFlight = maxInFlight
        self.logger = logger
    }

    public func run() async throws {
        let client = ChannelSender.makeClient()
        let sender = ChannelSender(client: client, source: broker.settings.issuerName)
        // Rings coalesce: however many arrive while a pass runs, one more pass follows.
        let (rings, doorbell) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        let listener = OutboxListener(config: broker.database.config, logger: logger)
        await withDiscardingTaskGroup { services in
            services.addTask { await listener.run { doorbell.yield() } }
            await deliver(sender: sender, rings: rings, doorbell: doorbell)
            services.cancelAll()
        }
        try? await client.shutdown()
    }

    /// Passes until graceful shutdown: each routes new messages and claims what is due, then, if there was
    /// nothing to do, waits for a ring (pages committed, a send finished) or the poll interval, whichever is first.
    private func deliver(sender: ChannelSender, rings: AsyncStream<Void>, doorbell: AsyncStream<Void>.Continuation) async {
        let inFlight = InFlight()
        var wakes = rings.makeAsyncIterator()
        // Leaving the group waits for every send still in flight.
        await withDiscardingTaskGroup { group in
            while !Task.isShuttingDownGracefully && !Task.isCancelled {
                var busy = false, failed = false
                do {
                    busy = try await broker.routeOutbox() > 0
                    let room = maxInFlight - (await inFlight.count)
                    if room > 0 {
                        // A claim can lapse while its send is still in flight here (a receiver slower than the claim, or
                        // a clock moved forward) and come back in this instance's next claim: never send it twice.
                        let claimed = await inFlight.start(try await broker.claimDeliveries(instance: instance, limit: min(batch, room)))
                        busy = busy || !claimed.isEmpty
                        // One lane per channel and session, sent in commit order: a session's pages reach a channel in
                        // the order they were written (level 1 before level 2). The claim never hands out a page of a
                        // lane that is still in flight, so lanes stay ordered across claims too.
                        let lanes = Dictionary(grouping: claimed) { "\($0.channel.id)|\($0.message.sessionId ?? $0.id.uuidString)" }
                        for lane in lanes.values {
                            group.addTask {
                                for delivery in lane {
                                    await send(delivery, sender: sender)
                                    await inFlight.finish(delivery.id)
                                }
                                // The lane's next page (committed while this one was sent) and any page that found no
                                // room can be claimed now, not a poll interval later.
                                doorbell.yield()
                            }
                        }
                    }
                } catch {
                    failed = true
                    logger.warning("delivery pass failed", metadata: ["error": "\(error)"])
                }
                if !busy {
                    // A pass that failed did not look: it is not evidence that nothing is due.
                    if !failed, await inFlight.count == 0 { broker.idlePasses.record(.delivery) }
                    await nap(&wakes, doorbell: doorbell)
                }
            }
        }
    }

    private func nap(_ wakes: inout AsyncStream<Void>.Iterator, doorbell: AsyncStream<Void>.Continuation) async {
        let alarm = Task { [pollInterval] in
            if (try? await Task.sleep(for: pollInterval)) != nil { doorbell.yield() }
        }
        defer { alarm.cancel() }
        await withGracefulShutdownHandler {
            _ = await wakes.next()
        } onGracefulShutdown: {
            doorbell.yield()
        }
    }

    private func send(_ delivery: ClaimedDelivery, sender: ChannelSender) async {
        do {
            try await broker.deliver(delivery, sender: sender, instance: instance)
        } catch {
            // The claim lapses and the delivery is retried; the page is delayed, not lost.
            logger.error("recording a delivery failed", metadata: ["delivery.id": "\(delivery.id)", "error": "\(error)"])
        }
    }
}

/// The claimed deliveries this instance has not finished yet (sending or queued behind their lane).
private actor InFlight {
    private var ids: Set<UUID> = []
    var count: Int { ids.count }

    /// Keeps the deliveries not already in flight here, and marks them.
    func start(_ claimed: [ClaimedDelivery]) -> [ClaimedDelivery] {
        claimed.filter { ids.insert($0.id).inserted }
    }

    func finish(_ id: UUID) { ids.remove(id) }
}
