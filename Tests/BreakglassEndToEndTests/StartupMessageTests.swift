import BreakglassTestSupport
import Foundation
import XCTest

/// The real `breakglassd` says which database it uses and why, so a stray PG* variable in a service's
/// environment does not silently switch the broker to another database.
final class StartupMessageTests: XCTestCase {
    func serve(_ env: [String: String]) async throws -> CommandResult {
        try await Tools.run(Tools.binDirectory.appendingPathComponent("breakglassd").path, ["serve", "--port", "0"], environment: env)
    }

    func testAStrayPGPASSWORDSelectsTheExternalDatabaseAndTheMissingKeyErrorSaysSo() async throws {
        let result = try await serve(["PGPASSWORD": "left-over", "BREAKGLASS_DATA_DIR": "/nonexistent/breakglass"])
        XCTAssertNotEqual(result.status, 0)
        XCTAssertTrue(result.stderr.contains("using external database because PGPASSWORD is set"), result.stderr)
        XCTAssertTrue(result.stderr.contains("BREAKGLASS_MASTER_KEY_FILE is required with an external database, which is used because PGPASSWORD is set"),
                      result.stderr)
        XCTAssertFalse(result.stderr.contains("left-over"), "the password is never printed")
    }

    func testDATABASE_URLIsNamedBeforeTheLibpqVariables() async throws {
        let result = try await serve(["DATABASE_URL": "postgres://bg:pw@127.0.0.1:1/bg", "PGHOST": "db.example"])
        XCTAssertNotEqual(result.status, 0)
        XCTAssertTrue(result.stderr.contains("using external database because DATABASE_URL is set"), result.stderr)
        XCTAssertTrue(result.stderr.contains("which is used because DATABASE_URL is set"), result.stderr)
    }
}
