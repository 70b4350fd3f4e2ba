import BreakglassCore
import BreakglassStore
import BreakglassTestSupport
import Foundation
import Logging
import XCTest

final class DatabaseGuaranteeTests: BrokerTestCase {
    func testServerRoleCannotRewriteTheAuditLog() async throws {
        _ = try await enrolledUser("alice", roles: [.engineer])
        for sql in ["UPDATE audit_events SET body = body", "DELETE FROM audit_events", "TRUNCATE audit_events",
                    "ALTER TABLE audit_events DISABLE TRIGGER audit_events_no_update_delete", "DROP TABLE audit_events"] {
            let error = await database.asServerRole(sql)
            XCTAssertNotNil(error, "\(sql) must be refused")
            XCTAssertTrue(error?.contains("permission denied") == true || error?.contains("must be owner") == true, "\(sql): \(error ?? "")")
        }
        let read = await database.asServerRole("SELECT count(*) FROM audit_events")
        XCTAssertNil(read, "reading is allowed")
        // Even the owner hits the append-only trigger without deliberately disabling it.
        do {
            try await database.asSuperuser("DELETE FROM audit_events")
            XCTFail("delete succeeded")
        } catch {}
        let remaining = try await database.count("SELECT count(*)::bigint FROM audit_events")
        XCTAssertGreaterThan(remaining, 0)
    }

    func testSavedHeadRevealsDeletionOfTheNewestEvents() async throws {
        let alice = try await enrolledUser("alice", roles: [.admin, .engineer])
        try await makeTarget("payments-db", admin: alice)
        try JSONSerialization.data(withJSONObject: ["url": server.baseURL, "user": "alice", "token": alice.token])
            .write(to: URL(fileURLWithPath: credentialsPath("alice")))
        let head = try await cli(["audit", "head", "--json"], as: "alice")
        XCTAssertEqual(head.status, 0, head.stderr)
        let headFile = scratch.appendingPathComponent("head.json").path
        try head.stdout.write(toFile: headFile, atomically: true, encoding: .utf8)

        // A superuser deletes the newest event and rolls the head table back to match.
        try await database.asSuperuser("""
            DO $$ DECLARE victim audit_events%ROWTYPE; BEGIN
                SET LOCAL session_replication_role = replica;
                SELECT * INTO victim FROM audit_events WHERE event_type = 'target.saved';
                DELETE FROM audit_events WHERE id = victim.id;
                UPDATE audit_chain_heads SET seq = victim.seq - 1, hash = victim.prev_hash WHERE shard = victim.shard;
            END $$
            """)
        let unaware = try await cli(["audit", "verify"], as: "alice")
        XCTAssertEqual(unaware.status, 0, "a consistent rollback is invisible from the database alone: \(unaware.stdout)")
        let checked = try await cli(["audit", "verify", "--expect-head", headFile], as: "alice")
        XCTAssertEqual(checked.status, 1, checked.stdout + checked.stderr)
        // The unaware verify appended its own audit.exported event in the same chain, so the saved position now
        // holds a different event: reported as the chain having been rewritten up to the saved head.
        XCTAssertTrue(checked.stdout.contains("saved chain head"), checked.stdout)
    }

