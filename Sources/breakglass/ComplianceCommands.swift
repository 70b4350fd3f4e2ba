import ArgumentParser
import BreakglassCore
import BreakglassSystem
import Foundation

struct Compliance: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Review retro PRs, sign them off (never your own) and export evidence (compliance role).",
        subcommands: [Queue.self, Show.self, Decide<Approve>.self, Decide<Reject>.self, Decide<Waive>.self, AcceptCandidate.self, Evidence.self, VerifyEvidence.self,
                      Web.self])

    struct Queue: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Overdue retro PRs first, then linked PRs awaiting review.")
        @OptionGroup var options: GlobalOptions
        @Flag(help: "Print the queue as CSV.") var csv = false
        @Flag(help: "The drills' queue instead (drills are never in the real one).") var drills = false

        func run() async throws {
            try await runReportingErrors(json: options.json) {
                let client = try APIClient(options: options)
                if csv {
                    FileHandle.standardOutput.write(try await client.send(.GET, "/v1/compliance/queue?format=csv\(drills ? "&drills=true" : "")"))
                    return
                }
                let (entries, raw) = try await client.call(.GET, "/v1/compliance/queue\(drills ? "?drills=true" : "")", as: [RetroEntry].self)
                output(json: options.json, raw: raw) {
                    guard !entries.isEmpty else { return drills ? "no drill overdue or awaiting review" : "nothing overdue and nothing awaiting review" }
                    return entries.map { entry in
                        entry.status == "linked"
                            ? "\(entry.line)  awaiting review since \(entry.linkedAt.map(Timestamp.format) ?? "-")"
                                + (entry.independentApproval == false ? "  [no independent PR approval]" : "")
                            : entry.line + "  (\(entry.rungsFired) escalation rungs reached)"
                    }.joined(separator: "\n")
                }
            }
        }
    }

    struct StoryView: Decodable {
        struct MFA: Decodable { var method: String; var outcome: String; var deniedAttempts: Int; var extensionsProven: Int }
        struct Credential: Decodable { var kind: String; var keyId: String?; var tokenId: String?; var audience: String? }
        struct Obligation: Decodable {
            var prUrl: String?; var prSource: String?; var linkedBy: String?; var mergedAt: Date?; var mergeCommit: String?
            var mergedBy: String?; var prApprovers: [String]; var independentApproval: Bool?
        }
        struct Escalation: Decodable { var rung: String; var scheduledAt: Date; var firedAt: Date; var outcome: String }
        struct Review: Decodable { var decision: String; var reviewer: String; var note: String; var decidedAt: Date }
        struct Page: Decodable { var channel: String; var eventType: String; var state: String; var statusCode: Int? }
        struct Candidate: Decodable { var prUrl: String; var prAuthor: String; var reason: String; var acceptedAt: Date? }
        struct Event: Decodable {
            struct Body: Decodable { var type: String; var at: Date; var actor: String?; var outcome: String }
            var seq: Int64; var event: Body
        }
        var session: EmergencySession
        var clientAddress: String?
        var mfa: MFA
        var credential: Credential
        var retro: RetroEntry
        var obligation: Obligation
        var escalations: [Escalation]
        var reviews: [Review]
        var pages: [Page]
        var events: [Event]
        var candidates: [Candidate]
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "The whole story of one session, from request to retro review.")
        @OptionGroup var options: GlobalOptions
        @Argument(help: "Session id.") var session: String

        func run() async throws {
            try await runReportingErrors(json: options.json) {
                let (story, raw) = try await APIClient(options: options).call(.GET, "/v1/compliance/sessions/\(APIClient.path(session))",
                                                                              as: StoryView.self)
                output(json: options.json, raw: raw) { Show.describe(story) }
            }
        }

        static func describe(_ story: StoryView) -> String {
            let s = story.session, o = story.obligation
            var lines = [
                "\(s.drill ? "[DRILL] " : "")\(s.id)  \(s.state.rawValue)  \(s.target)  by \(s.requester) from \(story.clientAddress ?? "-")",
                "  reason:     \(s.reason)", "  incident:   \(s.incident)",
                "  MFA:        \(story.mfa.method) \(story.mfa.outcome); \(story.mfa.deniedAttempts) denied attempts; \(story.mfa.extensionsProven) extensions",
                "  credential: \(story.credential.kind) key \(story.credential.keyId ?? "-") aud \(story.credential.audience ?? "-") jti \(story.credential.tokenId ?? "-")",
                "  active:     \(Timestamp.format(s.activatedAt)) → \(Timestamp.format(s.closedAt ?? s.expiresAt))",
                "  retro PR:   \(story.retro.state), \(story.retro.timing)",
            ]
            if let url = o.prUrl { lines.append("  PR:         \(url) (\(o.prSource ?? "-"), linked by \(o.linkedBy ?? "-"))") }
            if let merged = o.mergedAt {
                lines.append("  merged:     \(Timestamp.format(merged)) by \(o.mergedBy ?? "?") commit \(o.mergeCommit ?? "?")")
            }
            if !o.prApprovers.isEmpty || o.independentApproval != nil {
                lines.append("  approvals:  \(o.prApprovers.isEmpty ? "none" : o.prApprovers.joined(separator: ", "))"
                             + (o.independentApproval == false ? "  — NOT independent of the engineer who broke glass" : ""))
            }
            for c in story.candidates {
                lines.append("  candidate:  \(c.prUrl) by \(c.prAuthor): \(c.reason)"
                             + (c.acceptedAt.map { " (accepted \(Timestamp.format($0)))" } ?? "; accept with: breakglass compliance accept-candidate \(s.id) \(c.prUrl)"))
            }
            if let rejection = story.retro.lastRejection { lines.append("  last rejection: \(rejection)") }
            for e in story.escalations {
                lines.append("  escalation: \(e.rung) scheduled \(Timestamp.format(e.scheduledAt)), \(e.outcome) \(Timestamp.format(e.firedAt))")
            }
            for r in story.reviews { lines.append("  review:     \(r.decision) by \(r.reviewer) at \(Timestamp.format(r.decidedAt)): \(r.note)") }
            for p in story.pages { lines.append("  page:       \(p.eventType) → \(p.channel) \(p.state)\(p.statusCode.map { " (\($0))" } ?? "")") }
            for e in story.events {
                lines.append("  audit #\(e.seq): \(Timestamp.format(e.event.at)) \(e.event.type) by \(e.event.actor ?? "server") (\(e.event.outcome))")
            }
            return lines.joined(separator: "\n")
        }
    }

    struct AcceptCandidate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "accept-candidate",
            abstract: "Accept a PR that named the session but could not link itself (another author, a fork, a repository not allowed).")
        @OptionGroup var options: GlobalOptions
        @Argument(help: "Session id.") var session: String
        @Argument(help: "The candidate PR's URL, as `compliance show` lists it.") var url: String

        func run() async throws {
            try await runReportingErrors(json: options.json) {
                let (entry, raw) = try await APIClient(options: options).call(
                    .POST, "/v1/compliance/sessions/\(APIClient.path(session))/accept-candidate", body: ["url": url], as: RetroEntry.self)
                output(json: options.json, raw: raw) { "✔ \(entry.sessionId): \(entry.prUrl ?? url) accepted as the retro PR; escalation stopped" }
            }
        }
    }

    protocol DecisionKind {
        static var name: String { get }
        static var verb: String { get }
        static var noteField: String { get }
    }
    enum Approve: DecisionKind { static let name = "approve"; static let verb = "approved"; static let noteField = "note" }
    enum Reject: DecisionKind { static let name = "reject"; static let verb = "rejected (owed again)"; static let noteField = "note" }
    enum Waive: DecisionKind { static let name = "waive"; static let verb = "waived"; static let noteField = "reason" }

    struct Decide<Kind: DecisionKind>: AsyncParsableCommand {
        static var configuration: CommandConfiguration {
            CommandConfiguration(commandName: Kind.name, abstract: "\(Kind.name.capitalized) a retro PR, with a \(Kind.noteField) for the record.")
        }
        @OptionGroup var options: GlobalOptions
        @Argument(help: "Session id.") var session: String
        @Option(help: "What you checked and decided (approve, reject).") var note: String?
        @Option(help: "Why no PR is needed (waive).") var reason: String?

        func validate() throws {
            if (Kind.noteField == "note" ? note : reason) == nil {
                throw ValidationError("--\(Kind.noteField) TEXT is required: say what you checked and why")
            }
        }

        func run() async throws {
            try await runReportingErrors(json: options.json) {
                let text = (Kind.noteField == "note" ? note : reason) ?? ""
                let (entry, raw) = try await APIClient(options: options).call(
                    .POST, "/v1/compliance/sessions/\(APIClient.path(session))/\(Kind.name)", body: [Kind.noteField: text], as: RetroEntry.self)
                output(json: options.json, raw: raw) { "✔ retro PR of \(entry.sessionId) \(Kind.verb)" }
            }
        }
    }

    struct Evidence: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Write one session's evidence pack (JSON, self-hashed, with its chain proof).")
        @OptionGroup var options: GlobalOptions
        @Argument(help: "Session id.") var session: String
        @Option(name: .shortAndLong, help: "Output file (default: evidence-SESSION.json).") var out: String?

        func run() async throws {
            try await runReportingErrors(json: options.json) {
                let data = try await APIClient(options: options).send(.GET, "/v1/compliance/sessions/\(APIClient.path(session))/evidence")
                let path = out ?? "evidence-\(session).json"
                do {
                    try SecretFile.replace(atPath: path, contents: Array(data))
                } catch {
                    throw CLIError(kind: .usage, code: "output", message: "cannot write \(error)")
                }
                let check = EvidencePack.verify(data)
                guard check.intact else {
                    throw CLIError(kind: .unexpected, code: "evidence_invalid",
                                   message: "the broker's evidence pack does not verify: \(check.problems.joined(separator: "; "))")
                }
                let summary = try JSONEncoder().encode(["file": path, "pack_sha256": check.packSha256, "events_proven": String(check.eventsProven)])
                output(json: options.json, raw: summary) {
                    "✔ evidence for \(session) written to \(path)\n  pack sha256 \(check.packSha256); \(check.eventsProven) audit events proven; controls: \(check.controls.joined(separator: ", "))"
                }
            }
        }
    }

    struct VerifyEvidence: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "verify-evidence", abstract: "Check an evidence pack offline: its own hash and its audit chain proof.")
        @OptionGroup var options: GlobalOptions
        @Argument(help: "Evidence pack file.") var file: String

        func run() async throws {
            try await runReportingErrors(json: options.json) {
                guard let data = FileManager.default.contents(atPath: file) else {
                    throw CLIError(kind: .usage, code: "no_file", message: "cannot read \(file)")
                }
                let check = EvidencePack.verify(data)
                let encoder = JSONEncoder()
                encoder.keyEncodingStrategy = .convertToSnakeCase
                encoder.outputFormatting = [.sortedKeys]
                output(json: options.json, raw: try encoder.encode(check)) {
                    check.intact
                        ? "✔ evidence pack intact: sha256 \(check.packSha256); \(check.eventsProven) audit events of \(check.sessionId ?? "?") proven up to their chain head"
                        : "✘ evidence pack NOT intact:\n" + check.problems.map { "  - \($0)" }.joined(separator: "\n")
                }
                if !check.intact { throw ExitCode(1) }
            }
        }
    }

    struct Web: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print a one-time link (valid 2 minutes) that signs your browser in to the compliance pages.")
        @OptionGroup var options: GlobalOptions

        func run() async throws {
            try await runReportingErrors(json: options.json) {
                let client = try APIClient(options: options)
                let (ticket, raw) = try await client.call(.POST, "/v1/compliance/web-ticket", as: [String: String].self)
                output(json: options.json, raw: raw) { client.baseURL + (ticket["path"] ?? "/compliance") }
            }
        }
    }
}
