import ArgumentParser
import BreakglassAPI
import BreakglassCore
import BreakglassSystem
import Foundation

struct Audit: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Verify, export and pin the tamper-evident audit log.",
        subcommands: [Verify.self, Head.self, Export.self])

    /// Verifies locally, with this CLI's own copy of the chain rules: the server's word is not needed.
    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Walk the hash chain and name the first altered, inserted, reordered or removed event.",
            discussion: "Fetches the raw events (or reads --file, an `audit export`) and recomputes every hash locally.")
        @OptionGroup var options: GlobalOptions
        @Option(help: "Verify an exported JSON-lines file offline instead of fetching from the broker.") var file: String?
        @Option(help: "A head saved earlier with `audit head --json`; proves nothing up to it was removed.") var expectHead: String?

        func run() async throws {
            try await runReportingErrors(json: options.json) {
                var expected: [ChainHead] = []
                if let expectHead {
                    guard let data = FileManager.default.contents(atPath: expectHead),
                          let head = try? JSONDecoder().decode(Components.Schemas.AuditHead.self, from: data) else {
                        throw CLIError(kind: .usage, code: "bad_head_file", message: "\(expectHead) is not a head saved by `breakglass audit head --json`")
                    }
                    expected = head.heads.map(ChainHead.init)
                }
                // Rows are fed to the verifier as they are read; a reordered file or page set is read twice.
                let result: AuditVerification
                if let file {
                    result = try AuditChainVerifier.verify(recordedHeads: nil, expectedHeads: expected) { feed in
                        try AuditRowReading.forEachRow(path: file, feed)
                    }
                } else {
                    let client = try APIClient(options: options)
                    // Heads first: every event up to them is committed, so paging afterwards cannot see gaps there.
                    let (head, _) = try await client.call { try await $0.getAuditHead().ok.body.json }
                    let limits = Dictionary(uniqueKeysWithValues: head.heads.map { ($0.shard, $0.seq) })
                    result = try await AuditChainVerifier.verify(recordedHeads: head.heads.map(ChainHead.init), expectedHeads: expected) { feed in
                        try await AuditRowReading.forEachPage(client: client) { lines in
                            for line in lines {
                                let row = try AuditRowReading.decodeRow(line)
                                if row.seq <= limits[row.shard, default: 0] { feed(row) }
                            }
                        }
                    }
                }
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
                encoder.keyEncodingStrategy = .convertToSnakeCase
                output(json: options.json, raw: try encoder.encode(result)) {
                    if result.intact {
                        return "✔ audit chain intact: \(result.eventsChecked) events in \(AuditChain.shardCount) chains; head \(AuditChain.digest(result.heads))"
                    }
                    return (["✘ audit chain BROKEN (\(result.eventsChecked) events checked)"] + result.problems.map {
                        "  event \($0.eventId.map(String.init) ?? "-") (chain \($0.shard), position \($0.seq)): \($0.problem)"
                    }).joined(separator: "\n")
                }
                if !result.intact {
                    throw ExitCode(1)
                }
            }
        }
    }

    struct Head: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print the current chain head; keep it elsewhere to detect later deletion of the newest events.")
        @OptionGroup var options: GlobalOptions

        func run() async throws {
            try await runReportingErrors(json: options.json) {
                let (head, raw) = try await APIClient(options: options).call { try await $0.getAuditHead().ok.body.json }
                output(json: options.json, raw: raw) { "\(head.digest)  (\(head.events) events; save `breakglass audit head --json` to verify against later)" }
            }
        }
    }

    struct Export: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Write audit events as JSON lines (raw chain rows, verifiable offline).")
        @OptionGroup var options: GlobalOptions
        @Option(help: "From this time (ISO 8601, inclusive).") var from: String?
        @Option(help: "Until this time (ISO 8601, exclusive).") var until: String?
        @Option(name: .shortAndLong, help: "Write to this file instead of standard output.") var output: String?

        func validate() throws {
            for (name, value) in [("--from", from), ("--until", until)] {
                if let value, Timestamp.parseExact(value) == nil {
                    throw ValidationError("\(name) '\(value)' is not an ISO 8601 time such as 2026-11-25T14:00:00Z")
                }
            }
        }

        func run() async throws {
            try await runReportingErrors(json: options.json) {
                var lines: [String] = []
                try await AuditRowReading.forEachPage(client: try APIClient(options: options), from: from.flatMap(Timestamp.parseExact),
                                                      until: until.flatMap(Timestamp.parseExact)) { page in
                    lines += page.map(String.init)
                }
                let data = Data(lines.map { $0 + "\n" }.joined().utf8)
                if let output {
                    do {
                    try SecretFile.replace(atPath: output, contents: Array(data))
                } catch {
                    throw CLIError(kind: .usage, code: "output", message: "cannot write \(error)")
                }
                    FileHandle.standardError.write(Data("wrote \(lines.count) events to \(output)\n".utf8))
                } else {
                    FileHandle.standardOutput.write(data)
                }
            }
        }
    }
}

extension ChainHead {
    /// A head as the broker reports it, for this CLI's own copy of the chain rules.
    init(_ head: Components.Schemas.ChainHead) {
        self.init(shard: head.shard, seq: head.seq, hash: head.hash)
    }
}
