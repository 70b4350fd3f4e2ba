import BreakglassTestSupport
import Foundation
import XCTest

/// A newer broker may add an enum value this CLI does not know. Its 201 still means the session is active and
/// paged, and the credential in it is shown nowhere else: the CLI must hand it over, with a warning, not lose it.
/// The broker here is a loopback receiver answering as such a broker would.
final class GrantSalvageTests: XCTestCase {
    var broker: LoopbackReceiver!
    var home: URL!

    override func setUp() async throws {
        broker = LoopbackReceiver()
        try await broker.start()
        home = FileManager.default.temporaryDirectory.appendingPathComponent("salvage-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: home, withIntermediateDirectories: true)
    }

    override func tearDown() async throws {
        await broker.stop()
        try? FileManager.default.removeItem(at: home)
    }

    static let session = """
        "session": {"id": "bg_salvage1", "requester": "alice", "target": "payments-db", "reason": "INC-7 lock pile-up, kill blockers",
          "incident": "INC-7", "state": "STATE", "activated_at": "2026-11-26T20:00:00.000Z", "expires_at": "2026-11-26T20:30:00.000Z",
          "hard_limit": "2026-11-26T22:00:00.000Z", "retro_due_at": "2026-11-27T20:00:00.000Z", "extensions": 0, "drill": false}
        """

    func answer(status: Int = 201, state: String = "active", credential: String) -> LoopbackReceiver.Answer {
        let body = "{\(Self.session.replacingOccurrences(of: "STATE", with: state)), \"credential\": \(credential), \"pages_queued\": [\"session.activated\"]}"
        return .init(status: status, headers: ["Content-Type": "application/json"], body: body)
    }

    func breakGlass(_ extra: [String] = []) async throws -> CommandResult {
        try await cli(["request", "payments-db", "--reason", "INC-7 lock pile-up, kill blockers", "--incident", "INC-7", "--totp", "123456"] + extra)
    }

    func cli(_ arguments: [String]) async throws -> CommandResult {
        try await Tools.run(Tools.binDirectory.appendingPathComponent("breakglass").path, arguments,
                            environment: ["BREAKGLASS_URL": broker.url(""), "BREAKGLASS_TOKEN": "bgt_salvage_test_token",
                                          "BREAKGLASS_CREDENTIALS": home.appendingPathComponent("credentials.json").path])
    }

    func testATokenUnderAnUnknownSessionStateIsHandedOverWithAWarning() async throws {
        let jwt = "eyJhbGciOiJFZERTQSJ9.salvaged-token.signature"
        await broker.setDefault("/v1/sessions", answer(state: "quarantined", credential: """
            {"kind": "token", "token": "\(jwt)", "audience": "payments-api", "key_id": "k1", "expires_at": "2026-11-26T20:30:00.000Z"}
            """))
        let result = try await breakGlass()
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertTrue(result.stdout.contains("bg_salvage1"), result.stdout)
        XCTAssertTrue(result.stdout.contains(jwt), result.stdout)
        XCTAssertTrue(result.stderr.contains("fields this CLI does not understand"), result.stderr)
        XCTAssertTrue(result.stderr.contains("session.state"), "the warning names the member: \(result.stderr)")
        XCTAssertFalse(result.stderr.contains(jwt), "the token is printed where the normal path prints it only")
    }

    func testADirectPostgresPasswordUnderAnUnknownKindIsExported() async throws {
        let password = "s3cret-role-password"
        await broker.setDefault("/v1/sessions", answer(credential: """
            {"kind": "postgres_v2", "postgres": {"user": "bg_salvage1", "password": "\(password)", "host": "db.internal", "port": 5432,
             "database": "payments", "sslmode": "require"}, "expires_at": "2026-11-26T20:30:00.000Z"}
            """))
        let result = try await breakGlass()
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertTrue(result.stdout.contains("export PGUSER=bg_salvage1 PGPASSWORD=\(password) PGHOST=db.internal PGPORT=5432"), result.stdout)
        XCTAssertTrue(result.stderr.contains("credential.kind"), result.stderr)
        XCTAssertFalse(result.stderr.contains(password))
    }

    func testAProxyTokenUnderAnUnknownKindIsSavedToItsFileAndPrintedNowhere() async throws {
        let token = "bgp_salvaged_proxy_token"
        await broker.setDefault("/v1/sessions", answer(credential: """
            {"kind": "recorded_ssh", "proxy": {"user": "bg_salvage1", "password": "\(token)", "port": 6543, "database": "payments",
             "tls": false}, "expires_at": "2026-11-26T20:30:00.000Z"}
            """))
        let result = try await breakGlass(["--json"])
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertFalse(result.stdout.contains(token), result.stdout)
        XCTAssertFalse(result.stderr.contains(token), result.stderr)
        XCTAssertTrue(result.stdout.contains("saved_to"), "scripts read where the token went: \(result.stdout)")
        let saved = try String(contentsOf: home.appendingPathComponent("sessions/bg_salvage1.json"), encoding: .utf8)
        XCTAssertTrue(saved.contains(token), saved)
        XCTAssertTrue(saved.contains("6543"), saved)
    }

    func testAProxyTokenWhoseLoginCannotBeReadIsShownRatherThanLost() async throws {
        let token = "bgp_salvaged_unsaveable_token"
        await broker.setDefault("/v1/sessions", answer(credential: """
            {"kind": "recorded", "proxy": {"user": "bg_salvage1", "password": "\(token)", "port": "6543", "db": "payments"},
             "expires_at": "2026-11-26T20:30:00.000Z"}
            """))
        let text = try await breakGlass()
        XCTAssertEqual(text.status, 0, text.stderr)
        XCTAssertTrue(text.stdout.contains(token), text.stdout)
        XCTAssertTrue(text.stdout.contains("not saved"), text.stdout)
        XCTAssertFalse(text.stderr.contains(token), text.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: home.appendingPathComponent("sessions/bg_salvage1.json").path))
        let json = try await breakGlass(["--json"])
        XCTAssertEqual(json.status, 0, json.stderr)
        XCTAssertTrue(json.stdout.contains(token), "not saved anywhere, so the answer keeps it: \(json.stdout)")
    }

