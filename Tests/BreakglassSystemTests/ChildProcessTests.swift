import BreakglassSystem
import Foundation
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// The runner every child process goes through. Foundation's `Process` was given up because on Linux it could miss
/// a child's exit when many were started, or when a grandchild (the postgres `pg_ctl start` leaves running) held
/// the child's descriptors: these tests do both, with a deadline, so a missed exit fails instead of hanging.
final class ChildProcessTests: XCTestCase {
    /// Fails the test if `body` has not returned within `seconds`.
    func within<T: Sendable>(_ seconds: Int, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
        try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask { try await body() }
            group.addTask {
                try await Task.sleep(for: .seconds(seconds))
                return nil
            }
            defer { group.cancelAll() }
            guard let first = try await group.next(), let value = first else { throw Deadline(seconds: seconds) }
            return value
        }
    }

    struct Deadline: Error, CustomStringConvertible {
        let seconds: Int
        var description: String { "not done within \(seconds) s: a child's exit was missed" }
    }

    func testOutputStatusAndStandardInputAreTheChilds() async throws {
        let echoed = try await ChildProcess("/bin/sh", ["-c", "cat; echo oops >&2; exit 3"]).run(input: .text("typed\n"))
        XCTAssertEqual(echoed, ChildProcess.Outcome(status: 3, stdout: "typed\n", stderr: "oops\n"))
        let merged = try await ChildProcess("/bin/sh", ["-c", "echo one; echo two >&2; echo three"]).run(mergingErrorIntoOutput: true)
        XCTAssertEqual(merged.stdout, "one\ntwo\nthree\n")
        let piped = try await ChildProcess("/bin/cat").run(input: .secret("otpauth://totp/x?secret=ABC"))
        XCTAssertEqual(piped.stdout, "otpauth://totp/x?secret=ABC")
        let none = try await ChildProcess("/bin/cat").run()
        XCTAssertEqual(none, ChildProcess.Outcome(status: 0, stdout: "", stderr: ""), "no input is /dev/null, not this process's stdin")
    }

    func testTheEnvironmentIsExactlyTheOneGivenOrThisProcesssOwn() async throws {
        let given = try await ChildProcess("/usr/bin/env", environment: ["ONLY": "this"]).run()
        XCTAssertEqual(given.stdout, "ONLY=this\n")
        setenv("BREAKGLASS_CHILD_PROCESS_TEST", "inherited", 1)
        defer { unsetenv("BREAKGLASS_CHILD_PROCESS_TEST") }
        let inherited = try await ChildProcess("/usr/bin/env").run()
        XCTAssertTrue(inherited.stdout.contains("BREAKGLASS_CHILD_PROCESS_TEST=inherited\n"), inherited.stdout)
    }

    func testASignalIsReportedAsAShellDoes() async throws {
        let killed = try await ChildProcess("/bin/sh", ["-c", "kill -TERM $$"]).run()
        XCTAssertEqual(killed.status, 128 + SIGTERM)
    }

    func testAMissingProgramIsAnErrorNamingIt() async throws {
        do {
            _ = try await ChildProcess("/nonexistent/breakglass-tool").run()
            XCTFail("ran a program that does not exist")
        } catch let failure as ChildProcess.Failure {
            XCTAssertTrue(failure.description.hasPrefix("cannot run /nonexistent/breakglass-tool: "), failure.description)
        }
    }

    /// `pg_ctl start` exits while the server it started keeps its standard output and error.
    func testAChildIsSeenToExitWhileItsGrandchildKeepsItsOutputOpen() async throws {
        let started = Date()
        let result = try await within(20) {
            try await ChildProcess("/bin/sh", ["-c", "sleep 30 & echo $!; echo daemonised >&2"]).run()
        }
        XCTAssertEqual(result.status, 0)
        XCTAssertEqual(result.stderr, "daemonised\n")
        XCTAssertLessThan(Date().timeIntervalSince(started), 10, "returned when the child exited, not when the grandchild did")
        if let grandchild = pid_t(result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)) { kill(grandchild, SIGKILL) }
    }

    /// The suite starts clusters, brokers and hundreds of CLI runs; here, 300 children at once, each with its own
    /// exit status, and some leaving a grandchild behind.
    func testManyChildrenStartedAtOnceAreEachSeenToExitWithTheirOwnStatus() async throws {
        let statuses = try await within(120) {
            try await withThrowingTaskGroup(of: (Int, Int32).self) { group in
                for i in 0..<300 {
                    group.addTask {
                        let script = i % 10 == 0 ? "sleep 5 & exit \(i % 256)" : "exit \(i % 256)"
                        return (i, try await ChildProcess("/bin/sh", ["-c", script]).run().status)
                    }
                }
                var seen: [Int: Int32] = [:]
                for try await (i, status) in group { seen[i] = status }
                return seen
            }
        }
        XCTAssertEqual(statuses.count, 300)
        for (i, status) in statuses { XCTAssertEqual(status, Int32(i % 256), "child \(i)") }
    }

    func testTheChildInheritsNoDescriptorBeyondItsStandardOnes() async throws {
        // A descriptor of this process without close-on-exec, as a library might leave one.
        let leaked = dup2(open("/dev/null", O_RDONLY), 200)
        XCTAssertEqual(leaked, 200)
        defer { close(leaked) }
        let listing = try await ChildProcess("/bin/ls", ["/proc/self/fd"]).run()
        let descriptors = Set(listing.stdout.split(separator: "\n").map(String.init))
        XCTAssertFalse(descriptors.contains("200"), "inherited: \(descriptors.sorted())")
        XCTAssertTrue(descriptors.isSuperset(of: ["0", "1", "2"]), "\(descriptors.sorted())")
    }

    func testABackgroundProcessIsSignalledAndReportsHowItEnded() async throws {
        let running = try await ChildProcess("/bin/sleep", ["30"]).start()
        let stillRunning = try await running.exited()
        XCTAssertNil(stillRunning)
        running.signal(SIGTERM)
        let ended = try await within(20) { try await running.finish() }
        XCTAssertEqual(ended, ChildProcess.Outcome(status: 128 + SIGTERM, stdout: "", stderr: ""))
        let again = try await running.exited()
        XCTAssertEqual(again, ended, "asking again gives the same outcome")
    }

    func testABackgroundProcessThatEndsByItselfIsSeenWithoutASignal() async throws {
        let running = try await ChildProcess("/bin/sh", ["-c", "echo bye >&2; exit 7"]).start()
        var outcome: ChildProcess.Outcome?
        for _ in 0..<200 where outcome == nil {
            outcome = try await running.exited()
            if outcome == nil { try await Task.sleep(for: .milliseconds(50)) }
        }
        XCTAssertEqual(outcome, ChildProcess.Outcome(status: 7, stdout: "", stderr: "bye\n"))
    }

    func testAPromptIsAnsweredFromWhatWasShown() async throws {
        let script = #"echo "code for 42:" >&2; read answer; echo "got $answer"; echo done >&2"#
        let result = try await ChildProcess("/bin/sh", ["-c", script]).run(answering: "code for") { shown in
            String(shown.split(separator: " ").last!.dropLast(2))
        }
        XCTAssertEqual(result, ChildProcess.Outcome(status: 0, stdout: "got 42\n", stderr: "code for 42:\ndone\n"))
    }
}
