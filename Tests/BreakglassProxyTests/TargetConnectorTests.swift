import BreakglassProxy
import Foundation
import XCTest

/// Logs in to the throwaway cluster (`scripts/with-postgres.sh`, whose pg_hba asks scram-sha-256 on
/// loopback) the way the proxy logs in to a `recorded` target.
final class TargetConnectorTests: XCTestCase {
    func endpoint() throws -> (TargetConnector.Endpoint, user: String, password: String) {
        let environment = ProcessInfo.processInfo.environment
        guard let host = environment["PGHOST"], let port = environment["PGPORT"].flatMap(Int.init), let user = environment["PGUSER"],
            let password = environment["PGPASSWORD"]
        else { throw XCTSkip("no PostgreSQL cluster: run under scripts/with-postgres.sh") }
        return (.init(host: host, port: port, database: environment["PGDATABASE"] ?? "postgres"), user, password)
    }

    func testScramLoginGreetsWithParametersAndAKeyThenRunsAQuery() async throws {
        let (target, user, password) = try endpoint()
        let tag = try await TargetConnector().withConnection(to: target, user: user, password: password,
                                                             parameters: [(name: "application_name", value: "breakglass-proxy-test")]) {
            greeting, inbound, outbound in
            XCTAssertNotNil(greeting.backendKey)
            XCTAssertEqual(greeting.messages.last, .readyForQuery(.idle))
            XCTAssertTrue(greeting.messages.contains(.parameterStatus(name: "application_name", value: "breakglass-proxy-test")))
            try await outbound.write(.query("SELECT current_setting('password_encryption')"))
            var tag: String?
            while let message = try await inbound.next() {
                if case .commandComplete(let text) = message { tag = text.string }
                if case .readyForQuery = message { break }
            }
            return tag
        }
        XCTAssertEqual(tag, "SELECT 1")
    }

    func testAWrongPasswordIsTheTargetsRefusal() async throws {
        let (target, user, _) = try endpoint()
        do {
            try await TargetConnector().withConnection(to: target, user: user, password: "not-the-password") { _, _, _ in }
            XCTFail("logged in with a wrong password")
        } catch let failure as TargetConnector.Failure {
            guard case .refused(let sqlState, _) = failure else { return XCTFail("\(failure)") }
            XCTAssertEqual(sqlState, "28P01")
        }
    }
}
