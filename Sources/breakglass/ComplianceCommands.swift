import ArgumentParser
import BreakglassAPI
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
                let onlyDrills: Bool? = drills ? true : nil
                if csv {
                    let (_, raw) = try await client.call { try await $0.getComplianceQueue(query: .init(drills: onlyDrills, format: .csv)).ok.body.csv }
                    FileHandle.standardOutput.write(raw)
                    return
                }
                let (entries, raw) = try await client.call { try await $0.getComplianceQueue(query: .init(drills: onlyDrills)).ok.body.json }
                output(json: options.json, raw: raw) {
                    guard !entries.isEmpty else { return drills ? "no drill overdue or awaiting review" : "nothing overdue and nothing awaiting review" }
                    return entries.map { entry in
                        entry.status == .linked
                            ? "\(entry.line)  awaiting review since \(entry.linkedAt.map(Timestamp.format) ?? "-")"
                                + (entry.independentApproval == false ? "  [no independent PR approval]" : "")
                            : entry.line + "  (\(entry.rungsFired) escalation rungs reached)"
                    }.joined(separator: "\n")
                }
            }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "The whole story of one session, from request to retro review.")
        @OptionGroup var options: GlobalOptions
        @Argument(help: "Session id.") var session: String

        func run() async throws {
            try await runReportingErrors(json: options.json) {
                let (story, raw) = try await APIClient(options: options).call { try await $0.getSessionStory(path: .init(id: session)).ok.body.json }
                output(json: options.json, raw: raw) { Show.describe(story) }
            }
        }

        static func describe(_ story: Components.Schemas.SessionStory) -> String {
            let s = story.session, o = story.obligation
            var lines = [
                "\(s.drill ? "[DRILL] " : "")\(s.id)  \(s.state.rawValue)  \(s.target)  by \(s.requester) from \(story.clientAddress ?? "-")",
                "  reason:     \(s.reason)", "  incident:   \(s.incident)",
                "  MFA:        \(story.mfa.method) \(story.mfa.outcome); \(story.mfa.deniedAttempts) denied attempts; \(story.mfa.extensionsProven) extensions",
                "  credential: \(story.credential.kind.rawValue) key \(story.credential.keyId ?? "-") aud \(story.credential.audience ?? "-") jti \(story.credential.tokenId ?? "-")",
                "  active:     \(Timestamp.format(s.activatedAt)) → \(Timestamp.format(s.closedAt ?? s.expiresAt))",
                "  retro PR:   \(story.retro.state.rawValue), \(story.retro.timing)",
            ]
            if let url = o.prUrl { lines.append("  PR:         \(url) (\(o.prSource?.rawValue ?? "-"), linked by \(o.linkedBy ?? "-"))") }
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
                lines.append("  escalation: \(e.rung) scheduled \(Timestamp.format(e.scheduledAt)), \(e.outcome.rawValue) \(Timestamp.format(e.firedAt))")
            }
            for r in story.reviews { lines.append("  review:     \(r.decision.rawValue) by \(r.reviewer) at \(Timestamp.format(r.decidedAt)): \(r.note)") }
            for p in story.pages { lines.append("  page:       \(p.eventType) → \(p.channel) \(p.state.rawValue)\(p.statusCode.map { " (\($0))" } ?? "")") }
            for e in story.events {
                lines.append("  audit #\(e.seq): \(Timestamp.format(e.event.at)) \(e.event._type) by \(e.event.actor ?? "server") (\(e.event.outcome.rawValue))")
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
                let (entry, raw) = try await APIClient(options: options).call {
                    try await $0.acceptRetroCandidate(path: .init(id: session), body: .json(.init(url: url))).ok.body.json
                }
                output(json: options.json, raw: raw) { "✔ \(entry.sessionId): \(entry.prUrl ?? url) accepted as the retro PR; escalation stopped" }
            }
        }
    }

    protocol DecisionKind {
        static var name: String { get }
        static var verb: String { get }
        static var noteField: String { get }
        /// The decision's own operation of the API.
        static func decide(_ api: Client, session: String, _ review: Components.Schemas.ReviewRequest) async throws -> Components.Schemas.RetroView
    }
    enum Approve: DecisionKind {
        static let name = "approve", verb = "approved", noteField = "note"
        static func decide(_ api: Client, session: String, _ review: Components.Schemas.ReviewRequest) async throws -> Components.Schemas.RetroView {
            try await api.approveRetro(path: .init(id: session), body: .json(review)).ok.body.json
        }
    }
    enum Reject: DecisionKind {
        static let name = "reject", verb = "rejected (owed again)", noteField = "note"
        static func decide(_ api: Client, session: String, _ review: Components.Schemas.ReviewRequest) async throws -> Components.Schemas.RetroView {
            try await api.rejectRetro(path: .init(id: session), body: .json(review)).ok.body.json
        }
    }
    enum Waive: DecisionKind {
        static let name = "waive", verb = "waived", noteField = "reason"
        static func decide(_ api: Client, session: String, _ review: Components.Schemas.ReviewRequest) async throws -> Components.Schemas.RetroView {
            try await api.waiveRetro(path: .init(id: session), body: .json(review)).ok.body.json
        }
    }

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
                let review = Kind.noteField == "note" ? Components.Schemas.ReviewRequest(note: text) : Components.Schemas.ReviewRequest(reason: text)
                let (entry, raw) = try await APIClient(options: options).call { try await Kind.decide($0, session: session, review) }
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
                // The pack is written and checked as the broker sent it: its hash covers those bytes' content.
                let (_, data) = try await APIClient(options: options).call {
                    try await $0.exportEvidencePack(path: .init(id: session)).ok.body.json
                }
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
                let (ticket, raw) = try await client.call { try await $0.issueWebTicket().created.body.json }
                output(json: options.json, raw: raw) { client.baseURL + ticket.path }
            }
        }
    }
}