    func testExportedLogVerifiesOfflineAndAnEditedExportDoesNot() async throws {
        let alice = try await enrolledUser("alice", roles: [.admin, .engineer])
        try await makeTarget("payments-db", admin: alice)
        let env = ["BREAKGLASS_TOKEN": alice.token]
        let file = scratch.appendingPathComponent("audit.jsonl").path
        let export = try await Tools.cli(["audit", "export", "--output", file], server: server, credentials: credentialsPath("x"), extra: env)
        XCTAssertEqual(export.status, 0, export.stderr)
        let offline = try await Tools.run(Tools.binDirectory.appendingPathComponent("breakglass").path, ["audit", "verify", "--file", file])
        XCTAssertEqual(offline.status, 0, offline.stdout + offline.stderr)
        let text = try String(contentsOfFile: file, encoding: .utf8)
        try text.replacingOccurrences(of: "payments-db", with: "payments-dc").write(toFile: file, atomically: true, encoding: .utf8)
        let edited = try await Tools.run(Tools.binDirectory.appendingPathComponent("breakglass").path, ["audit", "verify", "--file", file])
        XCTAssertEqual(edited.status, 1, edited.stdout)
        let timeRange = try await Tools.cli(["audit", "export", "--from", "yesterday"], server: server, credentials: credentialsPath("x"), extra: env)
        XCTAssertEqual(timeRange.status, 64)
        let trailing = try await Tools.cli(["audit", "export", "--from", "2026-01-01T00:00:00Zjunk"], server: server, credentials: credentialsPath("x"),
                                           extra: env)
        XCTAssertEqual(trailing.status, 64, "a time with anything after it is refused, not cut short: \(trailing.stderr)")
        let exported = try await database.count("SELECT count(*)::bigint FROM audit_events WHERE event_type = 'audit.exported'")
        XCTAssertEqual(exported, 1, "reading the audit log is itself audited")
    }

