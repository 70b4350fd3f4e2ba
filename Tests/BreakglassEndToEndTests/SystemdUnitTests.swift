import BreakglassTestSupport
import Foundation
import XCTest

/// The shipped systemd unit: systemd itself accepts every line (`systemd-analyze verify`, warnings
/// included), it keeps the hardening the README promises, and its state directory is the data directory
/// the embedded cluster uses.
final class SystemdUnitTests: XCTestCase {
    var unitFile: URL { TestDatabase.repositoryRoot.appendingPathComponent("scripts/systemd/breakglassd.service") }

    /// `Key=value` lines, comments skipped; a key given twice keeps every value.
    func settings() throws -> [String: [String]] {
        var out: [String: [String]] = [:]
        for line in try String(contentsOf: unitFile, encoding: .utf8).split(separator: "\n") where !line.hasPrefix("#") && !line.hasPrefix("[") {
            guard let equals = line.firstIndex(of: "=") else { continue }
            out[String(line[..<equals]), default: []].append(String(line[line.index(after: equals)...]))
        }
        return out
    }

    func testSystemdAcceptsTheUnit() async throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/systemd-analyze") else {
            return XCTFail("systemd-analyze is missing (Debian's systemd package)")
        }
        // verify checks that ExecStart exists: point it at the binary just built.
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("bg-unit-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let copy = directory.appendingPathComponent("breakglassd.service")
        let text = try String(contentsOf: unitFile, encoding: .utf8)
            .replacingOccurrences(of: "/usr/local/bin/breakglassd", with: Tools.binDirectory.appendingPathComponent("breakglassd").path)
        try text.write(to: copy, atomically: true, encoding: .utf8)
        let result = try await Tools.run("/usr/bin/systemd-analyze", ["verify", copy.path])
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertEqual(result.stdout + result.stderr, "", "systemd warns about nothing (an unknown key is only a warning)")
    }

    func testTheUnitIsHardenedAndAgreesWithTheEmbeddedCluster() throws {
        let unit = try settings()
        let required = ["User": "breakglass", "ProtectSystem": "strict", "NoNewPrivileges": "yes", "PrivateTmp": "yes", "ProtectHome": "yes",
                        "CapabilityBoundingSet": "", "SystemCallFilter": "@system-service", "LockPersonality": "yes", "KillMode": "mixed",
                        "RestrictAddressFamilies": "AF_INET AF_INET6 AF_UNIX", "StateDirectoryMode": "0700"]
        for (key, value) in required {
            XCTAssertEqual(unit[key], [value], key)
        }
        XCTAssertNil(unit["DynamicUser"], "a static user: the operator runs `breakglassd admin` as that same account")
        // The embedded cluster lives in the state directory systemd creates for the dynamic user.
        let state = try XCTUnwrap(unit["StateDirectory"]?.first)
        XCTAssertTrue(unit["Environment"]?.contains("BREAKGLASS_DATA_DIR=/var/lib/\(state)") == true, "\(unit["Environment"] ?? [])")
        XCTAssertNil(unit["MemoryDenyWriteExecute"], "PostgreSQL's JIT needs executable memory")
    }
}
