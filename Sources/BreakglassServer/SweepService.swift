import BreakglassCore
import Logging
import ServiceLifecycle

/// A background pass over what has fallen due, repeated until nothing is left, then again every
/// `pollInterval`. Passes claim rows with SKIP LOCKED, so every instance may run them at once, and a pass
/// started after downtime catches up on everything missed.
public struct SweepService: Service, CustomStringConvertible {
    public let description: String
    let pollInterval: Duration
    let logger: Logger
    /// What one pass did, for the log ("sessions expired").
    let doneMessage: Logger.Message
    /// Handles a batch of due work; returns how many items it handled (0 when nothing is due).
    let pass: @Sendable () async throws -> Int
    /// Run once on graceful shutdown, so counts kept in memory are not lost with the process.
    var finalPass: (@Sendable () async throws -> Int)?
    /// Where a pass that found nothing due is counted, for loops whose quiet tests assert.
    var idle: (passes: IdlePasses, loop: IdlePasses.Loop)?

    /// Records expiry of sessions at their time, and on start of every session that expired while no broker ran.
    public static func expiry(broker: Broker, pollInterval: Duration = .seconds(1), logger: Logger) -> SweepService {
        SweepService(description: "ExpiryService", pollInterval: pollInterval, logger: logger, doneMessage: "sessions expired",
                     pass: { try await broker.expireDueSessions() }, idle: (broker.idlePasses, .expiry))
    }

    /// Fires retro PR reminders and escalations when due, and on start every rung missed while no broker ran.
    public static func retroEscalation(broker: Broker, pollInterval: Duration = .seconds(5), logger: Logger) -> SweepService {
        SweepService(description: "RetroEscalationService", pollInterval: pollInterval, logger: logger,
                     doneMessage: "retro escalation rungs reached", pass: { try await broker.fireDueEscalations() },
                     idle: (broker.idlePasses, .retroEscalation))
    }

    /// Removes what closed sessions left on their targets (a revocation that failed, a broker that died
    /// before revoking); on start too, so a broker that was down cleans up at once.
    public static func credentialReconcile(broker: Broker, pollInterval: Duration = .seconds(30), logger: Logger) -> SweepService {
        SweepService(description: "CredentialReconcileService", pollInterval: pollInterval, logger: logger,
                     doneMessage: "leftover credentials removed") {
            try await broker.reconcileCredentials()
        }
    }

    /// Audits refused GitHub deliveries as one event per interval.
    public static func hookRejections(broker: Broker, pollInterval: Duration = .seconds(1), logger: Logger) -> SweepService {
        SweepService(description: "HookRejectionAuditService", pollInterval: pollInterval, logger: logger,
                     doneMessage: "refused GitHub deliveries audited", pass: { try await broker.flushHookRejections() },
                     finalPass: { try await broker.flushHookRejections(force: true) })
    }

    public func run() async throws {
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            do {
                var handled = 0
                repeat {
                    handled = try await pass()
                    if handled > 0 { logger.notice(doneMessage, metadata: ["count": "\(handled)"]) }
                } while handled > 0
                if let idle { idle.passes.record(idle.loop) }
            } catch {
                // The database may be briefly away; what was not recorded is still due and the next tick does it.
                logger.warning("\(description) pass failed", metadata: ["error": "\(error)"])
            }
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: pollInterval) }
        }
        if let finalPass {
            do {
                _ = try await finalPass()
            } catch {
                logger.warning("\(description) final pass failed", metadata: ["error": "\(error)"])
            }
        }
    }
}
