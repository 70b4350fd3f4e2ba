import BreakglassCore
import Foundation
import XCTest

/// A stored state outside its set is a corrupt row, never a default.
final class StoredEnumTests: XCTestCase {
    func testAKnownValueReadsBack() throws {
        XCTAssertEqual(try RetroStatus(stored: "linked", "status"), .linked)
        XCTAssertEqual(try DeliveryState(stored: "dead", "state"), .dead)
        XCTAssertEqual(try SessionState(stored: "failed", "state"), .failed)
        XCTAssertNil(try RetroPRSource(stored: nil as String?, "source"))
    }

    func testAnUnknownValueIsAnInternalErrorNamingTheColumn() {
        for read in [{ _ = try RetroStatus(stored: "pending_review", "the status of bg_X (retro_obligations.status)") },
                     { _ = try SessionState(stored: "paused", "the state of session bg_X (sessions.state)") },
                     { _ = try RetroPRSource(stored: "gitlab" as String?, "the PR source of bg_X (retro_obligations.pr_source)") }] {
            XCTAssertThrowsError(try read()) { error in
                let error = error as? BreakglassError
                XCTAssertEqual(error?.kind, .internalFailure)
                XCTAssertEqual(error?.code, "corrupt_row")
                XCTAssertTrue(error?.message.contains("bg_X") == true, error?.message ?? "")
            }
        }
    }

    /// The wire keeps the strings it had: an enum encodes as its raw value.
    func testStatesEncodeAsTheirStrings() throws {
        let encoded = try JSONEncoder().encode([RetroState.overdue.rawValue: Severity.critical])
        XCTAssertEqual(String(decoding: encoded, as: UTF8.self), #"{"overdue":"critical"}"#)
        XCTAssertThrowsError(try JSONDecoder().decode(Severity.self, from: Data(#""loud""#.utf8)))
    }
}
