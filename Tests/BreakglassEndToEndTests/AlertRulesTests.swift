import BreakglassTestSupport
import Foundation
import XCTest

/// The example Prometheus alert rules in `runbooks/prometheus/` parse (promtool, which
/// `scripts/ensure-deps.sh --for-tests` installs) and name only metrics that `/metrics` exports.
final class AlertRulesTests: BrokerTestCase {
    var rulesFile: URL { TestDatabase.repositoryRoot.appendingPathComponent("runbooks/prometheus/breakglass-alerts.yml") }

    func testRulesFileParses() async throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/promtool") else {
            return XCTFail("promtool is missing: run scripts/ensure-deps.sh --for-tests (it installs Debian's prometheus package)")
        }
        let result = try await Tools.run("/usr/bin/promtool", ["check", "rules", rulesFile.path])
        XCTAssertEqual(result.status, 0, result.stdout + result.stderr)
        XCTAssertTrue(result.stdout.contains("SUCCESS: 4 rules found"), result.stdout)
    }

    func testEveryMetricARuleUsesIsExported() async throws {
        let rules = try String(contentsOf: rulesFile, encoding: .utf8)
        let expressions = rules.split(separator: "\n").filter { $0.trimmingCharacters(in: .whitespaces).hasPrefix("expr:") }
        XCTAssertEqual(expressions.count, 4)
        let used = Set(expressions.flatMap { line in
            line.split(whereSeparator: { !($0.isLetter || $0.isNumber || $0 == "_") }).map(String.init).filter { $0.hasPrefix("breakglass_") }
        })
        XCTAssertEqual(used, ["breakglass_outbox_oldest_pending_seconds", "breakglass_dead_letters", "breakglass_expiry_lag_seconds",
                              "breakglass_retro_overdue"])
        let scrape = try await http.send(.GET, "/metrics")
        XCTAssertEqual(scrape.status, 200)
        let exported = Set(scrape.text.split(separator: "\n").filter { $0.hasPrefix("# TYPE ") }.map { String($0.split(separator: " ")[2]) })
        XCTAssertTrue(used.isSubset(of: exported), "not exported: \(used.subtracting(exported).sorted())")
    }
}
