import ArgumentParser
import BreakglassAPI
import BreakglassCore
import BreakglassSystem
import Foundation

/// `breakglass drill TARGET …` rehearses breaking glass; `breakglass drill report SESSION` exports what it showed.
struct Drill: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Rehearse the whole break-glass path in minutes, every page marked DRILL (PCI DSS 12.10.2).",
        discussion: """
            `breakglass drill TARGET --reason … --incident …` is `breakglass drill start`: a real TOTP proof, a real \
            credential and real pages, with a retro PR deadline of minutes (the target's drill deadline, default 2m) and \
            the escalation ladder compressed to fit. Drills stay out of the compliance queue (see `compliance queue \
            --drills`) and the retro figures of /metrics.
            """,
        subcommands: [Start.self, Report.self], defaultSubcommand: Start.self)

    struct Start: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Start a drill on a target (a TOTP code, like breaking glass).")

        @OptionGroup var options: GlobalOptions
        @OptionGroup var request: SessionRequestOptions

        func run() async throws {
            try await runReportingErrors(json: options.json) {
                try await request.breakGlass(options: options, drill: true, verb: "active (DRILL)") { grant, saved in
                    """
                    DRILL — every page of this session says so; nothing here is a real activation.
                    \(describeGrant(grant, verb: "active", savedProxyLogin: saved))
                      the escalation ladder runs in minutes: watch your channels, then link and review the retro PR;
                      report: breakglass drill report \(grant.session.id)
                    """
                }
            }
        }
    }

    struct Report: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write a drill's report: each rung due/paged and how late, each channel's deliveries, the review (sealed JSON).")
        @OptionGroup var options: GlobalOptions
        @Argument(help: "Session id of the drill.") var session: String
        @Option(name: .shortAndLong, help: "Output file (default: drill-report-SESSION.json).") var out: String?

        func run() async throws {
            try await runReportingErrors(json: options.json) {
                let (report, data) = try await APIClient(options: options).call { try await $0.exportDrillReport(path: .init(id: session)).ok.body.json }
                // Sealed like an evidence pack: recomputing the seal over the bytes the broker sent must give the
                // hash the broker wrote.
                guard let document = try? JSONDecoder().decode(JSONValue.self, from: data),
                      let hash = document[EvidencePack.hashMember]?.stringValue, EvidencePack.seal(document) == document else {
                    throw CLIError(kind: .unexpected, code: "report_invalid", message: "the broker's drill report does not match its pack_sha256")
                }
                let file = out ?? "drill-report-\(session).json"
                do {
                    try SecretFile.replace(atPath: file, contents: Array(data))
                } catch {
                    throw CLIError(kind: .usage, code: "output", message: "cannot write \(error)")
                }
                let summary = try JSONEncoder().encode(["file": file, "pack_sha256": hash, "passed": String(report.passed)])
                output(json: options.json, raw: summary) { Report.describe(report, file: file, hash: hash) }
            }
        }

        static func describe(_ report: Components.Schemas.DrillReport, file: String, hash: String) -> String {
            var lines = ["\(report.passed ? "✔" : "✘") drill \(report.session.id) on \(report.session.target): written to \(file) (sha256 \(hash))"]
            for rung in report.rungs {
                let paged = rung.pagedAt.map { "paged \(Timestamp.format($0)) (+\(TTL.format(rung.pagedLateBySeconds ?? 0)))" } ?? rung.outcome.rawValue
                let channels = rung.deliveries.map { "\($0.channel) \($0.state)" }.joined(separator: ", ")
                lines.append("  rung \(rung.level) \(rung.eventType) due \(Timestamp.format(rung.dueAt)): \(paged)  [\(channels)]")
            }
            lines.append("  retro PR: \(report.retro.status.rawValue)\(report.retro.prUrl.map { " \($0)" } ?? "")"
                         + (report.retro.reviewedBy.map { ", reviewed by \($0)" } ?? ""))
            lines += report.findings.map { "  finding: \($0)" }
            return lines.joined(separator: "\n")
        }
    }
}
