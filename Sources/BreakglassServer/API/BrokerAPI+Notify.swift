import BreakglassAPI
import BreakglassCore
import Foundation
import OpenAPIRuntime

/// Notification channels, the delivery log and API tokens.
extension BrokerAPI {
    func saveChannel(_ input: Operations.SaveChannel.Input) async throws -> Operations.SaveChannel.Output {
        let body = switch input.body { case .json(let value): value }
        let kind = ChannelKind(body.kind)
        let interval: TimeInterval? = try body.minInterval.map { text in
            if text == "0" || text == "0s" { return 0 }
            return try parseDuration(text, field: "min_interval")!
        }
        let channel = try await broker.saveChannel(
            ChannelRequest(name: input.path.name, kind: kind, url: body.url, routingKey: body.routingKey, secrets: body.secrets ?? [],
                           routing: ChannelRouting(events: body.events ?? ["*"], targets: body.targets ?? []), minInterval: interval),
            actor: try actor(), totp: body.totp, origin: origin)
        return .ok(.init(body: .json(.init(channel))))
    }

    func listChannels(_ input: Operations.ListChannels.Input) async throws -> Operations.ListChannels.Output {
        .ok(.init(body: .json(try await broker.channels(actor: try actor()).map { .init($0) })))
    }

    func testChannel(_ input: Operations.TestChannel.Input) async throws -> Operations.TestChannel.Output {
        try await broker.testChannel(name: input.path.name, actor: try actor(), origin: origin)
        return .accepted(.init(body: .json(.init(channel: input.path.name, status: "queued"))))
    }

    func enableChannel(_ input: Operations.EnableChannel.Input) async throws -> Operations.EnableChannel.Output {
        let body = input.body.map { switch $0 { case .json(let value): value } }
        try await broker.enableChannel(name: input.path.name, actor: try actor(), totp: body?.totp, origin: origin)
        return .ok(.init(body: .json(.init(channel: input.path.name, status: "enabled"))))
    }

    func listDeliveries(_ input: Operations.ListDeliveries.Input) async throws -> Operations.ListDeliveries.Output {
        let log = try await broker.deliveryLog(actor: try actor(), sessionId: input.query.session, deadOnly: input.query.dead ?? false)
        return .ok(.init(body: .json(log.map { .init($0) })))
    }

    func retryDelivery(_ input: Operations.RetryDelivery.Input) async throws -> Operations.RetryDelivery.Output {
        let body = input.body.map { switch $0 { case .json(let value): value } }
        try await broker.redrive(deliveryId: input.path.id, actor: try actor(), totp: body?.totp, origin: origin)
        return .accepted(.init(body: .json(.init(deliveryId: input.path.id, status: "queued"))))
    }

    func listAPITokens(_ input: Operations.ListAPITokens.Input) async throws -> Operations.ListAPITokens.Output {
        .ok(.init(body: .json(try await broker.apiTokens(actor: try actor(), user: input.query.user).map { .init($0) })))
    }

    func revokeAPIToken(_ input: Operations.RevokeAPIToken.Input) async throws -> Operations.RevokeAPIToken.Output {
        let body = input.body.map { switch $0 { case .json(let value): value } }
        try await broker.revokeAPIToken(id: input.path.id, actor: try actor(), totp: body?.totp, origin: origin)
        return .ok(.init(body: .json(.init(tokenId: input.path.id, status: "revoked"))))
    }
}