    func testMigrationsApplyOnceRecordChecksumsAndRefuseAChangedFile() async throws {
        let fresh = try await TestDatabase.create(migrate: false)
        addTeardownBlock { await fresh.drop() }
        let logger = TestDatabase.logger
        let migrator = try Migrator.load(directory: TestDatabase.sqlDirectory)
        // Two instances starting together: the advisory lock lets one migrate, the other finds it done.
        let applied = try await withThrowingTaskGroup(of: [String].self) { group in
            for _ in 0..<2 {
                group.addTask {
                    try await Database.withDatabase(fresh.owner, logger: logger) { try await migrator.migrate($0, logger: logger) }
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        XCTAssertEqual(applied.map(\.count).sorted(), [0, migrator.migrations.count])
        let recorded = try await fresh.count("SELECT count(*)::bigint FROM schema_migrations")
        XCTAssertEqual(recorded, migrator.migrations.count)

        let copy = scratch.appendingPathComponent("sql")
        try FileManager.default.copyItem(at: TestDatabase.sqlDirectory, to: copy)
        let first = copy.appendingPathComponent(migrator.migrations[0].name)
        try (try String(contentsOf: first, encoding: .utf8) + "\n-- edited\n").write(to: first, atomically: true, encoding: .utf8)
        let changed = try Migrator.load(directory: copy)
        do {
            try await Database.withDatabase(fresh.owner, logger: logger) { try await changed.migrate($0, logger: logger) }
            XCTFail("a changed migration was accepted")
        } catch let error as BreakglassError {
            XCTAssertEqual(error.code, "migration_changed")
            XCTAssertTrue(error.message.contains(migrator.migrations[0].name), error.message)
        }
    }

    func testHealthReadinessAndJWKS() async throws {
        let health = try await http.send(.GET, "/healthz")
        XCTAssertEqual(health.status, 200)
        let ready = try await http.send(.GET, "/readyz")
        XCTAssertEqual(ready.status, 200, ready.text)
        let jwks = try await http.send(.GET, "/.well-known/jwks.json")
        let keys = try XCTUnwrap(jwks.json["keys"] as? [[String: Any]])
        XCTAssertEqual(keys.count, 1)
        XCTAssertEqual(keys[0]["kty"] as? String, "OKP")
        XCTAssertEqual(keys[0]["crv"] as? String, "Ed25519")
        XCTAssertNotNil(keys[0]["kid"])
        XCTAssertNil(keys[0]["d"], "no private key material is published")
        let stored = try await database.count("SELECT count(*)::bigint FROM signing_keys WHERE length(private_key_enc) > 32")
        XCTAssertEqual(stored, 1, "the signing key is stored encrypted (nonce + ciphertext + tag)")
    }

    func testNonLoopbackListenWithoutTLSIsRefused() async throws {
        let result = try await Tools.run(Tools.binDirectory.appendingPathComponent("breakglassd").path, ["serve", "--host", "0.0.0.0", "--port", "0"],
                                         environment: ["BREAKGLASS_DATA_DIR": scratch.appendingPathComponent("unused").path])
        XCTAssertNotEqual(result.status, 0)
        XCTAssertTrue(result.stderr.contains("refusing to listen on 0.0.0.0 without TLS"), result.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: scratch.appendingPathComponent("unused").path), "refused before touching anything")
    }

    func testMigrationFilesSplitIntoStatements() {
        let sql = """
            -- comment; with a semicolon
            CREATE TABLE a (x text DEFAULT 'a;b');
            CREATE FUNCTION f() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE 'x;y'; END; $$;
            /* block; comment */ SELECT "odd;name" FROM a;
            DO $tag$ BEGIN NULL; END $tag$
            """
        let statements = SQLScript.statements(sql)
        XCTAssertEqual(statements.count, 4, "\(statements)")
        XCTAssertTrue(statements[1].hasSuffix("END; $$"))
        XCTAssertTrue(statements[3].hasPrefix("DO $tag$"))
    }
}

final class TLSListenerTests: XCTestCase {
    func testServesHTTPSWithTheConfiguredCertificate() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("bg-tls-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let cert = dir.appendingPathComponent("cert.pem").path, key = dir.appendingPathComponent("key.pem").path
        let made = try await Tools.run("/usr/bin/openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                                                            "-keyout", key, "-out", cert, "-days", "1", "-subj", "/CN=127.0.0.1"])
        XCTAssertEqual(made.status, 0, made.stderr)
        let database = try await TestDatabase.create()
        let server = TestServer(database: database, clock: ManualClock(Date()))
        try await server.start(tls: (cert, key))
        let https = try await Tools.run("/usr/bin/curl", ["-s", "--cacert", cert, "\(server.baseURL)/healthz"])
        let headers = try await Tools.run("/usr/bin/curl", ["-s", "-o", "/dev/null", "-D", "-", "--cacert", cert, "\(server.baseURL)/compliance"])
        let plain = try await Tools.run("/usr/bin/curl", ["-s", "--max-time", "3", "http://127.0.0.1:\(server.port)/healthz"])
        // An independent client (Python's ssl over OpenSSL) that offers only TLS 1.0/1.1, with the security
        // level lowered so the client side is willing: the broker must refuse the handshake.
        func handshake(maxVersion: String) async throws -> CommandResult {
            try await Tools.run("/usr/bin/env", ["python3", "-c", """
                import socket, ssl, sys
                ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
                ctx.check_hostname = False
                ctx.verify_mode = ssl.CERT_NONE
                ctx.set_ciphers('DEFAULT:@SECLEVEL=0')
                ctx.minimum_version = ssl.TLSVersion.TLSv1
                ctx.maximum_version = getattr(ssl.TLSVersion, sys.argv[2])
                with socket.create_connection(('127.0.0.1', int(sys.argv[1])), timeout=5) as s:
                    with ctx.wrap_socket(s) as t:
                        print(t.version())
                """, String(server.port), maxVersion])
        }
        let old = try await handshake(maxVersion: "TLSv1_1")
        let current = try await handshake(maxVersion: "TLSv1_2")
        await server.stop()
        await database.drop()
        XCTAssertEqual(https.stdout, #"{"status":"ok"}"#, https.stderr)
        XCTAssertNotEqual(plain.stdout, #"{"status":"ok"}"#, "plain HTTP is not served on the TLS port")
        XCTAssertTrue(headers.stdout.lowercased().contains("strict-transport-security: max-age=31536000"), headers.stdout)
        XCTAssertNotEqual(old.status, 0, "TLS 1.1 must be refused: \(old.stdout)")
        XCTAssertEqual(current.stdout.trimmingCharacters(in: .whitespacesAndNewlines), "TLSv1.2", current.stderr)
    }
}
