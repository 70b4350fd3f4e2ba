import BreakglassCore
import BreakglassNotify
import BreakglassStore
import Foundation

public struct ChannelView: Codable, Sendable {
    public var name: String
    public var kind: ChannelKind
    public var host: String
    public var events: [String]
    public var targets: [String]
    public var enabled: Bool
    public var disabledReason: String?
    public var minIntervalMs: Int
    /// Only in the answer that created it: the webhook signing secret to configure at the receiver.
    public var generatedSecret: String?

    init(_ record: ChannelRecord, generatedSecret: String? = nil) {
        name = record.name
        kind = record.kind
        host = record.host
        events = record.routing.events
        targets = record.routing.targets
        enabled = record.enabled
        disabledReason = record.disabledReason
        minIntervalMs = Int(record.minInterval * 1000)
        self.generatedSecret = generatedSecret
    }
}

public struct ChannelRequest: Sendable {
    public var name: String
    public var kind: ChannelKind
    public var url: String
    public var routingKey: String?
    public var secrets: [String]
    public var routing: ChannelRouting
    public var minInterval: TimeInterval?
}

extension Broker {
    // MARK: administration

    public func saveChannel(_ request: ChannelRequest, actor: AuthUser, totp: String?, origin: RequestOrigin) async throws -> ChannelView {
        _ = try Validation.targetName(request.name)
        var generated: String?
        var secrets = request.secrets
        if request.kind == .webhook && secrets.isEmpty {
            generated = StandardWebhook.generateSecret()
            secrets = [generated!]
        }
        let config = try ChannelConfig(url: request.url, routingKey: request.routingKey, secrets: secrets).validated(kind: request.kind)
        for event in request.routing.events where event.isEmpty || event.contains(" ") {
            throw BreakglassError.invalid("events", "'\(event)' is not an event type or pattern such as session.activated or session.*")
        }
        // Slack accepts about one message per second per webhook.
        let interval = request.minInterval ?? (request.kind == .slack ? 1 : 0)
        guard (0...3600).contains(interval) else { throw BreakglassError.invalid("min_interval", "min interval must be between 0s and 1h") }
        let record = try await adminChange(actor: actor, totp: totp, action: "configure notification channels", origin: origin) { [box] tx, now in
            let previous = try await tx.channels.find(named: request.name)
            let id = previous?.id ?? UUID()
            let sealed = try box.seal(Array(try JSONEncoder().encode(config)), context: ChannelRecord.context(id))
            let record = ChannelRecord(id: id, name: request.name, kind: request.kind, configEnc: sealed, host: config.host,
                                       routing: request.routing, enabled: true, disabledReason: nil, minInterval: interval)
            try await tx.channels.save(record, by: actor.name, now: now)
            var details = ["channel": request.name, "kind": request.kind.rawValue, "host": config.host,
                           "events": request.routing.events.joined(separator: ","), "targets": request.routing.targets.joined(separator: ","),
                           "signing_secrets": String(config.secrets.count)]
            details["min_interval"] = TTL.format(interval)
            if let previous {
                details["previous_kind"] = previous.kind.rawValue
                details["previous_host"] = previous.host
                details["previous_events"] = previous.routing.events.joined(separator: ",")
                details["previous_targets"] = previous.routing.targets.joined(separator: ",")
                details["previous_min_interval"] = TTL.format(previous.minInterval)
                // Same host, new path or key says nothing by itself: say whether the secret parts changed.
                let before = try? JSONDecoder().decode(ChannelConfig.self, from: Data(box.open(previous.configEnc, context: ChannelRecord.context(id))))
                details["endpoint_or_keys_changed"] = String(before != config)
            }
            try await tx.audit.append(AuditEvent(type: .channelSaved, at: now, actor: actor.name, actorRoles: actor.roles, origin: origin,
                                                 details: details))
            return (record, AdminPage(type: "admin.channel_saved", payload: details))
        }
        return ChannelView(record, generatedSecret: generated)
    }

    public func channels(actor: AuthUser) async throws -> [ChannelView] {
        guard actor.seesEverything else { throw BreakglassError.forbidden("only admin and compliance may list notification channels") }
        return try await database.read { try await $0.channels.list() }.map { ChannelView($0) }
    }

