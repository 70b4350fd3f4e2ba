import BreakglassAPI
import BreakglassCore
import BreakglassStore
import Foundation

extension Components.Schemas.Channel {
    init(_ channel: ChannelView) {
        self.init(name: channel.name, kind: .init(channel.kind), host: channel.host, events: channel.events, targets: channel.targets,
                  enabled: channel.enabled, disabledReason: channel.disabledReason, minIntervalMs: channel.minIntervalMs,
                  generatedSecret: channel.generatedSecret)
    }
}

extension Components.Schemas.ChannelKind {
    init(_ kind: ChannelKind) {
        switch kind {
        case .slack: self = .slack
        case .pagerduty: self = .pagerduty
        case .webhook: self = .webhook
        }
    }
}

extension ChannelKind {
    init(_ kind: Components.Schemas.ChannelKind) {
        switch kind {
        case .slack: self = .slack
        case .pagerduty: self = .pagerduty
        case .webhook: self = .webhook
        }
    }
}

extension Components.Schemas.Delivery {
    init(_ entry: DeliveryLogEntry) {
        // `uuidString`, upper case, is how JSONEncoder has always written the id.
        self.init(deliveryId: entry.deliveryId.uuidString, channel: entry.channel, host: entry.host, eventType: entry.eventType,
                  sessionId: entry.sessionId, state: .init(entry.state), attemptedAt: entry.attemptedAt, statusCode: entry.statusCode,
                  latencyMs: entry.latencyMs, outcome: entry.outcome.map { .init($0) }, errorClass: entry.errorClass, detail: entry.detail)
    }
}

extension Components.Schemas.DeliveryState {
    init(_ state: DeliveryState) {
        switch state {
        case .pending: self = .pending
        case .delivered: self = .delivered
        case .dead: self = .dead
        }
    }
}

extension Components.Schemas.DeliveryOutcome {
    init(_ outcome: DeliveryAttemptOutcome) {
        switch outcome {
        case .delivered: self = .delivered
        case .retry: self = .retry
        case .dead: self = .dead
        case .gone: self = .gone
        }
    }
}
