import BreakglassCore
import BreakglassSystem
import Foundation

public typealias CommandResult = ChildProcess.Outcome

/// Runs the project's own executables and independent tools (oathtool) as separate processes, through the one
/// runner the broker uses too (`ChildProcess`).
public enum Tools {
    public static var binDirectory: URL { TestDatabase.repositoryRoot.appendingPathComponent(".build/debug") }

    public static func run(_ executable: String, _ arguments: [String], environment: [String: String] = [:],
                           stdin: String? = nil) async throws -> CommandResult {
        try await ChildProcess(executable, arguments, environment: mergedEnvironment(environment)).run(input: stdin.map { .text($0) } ?? .none)
    }

    /// Starts a long-running process (a broker, a psql that waits) in the background.
    public static func start(_ executable: String, _ arguments: [String], environment: [String: String]) async throws -> RunningProcess {
        try await ChildProcess(executable, arguments, environment: mergedEnvironment(environment)).start()
    }

    /// The test's own environment without what would point a child at another server or database.
    static func mergedEnvironment(_ extra: [String: String]) -> [String: String] {
        var env = ProcessInfo.processInfo.environment
        for key in ["BREAKGLASS_URL", "BREAKGLASS_TOKEN", "DATABASE_URL", "PGHOST", "PGPORT", "PGUSER", "PGPASSWORD", "PGDATABASE"] {
            env.removeValue(forKey: key)
        }
        env.merge(extra) { $1 }
        return env
    }

    /// The `breakglass` CLI against a server, with its own credentials file.
    public static func cli(_ arguments: [String], server: TestServer, credentials: String, stdin: String? = nil,
                           extra: [String: String] = [:]) async throws -> CommandResult {
        try await run(binDirectory.appendingPathComponent("breakglass").path, arguments,
                      environment: ["BREAKGLASS_URL": server.baseURL, "BREAKGLASS_CREDENTIALS": credentials].merging(extra) { $1 }, stdin: stdin)
    }

    /// The TOTP code oathtool (an independent RFC 6238 implementation) computes for `secret` at `date`.
    public static func oathtool(secret: String, at date: Date) async throws -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyy-MM-dd HH:mm:ss 'UTC'"
        let result = try await run("/usr/bin/oathtool", ["--totp", "-b", "--now", formatter.string(from: date), secret])
        guard result.status == 0 else {
            throw BreakglassError(.internalFailure, "oathtool", "oathtool failed: \(result.stderr)")
        }
        return result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Runs a command that prints something on stderr before it wants input: waits until stderr contains
    /// `marker` on a full line, lets `answer` compute the input from what was printed, then finishes.
    public static func interactive(_ executable: String, _ arguments: [String], environment: [String: String],
                                   marker: String, answer: (String) async throws -> String) async throws -> CommandResult {
        try await ChildProcess(executable, arguments, environment: mergedEnvironment(environment)).run(answering: marker, with: answer)
    }
}