    public func enableChannel(name: String, actor: AuthUser, totp: String?, origin: RequestOrigin) async throws {
        try await adminChange(actor: actor, totp: totp, action: "enable notification channels", origin: origin) { tx, now in
            guard try await tx.channels.enable(name: name) else { throw Self.channelUnknown(name) }
            try await tx.audit.append(AuditEvent(type: .channelSaved, at: now, actor: actor.name, actorRoles: actor.roles, origin: origin,
                                                 details: ["channel": name, "enabled": "true"]))
            return ((), AdminPage(type: "admin.channel_enabled", payload: ["channel": name]))
        }
    }

    /// Queues a test page for one channel only, so an admin can prove it before an incident. At most one test
    /// page per channel waits at a time: a loop of tests with a stolen token must not queue thousands of pages
    /// in front of a real one on a rate-limited channel. Audited.
    /// Queues a `notify.test` page. `actor` nil is the host's operator (`breakglassd check --send-test`),
    /// who has shell access to the broker's host.
    public func testChannel(name: String, actor: AuthUser?, origin: RequestOrigin) async throws {
        try actor?.require(.admin, to: "send test pages")
        let now = clock.now()
        _ = try await database.transaction { tx in
            guard let channel = try await tx.channels.find(named: name) else { throw Self.channelUnknown(name) }
            guard try await !tx.outbox.testPagePending(channelId: channel.id) else {
                throw BreakglassError(.conflict, "test_pending", "a test page for \(name) is already waiting to be sent; see `breakglass notify log`")
            }
            try await tx.outbox.enqueue(type: "notify.test", sessionId: nil, payload: [
                "channel": channel.name, "channel_id": channel.id.uuidString.lowercased(), "user": actor?.name ?? Self.hostOperator,
            ], now: now)
            try await tx.audit.append(AuditEvent(type: .channelTested, at: now, actor: actor?.name ?? Self.hostOperator, actorRoles: actor?.roles ?? [], origin: origin,
                                                 details: ["channel": channel.name, "host": channel.host]))
        }
    }

    public func deliveryLog(actor: AuthUser, sessionId: String?, deadOnly: Bool, limit: Int = 500) async throws -> [DeliveryLogEntry] {
        if !actor.seesEverything {
            guard let sessionId, try await session(id: sessionId, actor: actor).requester == actor.name else {
                throw BreakglassError.forbidden("only admin and compliance may read other sessions' delivery logs")
            }
        }
        return try await database.read { try await $0.deliveries.log(sessionId: sessionId, deadOnly: deadOnly, limit: limit) }
    }

    public func redrive(deliveryId: String, actor: AuthUser, totp: String?, origin: RequestOrigin) async throws {
        guard let id = UUID(uuidString: deliveryId) else { throw BreakglassError.invalid("delivery", "'\(deliveryId)' is not a delivery id") }
        try await adminChange(actor: actor, totp: totp, action: "re-drive dead letters", origin: origin) { tx, now in
            guard let channel = try await tx.deliveries.redrive(deliveryId: id, now: now) else {
                throw BreakglassError(.notFound, "dead_letter_unknown", "no dead letter \(deliveryId)")
            }
            try await tx.audit.append(AuditEvent(type: .deliveryRedriven, at: now, actor: actor.name, actorRoles: actor.roles, origin: origin,
                                                 details: ["delivery_id": deliveryId, "channel": channel]))
            return ((), AdminPage(type: "admin.delivery_redriven", payload: ["delivery_id": deliveryId, "channel": channel]))
        }
    }

    static func channelUnknown(_ name: String) -> BreakglassError {
        BreakglassError(.notFound, "channel_unknown", "no notification channel named '\(name)'")
    }

    // MARK: delivery engine

    /// Fans new outbox messages out into per-channel deliveries.
    public func routeOutbox(limit: Int = 200) async throws -> Int {
        let now = clock.now()
        return try await database.transaction { try await $0.deliveries.routeOutbox(now: now, limit: limit) }
    }

