import BreakglassCore
import Foundation
import XCTest

/// What a target gets for every setting an admin leaves out.
final class TargetDefaultsTests: XCTestCase {
    func target(kind: CredentialKind? = nil, postgres: @escaping () throws -> PostgresTarget = { XCTFail("not asked for"); throw CancellationError() })
        throws -> Target {
        try Target.defaulted(name: "payments-api", kind: kind, audience: nil, maxTTL: 3600, maxTotal: nil, retroDeadline: nil, retroFrom: nil,
                             requesters: nil, drillDeadline: nil, postgres: postgres)
    }

    func pg(grantRole: String? = "oncall_rw") throws -> PostgresTarget {
        try .defaulted(host: "10.0.0.5", port: nil, database: "payments", tls: nil, managingRole: "bg_manager", grantRole: grantRole,
                       connectionLimit: nil, statementTimeout: nil, access: nil, redactParameters: nil)
    }

    func testATargetGivenOnlyAMaxTTLIsATokenTargetForEveryEngineer() throws {
        let target = try target().validated()
        XCTAssertEqual(target.kind, .token)
        XCTAssertEqual(target.audience, "payments-api")
        XCTAssertEqual(target.maxTotal, 4 * 3600)
        XCTAssertEqual(target.retroDeadline, 24 * 3600)
        XCTAssertEqual(target.retroFrom, .activation)
        XCTAssertEqual(target.requesters, ["role:engineer"])
        XCTAssertNil(target.drillDeadline, "drills are off until an admin gives a drill deadline")
        XCTAssertNil(target.postgres, "a token target never reads PostgreSQL settings")
    }

    func testWhatTheAdminGivesIsKept() throws {
        let target = try Target.defaulted(name: "ledger", kind: .token, audience: "ledger-api", maxTTL: 1800, maxTotal: 3600, retroDeadline: 7200,
                                          retroFrom: .end, requesters: ["user:alice"], drillDeadline: 120) { try self.pg() }
        XCTAssertEqual([target.maxTotal, target.retroDeadline, target.drillDeadline], [3600, 7200, 120])
        XCTAssertEqual(target.audience, "ledger-api")
        XCTAssertEqual(target.retroFrom, .end)
        XCTAssertEqual(target.requesters, ["user:alice"])
    }

    func testAPostgresTargetIsRecordedByDefaultAndNamesWhatItLacks() throws {
        let settings = try XCTUnwrap(try target(kind: .postgres) { try self.pg() }.postgres)
        XCTAssertEqual(settings.port, 5432)
        XCTAssertEqual(settings.connectionLimit, 5)
        XCTAssertEqual(settings.access, .recorded)
        XCTAssertEqual(settings.tls, .verifyFull, "off loopback, the certificate is checked")
        XCTAssertNil(settings.redactParameters)
        XCTAssertThrowsError(try target(kind: .postgres) { try self.pg(grantRole: nil) }) {
            XCTAssertEqual(($0 as? BreakglassError)?.code, "invalid_grant_role")
        }
    }
}
