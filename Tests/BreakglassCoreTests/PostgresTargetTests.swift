@testable import BreakglassCore
import XCTest

final class PostgresTargetTests: XCTestCase {
    func settings(host: String = "db.internal", access: PostgresAccessMode = .direct) -> PostgresTarget {
        PostgresTarget(host: host, database: "payments", managingRole: "breakglass_manager", grantRole: "payments_oncall_rw", access: access)
    }

    func testTheRoleIsTheLowercasedSessionId() {
        XCTAssertEqual(PostgresTarget.roleName(sessionId: "bg_7Q2KABCDEFGHIJKLMNOP"), "bg_7q2kabcdefghijklmnop")
        XCTAssertTrue(PostgresTarget.isSessionRole("bg_7q2kabcdefghijklmnop"))
        XCTAssertFalse(PostgresTarget.isSessionRole("payments_oncall_rw"))
        XCTAssertFalse(PostgresTarget.isSessionRole("bg_Upper"))
    }

    func testTheCommentNamesTheSession() {
        let comment = PostgresTarget.roleComment(sessionId: "bg_7Q2K")
        XCTAssertEqual(PostgresTarget.sessionId(fromComment: comment), "bg_7Q2K")
        XCTAssertNil(PostgresTarget.sessionId(fromComment: "someone else's role"))
        XCTAssertNil(PostgresTarget.sessionId(fromComment: "breakglass session "))
    }

    func testTLSIsVerifiedOffLoopbackByDefault() {
        XCTAssertEqual(settings().tls, .verifyFull)
        XCTAssertEqual(settings(host: "127.0.0.1").tls, .disable)
        XCTAssertEqual(settings(host: "127.evil.example").tls, .verifyFull)
    }

    func testVerifyFullNeedsAHostNameToCheckTheCertificateAgainst() {
        XCTAssertThrowsError(try settings(host: "10.1.2.3").validated()) { XCTAssertEqual(($0 as? BreakglassError)?.code, "invalid_pg_tls") }
        XCTAssertThrowsError(try settings(host: "fd00::5").validated()) { XCTAssertEqual(($0 as? BreakglassError)?.code, "invalid_pg_tls") }
        var require = settings(host: "10.1.2.3")
        require.tls = .require
        XCTAssertNoThrow(try require.validated())
        XCTAssertNoThrow(try settings(host: "db1.internal").validated())
    }

    func testBothAccessModesValidate() {
        XCTAssertNoThrow(try settings(access: .recorded).validated())
        XCTAssertNoThrow(try settings(access: .direct).validated())
    }

    func testARecordedSessionsRolePasswordIsSealedToItsSession() {
        XCTAssertNotEqual(PostgresTarget.rolePasswordContext(sessionId: "bg_A"), PostgresTarget.rolePasswordContext(sessionId: "bg_B"))
        XCTAssertNotEqual(PostgresTarget.rolePasswordContext(sessionId: "bg_A"), PostgresTarget.passwordContext("bg_A"))
    }

    func testBadSettingsNameTheirField() {
        var bad = settings()
        bad.connectionLimit = 0
        XCTAssertThrowsError(try bad.validated()) { XCTAssertEqual(($0 as? BreakglassError)?.code, "invalid_connection_limit") }
        bad = settings()
        bad.grantRole = "bg_someonessession"
        XCTAssertThrowsError(try bad.validated()) { XCTAssertEqual(($0 as? BreakglassError)?.code, "invalid_grant_role") }
        bad = settings()
        bad.statementTimeout = 0
        XCTAssertThrowsError(try bad.validated()) { XCTAssertEqual(($0 as? BreakglassError)?.code, "invalid_statement_timeout") }
    }

    func testAPostgresTargetNeedsItsSettingsAndATokenTargetRefusesThem() {
        var target = Target(name: "payments-db", kind: .postgres, audience: "payments-db", maxTTL: 3600, maxTotal: 7200, retroDeadline: 86400,
                            requesters: ["role:engineer"])
        XCTAssertThrowsError(try target.validated())
        target.postgres = settings()
        XCTAssertNoThrow(try target.validated())
        target.kind = .token
        XCTAssertThrowsError(try target.validated())
    }
}
