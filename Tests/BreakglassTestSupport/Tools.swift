import BreakglassCore
import Foundation

#if canImport(Glibc)
import Glibc
#endif

public struct CommandResult: Sendable {
    public let status: Int32
    public let stdout: String
    public let stderr: String

    public init(status: Int32, stdout: String, stderr: String) {
        self.status = status
        self.stdout = stdout
        self.stderr = stderr
    }
}

/// Runs the project's own executables and independent tools (oathtool) as separate processes.
public enum Tools {
    public static var binDirectory: URL { TestDatabase.repositoryRoot.appendingPathComponent(".build/debug") }

    public static func run(_ executable: String, _ arguments: [String], environment: [String: String] = [:],
                           stdin: String? = nil) throws -> CommandResult {
        let input = Subprocess.temporaryFile(contents: stdin ?? "")
        defer { unlink(input) }
        let inFD = open(input, O_RDONLY)
        defer { close(inFD) }
        let process = try Subprocess(executable, arguments, environment: mergedEnvironment(environment), stdin: inFD, stderr: nil)
        return process.finish(stderrPrefix: "")
    }

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
                           extra: [String: String] = [:]) throws -> CommandResult {
        try run(binDirectory.appendingPathComponent("breakglass").path, arguments,
                environment: ["BREAKGLASS_URL": server.baseURL, "BREAKGLASS_CREDENTIALS": credentials].merging(extra) { $1 }, stdin: stdin)
    }

    /// The TOTP code oathtool (an independent RFC 6238 implementation) computes for `secret` at `date`.
    public static func oathtool(secret: String, at date: Date) throws -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyy-MM-dd HH:mm:ss 'UTC'"
        let result = try run("/usr/bin/oathtool", ["--totp", "-b", "--now", formatter.string(from: date), secret])
        guard result.status == 0 else {
            throw BreakglassError(.internalFailure, "oathtool", "oathtool failed: \(result.stderr)")
        }
        return result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }
}

extension Tools {
    /// Runs a command that prints something on stderr before it wants input: waits until stderr contains
    /// `marker` on a full line, lets `answer` compute the input from what was printed, then finishes.
    public static func interactive(_ executable: String, _ arguments: [String], environment: [String: String],
                                   marker: String, answer: (String) throws -> String) throws -> CommandResult {
        var inPipe: [Int32] = [0, 0], errPipe: [Int32] = [0, 0]
        guard pipe(&inPipe) == 0, pipe(&errPipe) == 0 else { throw BreakglassError(.internalFailure, "pipe", "pipe() failed") }
        let process = try Subprocess(executable, arguments, environment: mergedEnvironment(environment), stdin: inPipe[0], stderr: errPipe[1],
                                     closeInChild: [inPipe[1], errPipe[0]])
        close(inPipe[0])
        close(errPipe[1])
        var seen = [UInt8]()
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = read(errPipe[0], &buffer, buffer.count)
            if n <= 0 { break }
            seen += buffer[0..<n]
            let text = String(decoding: seen, as: UTF8.self)
            if let range = text.range(of: marker), text[range.upperBound...].contains("\n") { break }
        }
        let shown = String(decoding: seen, as: UTF8.self)
        let reply = Array((try answer(shown) + "\n").utf8)
        _ = reply.withUnsafeBytes { write(inPipe[1], $0.baseAddress, $0.count) }
        close(inPipe[1])
        var rest = [UInt8]()
        while true {
            let n = read(errPipe[0], &buffer, buffer.count)
            if n <= 0 { break }
            rest += buffer[0..<n]
        }
        close(errPipe[0])
        return process.finish(stderrPrefix: shown + String(decoding: rest, as: UTF8.self))
    }
}

/// posix_spawn and waitpid: Foundation's `Process` on Linux can miss a child's exit when many are started.
public struct Subprocess: Sendable {
    public let pid: pid_t
    let stdoutPath: String
    let stderrPath: String?

    init(_ executable: String, _ arguments: [String], environment: [String: String], stdin: Int32, stderr: Int32?,
         closeInChild: [Int32] = []) throws {
        stdoutPath = Self.temporaryFile(contents: "")
        stderrPath = stderr == nil ? Self.temporaryFile(contents: "") : nil
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, stdin, 0)
        posix_spawn_file_actions_addopen(&actions, 1, stdoutPath, O_WRONLY | O_TRUNC, 0)
        if let stderr {
            posix_spawn_file_actions_adddup2(&actions, stderr, 2)
        } else {
            posix_spawn_file_actions_addopen(&actions, 2, stderrPath!, O_WRONLY | O_TRUNC, 0)
        }
        for fd in closeInChild { posix_spawn_file_actions_addclose(&actions, fd) }
        let argv = [executable] + arguments
        var cArgs = argv.map { strdup($0) } + [nil]
        var cEnv = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            cArgs.forEach { free($0) }
            cEnv.forEach { free($0) }
        }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, executable, &actions, nil, &cArgs, &cEnv)
        guard rc == 0 else {
            throw BreakglassError(.internalFailure, "spawn", "cannot run \(executable): \(String(cString: strerror(rc)))")
        }
        self.pid = pid
    }

    /// Starts a long-running process (a broker) in the background.
    public static func start(_ executable: String, _ arguments: [String], environment: [String: String]) throws -> Subprocess {
        let input = open("/dev/null", O_RDONLY)
        defer { close(input) }
        return try Subprocess(executable, arguments, environment: Tools.mergedEnvironment(environment), stdin: input, stderr: nil)
    }

    public func kill(_ signal: Int32) { _ = Glibc.kill(pid, signal) }

    public func finish(stderrPrefix: String = "") -> CommandResult {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
        return result(status: status, stderrPrefix: stderrPrefix)
    }

    /// The result if the process has exited, without waiting; nil while it runs.
    public func exited() -> CommandResult? {
        var status: Int32 = 0
        var reaped: pid_t
        repeat { reaped = waitpid(pid, &status, WNOHANG) } while reaped == -1 && errno == EINTR
        return reaped == pid ? result(status: status, stderrPrefix: "") : nil
    }

    private func result(status: Int32, stderrPrefix: String) -> CommandResult {
        let code: Int32 = (status & 0x7F) == 0 ? (status >> 8) & 0xFF : 128 + (status & 0x7F)
        defer {
            unlink(stdoutPath)
            if let stderrPath { unlink(stderrPath) }
        }
        let out = (try? String(contentsOfFile: stdoutPath, encoding: .utf8)) ?? ""
        let err = stderrPath.flatMap { try? String(contentsOfFile: $0, encoding: .utf8) } ?? ""
        return CommandResult(status: code, stdout: out, stderr: stderrPrefix + err)
    }

    static func temporaryFile(contents: String) -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("bg-\(UUID().uuidString)").path
        _ = FileManager.default.createFile(atPath: path, contents: Data(contents.utf8), attributes: [.posixPermissions: 0o600])
        return path
    }
}
