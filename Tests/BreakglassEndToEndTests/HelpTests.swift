import BreakglassTestSupport
import Foundation
import XCTest

/// Every subcommand of both executables, found by walking `--help` itself (so a new subcommand is covered
/// the day it is added), prints its help and exits 0.
final class HelpTests: XCTestCase {
    func subcommands(of output: String) -> [String] {
        guard let start = output.range(of: "SUBCOMMANDS:\n") else { return [] }
        return output[start.upperBound...].split(separator: "\n", omittingEmptySubsequences: false)
            .prefix { !$0.trimmingCharacters(in: .whitespaces).hasPrefix("See '") }
            .compactMap { line -> String? in
                guard line.hasPrefix("  "), !line.hasPrefix("   "), let name = line.split(separator: " ").first else { return nil }
                return String(name)
            }
    }

    func walk(_ executable: String, _ path: [String], visited: inout [String]) async throws {
        let result = try await Tools.run(Tools.binDirectory.appendingPathComponent(executable).path, path + ["--help"])
        let command = ([executable] + path).joined(separator: " ")
        XCTAssertEqual(result.status, 0, "\(command) --help: \(result.stderr)")
        XCTAssertTrue(result.stdout.contains("USAGE: \(command)"), "\(command) --help printed: \(result.stdout)\(result.stderr)")
        visited.append(command)
        for sub in subcommands(of: result.stdout) {
            try await walk(executable, path + [sub], visited: &visited)
        }
    }

    func testEveryHelpOfEverySubcommandRuns() async throws {
        var visited: [String] = []
        try await walk("breakglass", [], visited: &visited)
        try await walk("breakglassd", [], visited: &visited)
        // The walk really descended (a parser that found nothing would pass vacuously).
        for expected in ["breakglass notify set-channel", "breakglass compliance accept-candidate", "breakglass tokens revoke",
                         "breakglassd admin create", "breakglassd migrate"] {
            XCTAssertTrue(visited.contains(expected), "\(expected) not reached; visited \(visited)")
        }
        print("HELP walked \(visited.count) commands")
    }
}
