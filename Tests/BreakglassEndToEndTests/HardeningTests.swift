import BreakglassCore
import BreakglassServer
import BreakglassStore
import BreakglassSystem
import BreakglassTestSupport
import Foundation
import XCTest

final class AuditReadTests: BrokerTestCase {
    func testEveryReadOfTheAuditLogIsAudited() async throws {
        let alice = try await enrolledUser("alice", roles: [.admin])
        let verify = try await http.send(.GET, "/v1/audit/verify", token: alice.token)
        XCTAssertEqual(verify.status, 200, verify.text)
        let verified = try await database.count("SELECT count(*)::bigint FROM audit_events WHERE event_type = 'audit.verified'")
        XCTAssertEqual(verified, 1)
        // A reader who starts past the first page is recorded too.
        let page = try await http.send(.GET, "/v1/audit/events?after_id=1&limit=1", token: alice.token)
        XCTAssertEqual(page.status, 200, page.text)
        let exported = try await database.count("""
            SELECT count(*)::bigint FROM audit_events WHERE event_type = 'audit.exported' AND (body::jsonb -> 'event' -> 'details' ->> 'after_id') = '1'
            """)
        XCTAssertEqual(exported, 1)
        let cli = try await cli(["audit", "verify"], as: "alice", extra: ["BREAKGLASS_TOKEN": alice.token])
        XCTAssertEqual(cli.status, 0, cli.stderr)
        let after = try await database.count("SELECT count(*)::bigint FROM audit_events WHERE event_type IN ('audit.exported', 'audit.verified')")
        XCTAssertGreaterThan(after, 2, "the CLI's offline verification fetched the log, and that read is audited")
    }

    func cli(_ args: [String], as user: String, extra: [String: String]) async throws -> CommandResult {
        try await Tools.cli(args, server: server, credentials: credentialsPath(user), extra: extra)
    }
}

/// The browser sign-in for the compliance pages.
final class WebSignInTests: BrokerTestCase {
    func cookie(from reply: HTTPTestClient.Reply) -> String? {
        guard let header = reply.headers["set-cookie"], let first = header.split(separator: ";").first else { return nil }
        return String(first)
    }

    func signIn(_ user: (secret: String, token: String)) async throws -> (ticket: String, cookie: String) {
        let issued = try await http.send(.POST, "/v1/compliance/web-ticket", token: user.token, json: [:])
        XCTAssertEqual(issued.status, 201, issued.text)
        let path = issued.json["path"] as! String
        let ticket = String(path.split(separator: "=").last!)
        // A GET (a link previewer, a mail scanner) only shows the confirmation page: the ticket is not spent.
        for _ in 0..<2 {
            let shown = try await http.send(.GET, path)
            XCTAssertEqual(shown.status, 200)
            XCTAssertTrue(shown.text.contains("method=\"post\""), shown.text)
            XCTAssertNil(shown.headers["set-cookie"])
        }
        let posted = try await http.send(.POST, "/compliance/login", rawBody: Data("ticket=\(ticket)".utf8),
                                         headers: ["Content-Type": "application/x-www-form-urlencoded"])
        XCTAssertEqual(posted.status, 303, posted.text)
        let cookie = try XCTUnwrap(cookie(from: posted))
        XCTAssertTrue(posted.headers["set-cookie"]?.contains("HttpOnly") ?? false)
        return (ticket, cookie)
    }

    func page(_ cookie: String) async throws -> Int {
        try await http.send(.GET, "/compliance", headers: ["Cookie": cookie]).status
    }

    func testTicketIsSpentByAPostAndTheBrowserSessionEndsWithTokenLockoutAndSignOut() async throws {
        let bob = try await enrolledUser("bob", roles: [.compliance])
        let (ticket, cookie) = try await signIn(bob)
        let ok = try await page(cookie)
        XCTAssertEqual(ok, 200)
        let again = try await http.send(.POST, "/compliance/login", rawBody: Data("ticket=\(ticket)".utf8),
                                        headers: ["Content-Type": "application/x-www-form-urlencoded"])
        XCTAssertEqual(again.status, 401, "a ticket works once")

        // Sign-out ends it.
        let out = try await http.send(.POST, "/compliance/logout", headers: ["Cookie": cookie])
        XCTAssertEqual(out.status, 200)
        let afterSignOut = try await page(cookie)
        XCTAssertEqual(afterSignOut, 401)

        // Revoking the token the ticket came from ends the browser session too.
        let (_, second) = try await signIn(bob)
        let list = try await http.send(.GET, "/v1/tokens", token: bob.token)
        let id = try XCTUnwrap((try JSONSerialization.jsonObject(with: list.body) as? [[String: Any]])?.first?["id"] as? String)
        let revoke = try await http.send(.POST, "/v1/tokens/\(id)/revoke", token: bob.token, json: [:])
        XCTAssertEqual(revoke.status, 200, revoke.text)
        let afterRevoke = try await page(second)
        XCTAssertEqual(afterRevoke, 401)
    }

