import ArgumentParser
import BreakglassCore
import Foundation

/// What `breakglassd check` found: one finding per check, printed one line each (`ok` / `FAIL` and what to
/// do), or as JSON. Findings never carry a secret: database URLs are redacted, channels show their host.
struct CheckReport: Encodable, Sendable {
    struct Finding: Encodable, Sendable {
        var check: String
        var ok: Bool
        var detail: String
    }

    private(set) var findings: [Finding] = []
    var ok: Bool { findings.allSatisfy(\.ok) }

    mutating func pass(_ check: String, _ detail: String) { findings.append(Finding(check: check, ok: true, detail: detail)) }
    mutating func fail(_ check: String, _ detail: String) { findings.append(Finding(check: check, ok: false, detail: detail)) }
    mutating func append(_ other: CheckReport) { findings += other.findings }

    /// Runs one check; a thrown error becomes its FAIL line (the error's message says what to do).
    mutating func run(_ check: String, _ body: () async throws -> String) async {
        do {
            pass(check, try await body())
        } catch {
            fail(check, Self.message(error))
        }
    }

    static func message(_ error: any Error) -> String {
        switch error {
        case let error as BreakglassError: return error.message
        case let error as ValidationError: return error.message
        default: return "\(error)"
        }
    }

    var text: String {
        let width = max(12, findings.map(\.check.count).max() ?? 0)
        let lines = findings.map { ($0.ok ? "ok  " : "FAIL") + "  " + $0.check.padding(toLength: width, withPad: " ", startingAt: 0) + "  " + $0.detail }
        let summary = ok ? "breakglassd check: all \(findings.count) checks passed"
                         : "breakglassd check: \(findings.filter { !$0.ok }.count) of \(findings.count) checks failed"
        return (lines + [summary]).joined(separator: "\n") + "\n"
    }

    var json: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: (try? encoder.encode(self)) ?? Data(), as: UTF8.self) + "\n"
    }

    enum CodingKeys: String, CodingKey { case ok, findings }
    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(ok, forKey: .ok)
        try container.encode(findings, forKey: .findings)
    }
}
