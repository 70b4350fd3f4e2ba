import ArgumentParser
import BreakglassAPI
import BreakglassCore
import Foundation

struct Notify: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Paging channels (Slack, PagerDuty, signed webhooks) and their delivery log.",
        subcommands: [SetChannel.self, Channels.self, Test.self, Enable.self, Log.self, Retry.self])

    static func describe(_ c: Components.Schemas.Channel) -> String {
        "\(c.name)  \(c.kind.rawValue)  \(c.host)  events=\(c.events.joined(separator: ","))\(c.targets.isEmpty ? "" : "  targets=\(c.targets.joined(separator: ","))")"
            + (c.enabled ? "" : "  DISABLED: \(c.disabledReason ?? "")")
    }

    struct SetChannel: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "set-channel", abstract: "Create or change a channel (admin).")
        @OptionGroup var options: GlobalOptions
        @Argument(help: "Channel name.") var name: String
        @Option(help: "slack, pagerduty or webhook.") var kind: Components.Schemas.ChannelKind
        // Not `--url`: that is the broker's URL (GlobalOptions), and the two must never be confused.
        @Option(help: "Slack webhook URL, PagerDuty Events API base URL, or the webhook endpoint.") var endpoint: String
        @Option(help: "PagerDuty integration (routing) key.") var routingKey: String?
        @Option(name: .customLong("secret"), help: "Webhook signing secret (whsec_…); repeat during rotation, current first. Generated if omitted.")
        var secrets: [String] = []
        @Option(name: .customLong("event"), help: "Event type or pattern to send (session.activated, session.*); repeatable. Default: all.")
        var events: [String] = []
        @Option(name: .customLong("target"), help: "Only events about this target; repeatable. Default: all targets.") var targets: [String] = []
        @Option(help: "Least time between two sends to this channel (Slack default 1s).") var minInterval: String?
        @OptionGroup var stepUp: StepUpOptions

        func run() async throws {
            try await runReportingErrors(json: options.json) {
                let client = try APIClient(options: options)
                // No --event means every event: the field is left out rather than sent empty.
                let body = Components.Schemas.SaveChannelRequest(kind: kind, url: endpoint, routingKey: routingKey, secrets: secrets,
                                                                 events: events.isEmpty ? nil : events, targets: targets,
                                                                 minInterval: minInterval, totp: try stepUp.code())
                let (channel, raw) = try await client.call { try await $0.saveChannel(path: .init(name: name), body: .json(body)).ok.body.json }
                output(json: options.json, raw: raw) {
                    "✔ " + Notify.describe(channel)
                        + (channel.generatedSecret.map { "\n  signing secret (shown once; configure it at the receiver): \($0)" } ?? "")
                }
            }
        }
    }

    struct Channels: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List channels (hosts only; URLs and keys are never shown).")
        @OptionGroup var options: GlobalOptions

        func run() async throws {
            try await runReportingErrors(json: options.json) {
                let (channels, raw) = try await APIClient(options: options).call { try await $0.listChannels().ok.body.json }
                output(json: options.json, raw: raw) { channels.isEmpty ? "no channels" : channels.map(Notify.describe).joined(separator: "\n") }
            }
        }
    }

    struct Test: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Send a test page to one channel.")
        @OptionGroup var options: GlobalOptions
        @Argument(help: "Channel name.") var channel: String

        func run() async throws {
            try await runAction(options, done: "✔ test page queued for \(channel); see `breakglass notify log`") {
                try await $0.testChannel(path: .init(name: channel)).accepted
            }
        }
    }

    struct Enable: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Re-enable a channel disabled by a 410 Gone.")
        @OptionGroup var options: GlobalOptions
        @Argument(help: "Channel name.") var channel: String
        @OptionGroup var stepUp: StepUpOptions

        func run() async throws {
            try await runAction(options, done: "✔ \(channel) enabled") {
                try await $0.enableChannel(path: .init(name: channel), body: .json(.init(totp: try stepUp.code()))).ok
            }
        }
    }

    struct Log: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delivery attempts, newest events first (optionally one session, or dead letters).")
        @OptionGroup var options: GlobalOptions
        @Argument(help: "Session id.") var session: String?
        @Flag(help: "Only dead letters.") var dead = false

        func run() async throws {
            try await runReportingErrors(json: options.json) {
                let (entries, raw) = try await APIClient(options: options).call {
                    try await $0.listDeliveries(query: .init(session: session, dead: dead)).ok.body.json
                }
                output(json: options.json, raw: raw) {
                    guard !entries.isEmpty else { return "no deliveries" }
                    return entries.map { e in
                        let attempt = e.attemptedAt.map {
                            "\(Timestamp.format($0))  \(e.outcome?.rawValue ?? "-")  \(e.statusCode.map(String.init) ?? e.errorClass ?? "-")  \(e.latencyMs ?? 0)ms"
                        } ?? "not attempted yet"
                        return "\(e.deliveryId)  \(e.state.rawValue)  \(e.eventType)  \(e.channel) (\(e.host))  \(attempt)\(e.detail.map { "  \($0)" } ?? "")"
                    }.joined(separator: "\n")
                }
            }
        }
    }

    struct Retry: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Re-drive a dead letter now (admin).")
        @OptionGroup var options: GlobalOptions
        @Argument(help: "Delivery id from `notify log --dead`.") var delivery: String
        @OptionGroup var stepUp: StepUpOptions

        func run() async throws {
            try await runAction(options, done: "✔ \(delivery) queued again") {
                try await $0.retryDelivery(path: .init(id: delivery), body: .json(.init(totp: try stepUp.code()))).accepted
            }
        }
    }
}