    public func claimDeliveries(instance: String, limit: Int) async throws -> [ClaimedDelivery] {
        let now = clock.now()
        let until = now + settings.deliveryClaim
        return try await database.transaction { try await $0.deliveries.claim(now: now, claimUntil: until, instance: instance, limit: limit) }
    }

    /// Sends one claimed delivery and records the attempt and its consequence.
    public func deliver(_ claimed: ClaimedDelivery, sender: ChannelSender, instance: String) async throws {
        let now = clock.now()
        let channel = claimed.channel
        if channel.minInterval > 0 {
            let wait = try await database.transaction { try await $0.channels.takeSendSlot(channelId: channel.id, interval: channel.minInterval, now: now) }
            if let wait {
                // Not this channel's turn yet: queue behind the slot, without counting an attempt.
                _ = try await database.transaction { try await $0.deliveries.update(id: claimed.id, claimedBy: instance, state: .pending, attempted: false, nextAttemptAt: wait,
                                                                             finishedAt: nil, error: nil) }
                return
            }
        }
        let config = try JSONDecoder().decode(ChannelConfig.self, from: Data(box.open(channel.configEnc, context: ChannelRecord.context(channel.id))))
        let result = await sender.send(claimed.message, kind: channel.kind, config: config, now: now)
        let decision = DeliveryPolicy.decide(
            kind: channel.kind, status: result.status, body: result.body, retryAfter: result.retryAfter, errorClass: result.errorClass,
            messageType: claimed.message.type, attempt: claimed.attempts + 1, queuedAt: claimed.message.createdAt, answeredAt: clock.now(),
            maxAge: settings.deliveryMaxAge, usesSnapshot: claimed.usesSnapshot, random: Double.random(in: 0.5...1))
        try await database.transaction { tx in
            try await tx.deliveries.recordAttempt(deliveryId: claimed.id, at: now, latencyMs: result.latencyMs, statusCode: result.status, outcome: decision.outcome,
                                                  errorClass: result.errorClass, detail: decision.detail, instance: instance)
            let owned = try await tx.deliveries.update(id: claimed.id, claimedBy: instance, state: decision.state, attempted: true,
                                                       nextAttemptAt: decision.nextAttemptAt, finishedAt: decision.state == .pending ? nil : now,
                                                       error: decision.detail)
            // Another instance took the delivery over after this claim lapsed; its result stands.
            guard owned, decision.isDeadLetter else { return }
            let reason = decision.detail ?? ""
            if decision.disablesChannel {
                try await tx.channels.disable(id: channel.id, reason: reason)
                try await tx.audit.append(AuditEvent(type: .channelDisabled, outcome: .failure, at: now, actor: nil,
                                                     details: ["channel": channel.name, "host": channel.host, "reason": reason]))
            }
            try await alertDeliveryFailure(tx: tx, claimed: claimed, reason: reason, announce: decision.alertsOtherChannels, now: now)
        }
        if decision.outcome != .delivered {
            logger.warning("page not delivered", metadata: ["delivery.id": "\(claimed.id)", "channel.name": "\(channel.name)",
                                                            "channel.host": "\(channel.host)", "delivery.outcome": "\(decision.outcome.rawValue)",
                                                            "http.status": "\(result.status.map(String.init) ?? "-")"])
        }
    }

    /// A dead letter is audited, and announced on every other channel when the policy says so.
    private func alertDeliveryFailure(tx: Tx, claimed: ClaimedDelivery, reason: String, announce: Bool, now: Date) async throws {
        let channel = claimed.channel
        try await tx.audit.append(AuditEvent(type: .deliveryFailed, outcome: .failure, at: now, actor: nil, sessionId: claimed.message.sessionId,
                                             details: ["channel": channel.name, "host": channel.host, "event": claimed.message.type,
                                                       "delivery_id": claimed.id.uuidString.lowercased(), "reason": reason]))
        guard announce else { return }
        try await tx.outbox.enqueue(type: DeliveryPolicy.failureAlertType, sessionId: claimed.message.sessionId, payload: [
            "channel": channel.name, "channel_id": channel.id.uuidString.lowercased(), "host": channel.host,
            "event": claimed.message.type, "error": reason, "delivery_id": claimed.id.uuidString.lowercased(),
        ], now: now)
    }
}