    func testReEnrolmentAndLockoutEndTheBrowserSession() async throws {
        let alice = try await enrolledUser("alice", roles: [.admin])
        let bob = try await enrolledUser("bob", roles: [.compliance])
        let (_, cookie) = try await signIn(bob)
        // Locked (five wrong codes on a proof; how it got locked does not matter here).
        try await database.asSuperuser("UPDATE users SET locked_until = now() + interval '1 day' WHERE name = 'bob'")
        let locked = try await page(cookie)
        XCTAssertEqual(locked, 401)
        let unlock = try await adminSend(.POST, "/v1/users/bob/unlock", as: alice)
        XCTAssertEqual(unlock.status, 200, unlock.text)
        let unlocked = try await page(cookie)
        XCTAssertEqual(unlocked, 200, "the lock, not the session, refused it")

        // Re-enrolment (a lost phone) ends every browser session.
        let grant = try await adminSend(.POST, "/v1/users/bob/enrollment", as: alice)
        XCTAssertEqual(grant.status, 201, grant.text)
        let code = grant.json["enrollment_code"] as! String
        let start = try await http.send(.POST, "/v1/enrollment/start", json: ["code": code])
        let confirm = try await http.send(.POST, "/v1/enrollment/confirm", json: ["code": code, "totp": try self.code(start.json["secret"] as! String)])
        XCTAssertEqual(confirm.status, 201, confirm.text)
        let afterReEnrolment = try await page(cookie)
        XCTAssertEqual(afterReEnrolment, 401)
    }
}

final class ClientSafetyTests: XCTestCase {
    func testTheCLIRefusesPlainHTTPToAnotherHost() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("bg-cli-\(UUID().uuidString)")
        let result = try await Tools.run(Tools.binDirectory.appendingPathComponent("breakglass").path,
                                         ["whoami", "--url", "http://198.51.100.7:8420"],
                                         environment: ["BREAKGLASS_TOKEN": "bgt_x", "BREAKGLASS_CREDENTIALS": dir.appendingPathComponent("c.json").path])
        XCTAssertEqual(result.status, 64, result.stderr)
        XCTAssertTrue(result.stderr.contains("refusing to send a token or TOTP code over plain http"), result.stderr)
    }

    func testADatabaseAcrossTheNetworkIsVerifiedByDefault() throws {
        XCTAssertEqual(try DatabaseConfig.parse(url: "postgres://bg@db.internal.example/breakglass").sslMode, .verifyFull)
        XCTAssertEqual(try DatabaseConfig.parse(url: "postgres://bg@127.0.0.1/breakglass").sslMode, .prefer)
        XCTAssertEqual(try DatabaseConfig.fromEnvironment(["PGHOST": "10.0.0.5", "PGUSER": "bg"])?.sslMode, .verifyFull)
        XCTAssertEqual(try DatabaseConfig.parse(url: "postgres://bg@db.internal.example/breakglass?sslmode=require").sslMode, .require,
                       "an explicit mode is kept")
    }

    func testSecretFilesAreCreated0600AndNeverThroughALink() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("bg-secret-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("master.key").path
        let previous = umask(0)
        defer { umask(previous) }
        try SecretFile.create(atPath: path, contents: Array("secret".utf8))
        let mode = try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as! Int
        XCTAssertEqual(mode & 0o777, 0o600)
        XCTAssertThrowsError(try SecretFile.create(atPath: path, contents: Array("other".utf8)), "never over an existing file")
        let victim = dir.appendingPathComponent("victim").path
        _ = FileManager.default.createFile(atPath: victim, contents: Data("keep".utf8))
        let link = dir.appendingPathComponent("planted").path
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: victim)
        XCTAssertThrowsError(try SecretFile.create(atPath: link, contents: Array("secret".utf8)))
        XCTAssertEqual(try String(contentsOfFile: victim, encoding: .utf8), "keep")
    }
}

final class IdleConnectionTests: XCTestCase {
    func testASilentConnectionIsClosed() async throws {
        let database = try await TestDatabase.create()
        let server = TestServer(database: database, clock: ManualClock(Date()))
        try await server.start(idleTimeoutSeconds: 1)
        // A client that connects and never sends a byte (slowloris): the broker hangs up.
        let result = try await Tools.run("/usr/bin/env", ["python3", "-c", """
            import socket, sys, time
            s = socket.create_connection(('127.0.0.1', int(sys.argv[1])))
            s.settimeout(10)
            t0 = time.monotonic()
            data = s.recv(1)
            print('closed' if data == b'' else 'data', round(time.monotonic() - t0, 1))
            """, String(server.port)])
        await server.stop()
        await database.drop()
        let words = result.stdout.split(separator: " ")
        XCTAssertEqual(words.first, "closed", result.stdout + result.stderr)
        XCTAssertLessThan(Double(words.last?.trimmingCharacters(in: .whitespacesAndNewlines) ?? "") ?? 99, 5)
    }
}

/// Behind a reverse proxy: the proxy's `X-Forwarded-For` names the client, and only the proxy's.
final class TrustedProxyTests: BrokerTestCase {
    override var serverSettings: Broker.Settings { .init(trustedProxies: ["127.0.0.1"]) }

    func loginFrom(_ forwarded: String) async throws -> HTTPTestClient.Reply {
        try await http.send(.POST, "/v1/login", json: ["user": "nobody", "totp": "000000"], headers: ["X-Forwarded-For": forwarded])
    }

    func testTheForwardedClientIsAuditedAndRateLimitedOnItsOwn() async throws {
        let first = try await loginFrom("198.51.100.9, 203.0.113.5")
        XCTAssertEqual(first.errorCode, "login_failed")
        let audited = try await database.count("""
            SELECT count(*)::bigint FROM audit_events WHERE (body::jsonb -> 'event' ->> 'clientAddress') = '203.0.113.5'
            """)
        XCTAssertEqual(audited, 1, "the right-most address the trusted proxy added")
        var statuses: [Int] = []
        for _ in 0..<40 { statuses.append(try await loginFrom("203.0.113.5").status) }
        XCTAssertTrue(statuses.contains(429), "\(statuses)")
        let other = try await loginFrom("203.0.113.6")
        XCTAssertEqual(other.errorCode, "login_failed", "another client behind the same proxy keeps its own budget")
    }
}
