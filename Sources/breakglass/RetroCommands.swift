import ArgumentParser
import BreakglassAPI
import BreakglassCore
import Foundation

/// An obligation as the retro list and the compliance queue show it.
extension Components.Schemas.RetroView {
    var timing: String {
        switch state {
        case .overdue: return "OVERDUE by \(TTL.format(Double(-secondsLeft)))"
        case .owed: return "due in \(TTL.format(Double(secondsLeft)))"
        default: return "due \(Timestamp.format(dueAt))"
        }
    }

    var line: String {
        (drill ? "[DRILL] " : "") + "\(sessionId)  \(state.rawValue.padding(toLength: 8, withPad: " ", startingAt: 0))  \(target)  \(requester)  \(timing)"
            + (prUrl.map { "  \($0)" } ?? "") + (lastRejection.map { "  (rejected: \($0))" } ?? "")
    }
}

struct Retro: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "The retroactive pull requests you owe after breaking glass.",
        subcommands: [Link.self, ListOwed.self])

    struct Link: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Link the PR documenting what you changed; escalation stops.")
        @OptionGroup var options: GlobalOptions
        @Argument(help: "Session id.") var session: String
        @Argument(help: "PR URL, e.g. https://github.com/acme/payments/pull/123 or a GitLab merge request.") var url: String
        @Option(help: "Admins linking someone else's session: your current TOTP code (an admin change; asked for if needed).") var totp: String?

        func run() async throws {
            try await runReportingErrors(json: options.json) {
                let (entry, raw) = try await APIClient(options: options).callSteppingUp(totp: totp) {
                    try await $0.linkRetroPullRequest(path: .init(id: session), body: .json(.init(url: url, totp: $1))).ok.body.json
                }
                output(json: options.json, raw: raw) {
                    "✔ retro PR for \(entry.sessionId) linked: \(entry.prUrl ?? url)\n  escalation stopped; compliance will review it"
                }
            }
        }
    }

    struct ListOwed: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "list", abstract: "What you owe, open first, with the time left.")
        @OptionGroup var options: GlobalOptions
        @Flag(help: "Everyone's (admin and compliance).") var all = false

        func run() async throws {
            try await runReportingErrors(json: options.json) {
                let (entries, raw) = try await APIClient(options: options).call {
                    try await $0.listRetroObligations(query: .init(all: all ? true : nil)).ok.body.json
                }
                output(json: options.json, raw: raw) { entries.isEmpty ? "no retro PRs owed" : entries.map(\.line).joined(separator: "\n") }
            }
        }
    }
}
