import BreakglassCore
import BreakglassTestSupport
import Foundation
import XCTest

/// Enrolment from a script: step one writes the secret to a file, step two confirms it with a first code.
final class ScriptedEnrolmentTests: BrokerTestCase {
    func testEnrolmentInTwoScriptedSteps() async throws {
        let grant = try await server.broker.createUser(name: "carol", roles: [.engineer], actor: nil, origin: .server)
        let secretFile = scratch.appendingPathComponent("carol-secret.json").path

        let first = try await cli(["enroll", grant.enrollmentCode, "--secret-out", secretFile], as: "carol")
        XCTAssertEqual(first.status, 0, first.stderr)
        XCTAssertTrue(first.stdout.contains("breakglass enroll --confirm \(grant.enrollmentCode) --totp"), first.stdout)
        let mode = try FileManager.default.attributesOfItem(atPath: secretFile)[.posixPermissions] as! Int
        XCTAssertEqual(mode & 0o777, 0o600)
        let shown = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: secretFile))) as? [String: Any] ?? [:]
        let secret = try XCTUnwrap(shown["secret"] as? String)
        XCTAssertTrue((shown["otpauth_uri"] as? String)?.hasPrefix("otpauth://totp/") ?? false, "\(shown)")
        XCTAssertFalse(first.stdout.contains(secret), "the secret goes to the file only")

        // The file is never overwritten (a second run, or a planted file, is refused).
        let again = try await cli(["enroll", grant.enrollmentCode, "--secret-out", secretFile], as: "carol")
        XCTAssertEqual(again.status, 64, again.stderr)

        let confirmed = try await cli(["enroll", "--confirm", grant.enrollmentCode, "--totp", try code(secret)], as: "carol")
        XCTAssertEqual(confirmed.status, 0, confirmed.stderr)
        let whoami = try await cli(["whoami"], as: "carol")
        XCTAssertEqual(whoami.stdout, "carol (engineer)\n")

        let both = try await cli(["enroll", "--confirm", grant.enrollmentCode, "--secret-out", secretFile], as: "carol")
        XCTAssertEqual(both.status, 64, "the two steps are exclusive: \(both.stderr)")
    }
}
