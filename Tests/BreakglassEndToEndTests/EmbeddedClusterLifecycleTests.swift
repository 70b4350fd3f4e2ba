import BreakglassTestSupport
import Foundation
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// The real `breakglassd serve` on its embedded default (a temporary BREAKGLASS_DATA_DIR): its PostgreSQL
/// stops with it; after a SIGKILL the next broker reuses the cluster left running, or restarts one whose
/// postmaster died too, and the data is still there.
final class EmbeddedClusterLifecycleTests: XCTestCase {
    var dataDir: URL!
    var env: [String: String] { ["BREAKGLASS_DATA_DIR": dataDir.path, "BREAKGLASS_LOG_LEVEL": "info"] }
    var pidFile: URL { dataDir.appendingPathComponent("pg/data/postmaster.pid") }

    override func setUp() async throws {
        try await super.setUp()
        dataDir = FileManager.default.temporaryDirectory.appendingPathComponent("bg-embedded-\(UUID().uuidString)")
    }

    override func tearDown() async throws {
        // Whatever a failed test left running.
        if let pid = postmasterPID() { kill(pid, SIGKILL) }
        try? FileManager.default.removeItem(at: dataDir)
        try await super.tearDown()
    }

    func postmasterPID() -> pid_t? {
        guard let text = try? String(contentsOf: pidFile, encoding: .utf8) else { return nil }
        return text.split(separator: "\n").first.flatMap { pid_t($0) }
    }

    /// Alive and not a zombie (a killed postmaster is reparented to a PID 1 that may never reap it).
    func isRunning(_ pid: pid_t) -> Bool {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8), let close = stat.lastIndex(of: ")") else { return false }
        return !["Z", "X"].contains(stat[stat.index(after: close)...].trimmingCharacters(in: .whitespaces).first.map(String.init) ?? "X")
    }

    func admin(_ arguments: [String]) async throws -> CommandResult {
        try await Tools.run(Tools.binDirectory.appendingPathComponent("breakglassd").path, ["admin"] + arguments, environment: env)
    }

    /// Creates a user on the running broker's cluster and returns their enrolment code.
    func createUser(_ name: String) async throws -> String {
        let result = try await admin(["create", name, "--role", "admin"])
        XCTAssertEqual(result.status, 0, result.stderr)
        return try XCTUnwrap(result.stdout.split(separator: "\n").first { $0.hasPrefix("enrolment code:") }?.split(separator: " ").last.map(String.init))
    }

    func enrolmentCodeWorks(_ code: String, at url: String) async throws -> Bool {
        try await HTTPTestClient(baseURL: url).send(.POST, "/v1/enrollment/start", json: ["code": code]).status == 200
    }

    func testSIGTERMStopsTheEmbeddedPostgreSQL() async throws {
        let broker = try await BrokerProcess.start(env)
        let postmaster = try XCTUnwrap(postmasterPID())
        XCTAssertTrue(isRunning(postmaster))
        // A short-lived command on the same cluster leaves it running: the broker owns it.
        _ = try await createUser("alice")
        XCTAssertTrue(isRunning(postmaster), "admin create must not stop the broker's cluster")
        broker.process.signal(SIGTERM)
        let result = try await broker.process.finish()
        XCTAssertEqual(result.status, 0, result.stderr.suffix(500).description)
        XCTAssertTrue(result.stderr.contains("using embedded cluster in \(dataDir.path) because no DATABASE_URL or PG* variable is set"),
                      result.stderr.prefix(1000).description)
        // The broker waits for pg_ctl stop before it exits: nothing is left to wait for.
        XCTAssertFalse(isRunning(postmaster), "no postmaster left after the broker stopped")
        XCTAssertNil(postmasterPID(), "postmaster.pid removed by a clean shutdown")
    }

    /// A broker that wrote a user and was then killed with SIGKILL: the user's enrolment code and the
    /// postmaster it left running.
    func brokerKilledAfterWriting() async throws -> (code: String, postmaster: pid_t) {
        let first = try await BrokerProcess.start(env)
        let code = try await createUser("alice")
        let postmaster = try XCTUnwrap(postmasterPID())
        first.process.signal(SIGKILL)
        _ = try await first.process.finish()
        return (code, postmaster)
    }

    /// Starts the next broker, checks the user is still there, stops it with SIGTERM; returns the
    /// postmaster it ran on, which must be gone by then.
    func nextBrokerFindsAndStops(_ code: String) async throws -> pid_t {
        let next = try await BrokerProcess.start(env)
        let postmaster = try XCTUnwrap(postmasterPID())
        let intact = try await enrolmentCodeWorks(code, at: next.url)
        XCTAssertTrue(intact, "data written before the SIGKILL is there")
        next.process.signal(SIGTERM)
        let stopped = try await next.process.finish()
        XCTAssertEqual(stopped.status, 0)
        XCTAssertFalse(isRunning(postmaster), "the next broker stops the cluster it ran on")
        return postmaster
    }

    func testAfterSIGKILLTheNextBrokerReusesTheClusterAndStopsIt() async throws {
        let (code, postmaster) = try await brokerKilledAfterWriting()
        XCTAssertTrue(isRunning(postmaster), "a SIGKILLed broker cannot stop its PostgreSQL")
        let used = try await nextBrokerFindsAndStops(code)
        XCTAssertEqual(used, postmaster, "the running cluster is reused, not started twice")
    }

    func testAStalePostmasterPidFromAKilledPostgreSQLIsHandled() async throws {
        let (code, postmaster) = try await brokerKilledAfterWriting()
        kill(postmaster, SIGKILL)
        for _ in 0..<200 where isRunning(postmaster) { try await Task.sleep(for: .milliseconds(50)) }
        XCTAssertFalse(isRunning(postmaster))
        XCTAssertNotNil(postmasterPID(), "a SIGKILLed postmaster leaves its postmaster.pid behind")
        let used = try await nextBrokerFindsAndStops(code)
        XCTAssertNotEqual(used, postmaster, "a new postmaster after crash recovery")
    }
}
