import BreakglassTestSupport
import Foundation
import XCTest

/// `BREAKGLASS_LOG_FORMAT=json` on the real `breakglassd`: every log line is one JSON object with time,
/// level, label, message and dotted metadata keys; a bad value names the key.
final class JSONLogTests: BrokerTestCase {
    func testEveryLogLineIsOneJSONObject() async throws {
        let broker = try await BrokerProcess.start(try processEnvironment(["BREAKGLASS_LOG_FORMAT": "json"]))
        broker.process.signal(SIGTERM)
        let result = try await broker.process.finish()
        XCTAssertEqual(result.status, 0, result.stderr)
        let lines = result.stderr.split(separator: "\n")
        XCTAssertGreaterThanOrEqual(lines.count, 2, result.stderr)
        var records: [[String: Any]] = []
        for line in lines {
            let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            XCTAssertNotNil(object, "not one JSON object: \(line)")
            if let object { records.append(object) }
        }
        for record in records {
            XCTAssertEqual(Set(record.keys), ["time", "level", "label", "message", "metadata"])
            XCTAssertNotNil(ISO8601DateFormatter.withFractionalSeconds.date(from: record["time"] as? String ?? ""), "\(record)")
        }
        let choice = records.first { $0["message"] as? String == "using external database because DATABASE_URL is set" }
        XCTAssertEqual(choice?["level"] as? String, "notice")
        XCTAssertEqual(choice?["label"] as? String, "breakglassd")
        let listening = try XCTUnwrap(records.first { $0["message"] as? String == "breakglassd listening" }, result.stderr)
        XCTAssertEqual((listening["metadata"] as? [String: Any])?["http.url"] as? String, broker.url)
        XCTAssertFalse(result.stderr.contains(TestDatabase.runtimePassword))
    }

    func testAnUnknownFormatNamesTheKey() async throws {
        let result = try await Tools.run(Tools.binDirectory.appendingPathComponent("breakglassd").path, ["check"],
                                         environment: ["BREAKGLASS_LOG_FORMAT": "xml", "BREAKGLASS_DATA_DIR": scratch.path])
        XCTAssertEqual(result.status, 1)
        XCTAssertTrue(result.stdout.contains("FAIL  configuration  BREAKGLASS_LOG_FORMAT 'xml' must be text or json"), result.stdout)
    }
}

extension ISO8601DateFormatter {
    static var withFractionalSeconds: ISO8601DateFormatter {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter
    }
}