    func testASessionWithNoReadableCredentialIsNamedButNotASuccess() async throws {
        await broker.setDefault("/v1/sessions", answer(state: "quarantined", credential: #"{"kind": "ssh", "certificate": "ssh-ed25519-cert..."}"#))
        let result = try await breakGlass()
        XCTAssertEqual(result.status, 70, "no credential is not access granted: \(result.stdout)\(result.stderr)")
        XCTAssertTrue(result.stdout.contains("bg_salvage1"), "the session can still be ended or linked: \(result.stdout)")
        XCTAssertTrue(result.stdout.contains("no credential could be read"), result.stdout)
        XCTAssertTrue(result.stderr.contains("was not understood"), result.stderr)
    }

    func testAnExtensionUnderAnUnknownStateIsReported() async throws {
        await broker.setDefault("/v1/sessions/bg_salvage1/extend", answer(status: 200, state: "extended_pending_review", credential: """
            {"kind": "token", "token": "eyJ.extended.sig", "audience": "payments-api", "expires_at": "2026-11-26T20:45:00.000Z"}
            """))
        let result = try await cli(["extend", "bg_salvage1", "--ttl", "15m", "--totp", "123456"])
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertTrue(result.stdout.contains("bg_salvage1 extended"), result.stdout)
        XCTAssertTrue(result.stderr.contains("does not understand"), result.stderr)
    }

    func testAnAnswerWithNothingUsableIsStillAnError() async throws {
        await broker.setDefault("/v1/sessions", .init(status: 201, headers: ["Content-Type": "application/json"],
                                                      body: #"{"session": {"state": "quarantined"}, "credential": {"kind": "ssh"}}"#))
        let result = try await breakGlass()
        XCTAssertEqual(result.status, 70, "\(result.stdout)\(result.stderr)")
        XCTAssertTrue(result.stderr.contains("was not understood"), result.stderr)
        XCTAssertFalse(result.stderr.contains("warning"), result.stderr)
    }

    /// Only the success the contract declares means "active and paged": a 200 to `request` (documented: 201) is not
    /// salvaged, however readable, and the error names the status, in both modes.
    func testAnUndocumentedSuccessStatusIsAnErrorNamingIt() async throws {
        let jwt = "eyJhbGciOiJFZERTQSJ9.undocumented-token.signature"
        await broker.setDefault("/v1/sessions", answer(status: 200, credential: """
            {"kind": "token", "token": "\(jwt)", "audience": "payments-api", "key_id": "k1", "expires_at": "2026-11-26T20:30:00.000Z"}
            """))
        let text = try await breakGlass()
        XCTAssertEqual(text.status, 70, "\(text.stdout)\(text.stderr)")
        XCTAssertTrue(text.stderr.contains("HTTP 200"), text.stderr)
        XCTAssertTrue(text.stderr.contains("HTTP 201"), "the documented success is named too: \(text.stderr)")
        XCTAssertFalse(text.stdout.contains(jwt) || text.stderr.contains(jwt), "nothing of an undocumented answer is used")
        XCTAssertFalse(text.stderr.contains("warning"), text.stderr)
        let json = try await breakGlass(["--json"])
        XCTAssertEqual(json.status, 70, "\(json.stdout)\(json.stderr)")
        XCTAssertEqual(json.stdout, "")
        let error = try JSONSerialization.jsonObject(with: Data(json.stderr.utf8)) as? [String: [String: String]]
        XCTAssertEqual(error?["error"]?["code"], "undocumented_status", json.stderr)

        await broker.setDefault("/v1/sessions/bg_salvage1/extend", answer(status: 202, state: "extended_pending_review", credential: """
            {"kind": "token", "token": "eyJ.extended.sig", "audience": "payments-api", "expires_at": "2026-11-26T20:45:00.000Z"}
            """))
        let extend = try await cli(["extend", "bg_salvage1", "--ttl", "15m", "--totp", "123456"])
        XCTAssertEqual(extend.status, 70, "\(extend.stdout)\(extend.stderr)")
        XCTAssertTrue(extend.stderr.contains("HTTP 202"), extend.stderr)
        XCTAssertFalse(extend.stdout.contains("eyJ.extended.sig"), extend.stdout)
    }

    /// `--json` follows the same rule as the text mode: exit 0 exactly when a credential was handed over, the
    /// broker's bytes on stdout, and stderr as machine-readable as any `--json` error (a JSON object per line).
    func testInJSONModeASalvageExitsAsTheTextModeDoesAndKeepsStderrJSON() async throws {
        let jwt = "eyJhbGciOiJFZERTQSJ9.json-salvaged.signature"
        await broker.setDefault("/v1/sessions", answer(state: "quarantined", credential: """
            {"kind": "token", "token": "\(jwt)", "audience": "payments-api", "key_id": "k1", "expires_at": "2026-11-26T20:30:00.000Z"}
            """))
        let handed = try await breakGlass(["--json"])
        XCTAssertEqual(handed.status, 0, handed.stderr)
        let grant = try JSONSerialization.jsonObject(with: Data(handed.stdout.utf8)) as? [String: Any]
        XCTAssertEqual((grant?["credential"] as? [String: Any])?["token"] as? String, jwt, handed.stdout)
        let warnings = try Self.jsonLines(handed.stderr)
        XCTAssertEqual(warnings.count, 1, handed.stderr)
        XCTAssertEqual(warnings.first?["warning"]?["code"], "answer_not_understood", handed.stderr)
        XCTAssertTrue(warnings.first?["warning"]?["message"]?.contains("session.state") == true, handed.stderr)

        await broker.setDefault("/v1/sessions", answer(state: "quarantined", credential: #"{"kind": "ssh", "certificate": "ssh-ed25519-cert..."}"#))
        let text = try await breakGlass()
        let json = try await breakGlass(["--json"])
        XCTAssertEqual(json.status, text.status, "no credential is no success in either mode")
        XCTAssertEqual(json.status, 70)
        XCTAssertTrue(json.stdout.contains("bg_salvage1"), "the session can still be ended or linked: \(json.stdout)")
        let lines = try Self.jsonLines(json.stderr)
        XCTAssertEqual(lines.map { $0.keys.sorted() }, [["warning"], ["error"]], json.stderr)
        XCTAssertEqual(lines.last?["error"]?["code"], "bad_response", json.stderr)
    }

    /// Each line of `--json` stderr as a JSON object of objects of strings; a line that is not one fails the test.
    static func jsonLines(_ text: String) throws -> [[String: [String: String]]] {
        try text.split(separator: "\n").map { line in
            try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: [String: String]], String(line))
        }
    }
}
