import BreakglassCore
import BreakglassCredentials
import BreakglassStore
import BreakglassTestSupport
import Foundation
import JWTKit
import XCTest

/// The README's path for a new user, end to end through the real executables: bootstrap an admin on the
/// server host, enrol with codes from oathtool, configure a target, break glass, verify the JWT offline
/// against the JWKS, list, extend, end, verify the audit chain, then tamper with it as a superuser.
final class BreakGlassJourneyTests: BrokerTestCase {
    func testNewUserBreaksGlassAndTheAuditChainNamesATamperedRow() async throws {
        // 1. Bootstrap on the server host: `breakglassd admin create` against the same database and master key.
        let keyFile = try server.writeMasterKeyFile(in: scratch)
        let admin = try await Tools.run(Tools.binDirectory.appendingPathComponent("breakglassd").path,
                                        ["admin", "create", "alice", "--role", "admin", "--role", "engineer"],
                                        environment: ["DATABASE_URL": database.runtime.urlWithPassword, "BREAKGLASS_MIGRATION_DATABASE_URL": database.owner.urlWithPassword,
                                                      "BREAKGLASS_MASTER_KEY_FILE": keyFile, "BREAKGLASS_LOG_LEVEL": "error"])
        XCTAssertEqual(admin.status, 0, admin.stderr)
        let enrolmentCode = try XCTUnwrap(admin.stdout.split(separator: "\n").first { $0.contains("enrolment code") }?
            .split(separator: " ").last.map(String.init))

        // 2. Enrol: the CLI shows the otpauth URI and secret, oathtool computes the first code from it.
        var secret = ""
        let enrol = try await Tools.interactive(
            Tools.binDirectory.appendingPathComponent("breakglass").path, ["enroll", enrolmentCode],
            environment: ["BREAKGLASS_URL": server.baseURL, "BREAKGLASS_CREDENTIALS": credentialsPath("alice")], marker: "secret:"
        ) { shown in
            XCTAssertTrue(shown.contains("otpauth://totp/breakglass:alice?secret="), shown)
            XCTAssertTrue(shown.contains("&issuer=breakglass&algorithm=SHA1&digits=6&period=30"), shown)
            // qrencode (installed for the tests) draws the URI as a QR code in the terminal.
            XCTAssertTrue(shown.contains("█") || shown.contains("▀") || shown.contains("▄"), "QR code in \(shown)")
            secret = String(shown.split(separator: "\n").first { $0.contains("secret:") }!.split(separator: " ").last!)
            return try await code(secret)
        }
        XCTAssertEqual(enrol.status, 0, enrol.stderr)
        XCTAssertTrue(enrol.stdout.contains("enrolled alice"), enrol.stdout)
        XCTAssertGreaterThanOrEqual(Base32.decode(secret)?.count ?? 0, 20, "seed has at least 160 bits")
        let mode = try FileManager.default.attributesOfItem(atPath: credentialsPath("alice"))[.posixPermissions] as! Int
        XCTAssertEqual(mode & 0o777, 0o600)
        let whoami = try await cli(["whoami"], as: "alice")
        XCTAssertEqual(whoami.stdout, "alice (admin, engineer)\n")

        // 3. A token target.
        nextStep()
        let target = try await cli(["admin", "set-target", "payments-db", "--max-ttl", "1h", "--max-total", "2h", "--audience", "payments-api",
                                    "--totp", try code(secret)], as: "alice")
        XCTAssertEqual(target.status, 0, target.stderr)

        // 4. Break glass with a fresh code.
        nextStep()
        let request = try await cli(["request", "payments-db", "--reason", "INC-4521 lock pile-up, kill blockers", "--incident", "INC-4521",
                                     "--ttl", "30m", "--totp", try code(secret), "--json"], as: "alice")
        XCTAssertEqual(request.status, 0, request.stderr)
        let grant = try JSONSerialization.jsonObject(with: Data(request.stdout.utf8)) as! [String: Any]
        let session = grant["session"] as! [String: Any]
        let sessionId = session["id"] as! String
        let jwt = (grant["credential"] as! [String: Any])["token"] as! String
        XCTAssertEqual(session["state"] as? String, "active")

        // 5. A downstream service verifies the token offline against the published JWKS.
        let jwks = try await http.send(.GET, "/.well-known/jwks.json")
        let keys = try await JWTKeyCollection().add(jwksJSON: jwks.text)
        let claims = try await keys.verify(jwt, as: BreakglassTokenClaims.self)
        XCTAssertEqual(claims.sub.value, "alice")
        XCTAssertEqual(claims.aud.value, ["payments-api"])
        XCTAssertEqual(claims.jti.value, sessionId)
        XCTAssertEqual(claims.iss.value, "breakglass")
        XCTAssertEqual(claims.incident, "INC-4521")
        XCTAssertEqual(claims.exp.value.timeIntervalSince1970, clock.now().timeIntervalSince1970.rounded(.down) + 1800, accuracy: 1)
        let header = try JSONSerialization.jsonObject(with: base64url(String(jwt.split(separator: ".")[0]))) as! [String: Any]
        XCTAssertEqual(header["alg"] as? String, "EdDSA")
        XCTAssertNotNil(header["kid"])
        let stored = try await database.count("SELECT count(*)::bigint FROM sessions WHERE credential_ref::text LIKE '%\(jwt.suffix(40))%'")
        XCTAssertEqual(stored, 0, "the credential itself is not stored")

        // 6. Listed, extended with a fresh code, ended.
        let list = try await cli(["list"], as: "alice")
        XCTAssertTrue(list.stdout.contains(sessionId) && list.stdout.contains("active"), list.stdout)
        nextStep()
        let extend = try await cli(["extend", sessionId, "--ttl", "15m", "--totp", try code(secret), "--json"], as: "alice")
        XCTAssertEqual(extend.status, 0, extend.stderr)
        let extended = (try JSONSerialization.jsonObject(with: Data(extend.stdout.utf8)) as! [String: Any])["session"] as! [String: Any]
        XCTAssertEqual(extended["extensions"] as? Int, 1)
        let end = try await cli(["end", sessionId], as: "alice")
        XCTAssertEqual(end.status, 0, end.stderr)
        let status = try await cli(["status", sessionId], as: "alice")
        XCTAssertTrue(status.stdout.contains("ended"))

        // 7. The audit chain verifies, with every step recorded.
        let verify = try await cli(["audit", "verify"], as: "alice")
        XCTAssertEqual(verify.status, 0, verify.stdout + verify.stderr)
        XCTAssertTrue(verify.stdout.contains("audit chain intact"), verify.stdout)
        for type in ["user.created", "user.enrolled", "target.saved", "session.activated", "session.extended", "session.ended"] {
            let n = try await database.count("SELECT count(*)::bigint FROM audit_events WHERE event_type = '\(type)'")
            XCTAssertEqual(n, 1, type)
        }
        let pages = try await database.count("SELECT count(*)::bigint FROM outbox WHERE session_id = '\(sessionId)'")
        XCTAssertEqual(pages, 3, "activated, extended and ended pages queued")

        // 8. A superuser alters one row (bypassing the append-only trigger); verify names exactly that row.
        let victim = try await database.count("SELECT id::bigint FROM audit_events WHERE event_type = 'session.activated'")
        try await tamper("UPDATE audit_events SET body = replace(body, 'kill blockers', 'read only') WHERE id = \(victim)")
        let broken = try await cli(["audit", "verify"], as: "alice")
        XCTAssertEqual(broken.status, 1, broken.stdout + broken.stderr)
        XCTAssertTrue(broken.stdout.contains("event \(victim) "), broken.stdout)
        XCTAssertTrue(broken.stdout.contains("altered"), broken.stdout)
        let serverSide = try await http.send(.GET, "/v1/audit/verify", token: try savedToken("alice"))
        XCTAssertEqual((serverSide.json["first_broken"] as? [String: Any])?["event_id"] as? Int, victim)
    }

    func tamper(_ sql: String) async throws {
        try await database.asSuperuser("DO $$ BEGIN SET LOCAL session_replication_role = replica; \(sql); END $$")
    }

    func savedToken(_ user: String) throws -> String {
        let data = try Data(contentsOf: URL(fileURLWithPath: credentialsPath(user)))
        return (try JSONSerialization.jsonObject(with: data) as! [String: Any])["token"] as! String
    }

    func base64url(_ text: String) -> Data {
        var s = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while s.count % 4 != 0 { s += "=" }
        return Data(base64Encoded: s)!
    }
}
