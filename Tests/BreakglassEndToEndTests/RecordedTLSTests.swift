import BreakglassCore
import BreakglassServer
import BreakglassStore
import BreakglassTestSupport
import Foundation
import Logging
import XCTest

/// Recorded access over TLS on both legs, checked with libpq: psql verifies the proxy's certificate
/// (`sslmode=verify-full` against the broker's certificate), and the target, a cluster of the test's own
/// with `ssl = on`, sees the proxy's connection for the session role encrypted (`pg_stat_ssl`).
final class RecordedTLSTests: BrokerTestCase {
    override var serverDelivers: Bool { false }
    var cluster: TargetCluster?
    var proxy: ProxyService?
    var serving: Task<Void, any Error>?
    let managerPassword = "mgr-" + Secrets.base64url(Secrets.randomBytes(12))

    override func tearDown() async throws {
        await proxy?.stop()
        serving?.cancel()
        await cluster?.stop()
        try await super.tearDown()
    }

    func testBothLegsAreEncryptedAndPsqlVerifiesTheProxy() async throws {
        let cert = scratch.appendingPathComponent("cert.pem").path, key = scratch.appendingPathComponent("key.pem").path
        let made = try await Tools.run("/usr/bin/openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                                                            "-keyout", key, "-out", cert, "-days", "1", "-subj", "/CN=127.0.0.1",
                                                            "-addext", "subjectAltName=IP:127.0.0.1"])
        XCTAssertEqual(made.status, 0, made.stderr)
        let target = try await TargetCluster(tls: (cert, key))
        cluster = target
        try await target.makeRunbookRoles(managerPassword: managerPassword)
        // The proxy with the broker's certificate, as `serve --tls-cert/--tls-key --proxy-port` runs it.
        let service = try await ProxyService.bind(ProxyListenConfig(host: "127.0.0.1", port: 0), broker: server.broker,
                                                  listen: ListenConfig(host: "127.0.0.1", port: 0, tlsCertificatePath: cert, tlsKeyPath: key),
                                                  logger: Logger(label: "recorded-tls-test"))
        proxy = service
        serving = Task { try await service.run() }

        let admin = try await enrolledUser("alice", roles: [.admin])
        let engineer = try await enrolledUser("bob", roles: [.engineer])
        let saved = try await adminSend(.PUT, "/v1/targets/payments-pg", as: admin, json: [
            "kind": "postgres", "max_ttl": "1h", "pg_host": target.host, "pg_port": target.port, "pg_database": "payments", "pg_tls": "require",
            "managing_role": "breakglass_manager", "managing_password": managerPassword, "grant_role": "payments_oncall_rw", "access": "recorded",
        ])
        XCTAssertEqual(saved.status, 201, saved.text)
        let request = try await Tools.cli(["request", "payments-pg", "--reason", "INC-4521 lock pile-up, kill blockers", "--incident", "INC-4521",
                                           "--totp", try code(engineer.secret), "--json"],
                                          server: server, credentials: credentialsPath("bob"), extra: ["BREAKGLASS_TOKEN": engineer.token])
        XCTAssertEqual(request.status, 0, request.stderr)
        let grant = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(request.stdout.utf8)) as? [String: Any])
        let id = try XCTUnwrap((grant["session"] as? [String: Any])?["id"] as? String)
        let proxyLogin = try XCTUnwrap((grant["credential"] as? [String: Any])?["proxy"] as? [String: Any])
        XCTAssertEqual(proxyLogin["tls"] as? Bool, true)
        // --json names where the proxy token was saved (0600) instead of printing it.
        let savedTo = try XCTUnwrap(proxyLogin["saved_to"] as? String, request.stdout)
        XCTAssertTrue(savedTo.hasSuffix("/sessions/\(id).json"), savedTo)
        XCTAssertNil(proxyLogin["password"])
        let savedLogin = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: savedTo))) as? [String: Any])
        let proxyToken = try XCTUnwrap(savedLogin["token"] as? String)
        XCTAssertFalse(request.stdout.contains(proxyToken) || request.stderr.contains(proxyToken))

        let extra = ["BREAKGLASS_TOKEN": engineer.token, "BREAKGLASS_PSQL": "/usr/bin/psql", "BREAKGLASS_CA_FILE": cert]
        let env = try await Tools.cli(["psql", id, "--print-env"], server: server, credentials: credentialsPath("bob"), extra: extra)
        XCTAssertTrue(env.stdout.contains("export PGSSLMODE=verify-full"), env.stdout)
        XCTAssertTrue(env.stdout.contains("export PGSSLROOTCERT=\(cert)"), env.stdout)
        let psql = try await Tools.cli(["psql", id, "--", "-At", "-v", "ON_ERROR_STOP=1", "-c", "\\conninfo",
                                        "-c", "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()"],
                                       server: server, credentials: credentialsPath("bob"), extra: extra)
        XCTAssertEqual(psql.status, 0, psql.stderr)
        XCTAssertTrue(psql.stdout.contains("SSL connection (protocol: TLSv1."), psql.stdout)
        XCTAssertEqual(psql.stdout.split(separator: "\n").last, "t", "the proxy's connection to the target is TLS: \(psql.stdout)")

        // A startup sent in clear right behind the SSLRequest without waiting for the 'S' (a man in the
        // middle's injection) is never read as a login: TLS is in front of the decoder from the moment the
        // SSLRequest was decoded (or, in the same read, the decoder refuses it), so what follows the 'S' is a
        // TLS alert or a close, never an 'R'. The timing cannot force the race; this pins the behaviour.
        let injected = try await Tools.run("/usr/bin/env", ["python3", "-c", """
            import socket, struct, sys, time
            s = socket.create_connection(('127.0.0.1', int(sys.argv[1])), timeout=5)
            s.sendall(struct.pack('!ii', 8, 80877103))
            time.sleep(0.001)  # most often a read of its own; never waiting for the 'S'
            body = struct.pack('!i', 196608) + b'user\\0\(id)\\0\\0'
            s.sendall(struct.pack('!i', len(body) + 4) + body)
            answer = b''
            while len(answer) < 2:
                chunk = s.recv(64)
                if not chunk:
                    break
                answer += chunk
            assert answer[:1] == b'S', answer
            print(answer[1:2].hex() if len(answer) > 1 else 'closed')
            """, String(service.port)])
        XCTAssertEqual(injected.status, 0, injected.stderr)
        XCTAssertNotEqual(injected.stdout.trimmingCharacters(in: .whitespacesAndNewlines), "52", "the cleartext startup was answered as a login")

        // A client that trusts other roots does not log in: psql really checks the proxy's certificate.
        let otherRoots = try await Tools.cli(["psql", id, "--", "-At", "-c", "SELECT 1"], server: server, credentials: credentialsPath("bob"),
                                             extra: extra.merging(["BREAKGLASS_CA_FILE": "/etc/ssl/certs/ca-certificates.crt"]) { $1 })
        XCTAssertNotEqual(otherRoots.status, 0)
        XCTAssertTrue(otherRoots.stderr.contains("certificate verify failed"), otherRoots.stderr)
    }
}
