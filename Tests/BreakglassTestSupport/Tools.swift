import BreakglassCore
import Foundation

public struct CommandResult: Sendable {
    public let status: Int32
    public let stdout: String
    public let stderr: String
}

/// Runs the project's own executables and independent tools (oathtool) as separate processes.
public enum Tools {
    public static var binDirectory: URL { TestDatabase.repositoryRoot.appendingPathComponent(".build/debug") }

    public static func run(_ executable: String, _ arguments: [String], environment: [String: String] = [:],
                           stdin: String? = nil) throws -> CommandResult {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        for key in ["BREAKGLASS_URL", "BREAKGLASS_TOKEN", "DATABASE_URL", "PGHOST", "PGPORT", "PGUSER", "PGPASSWORD", "PGDATABASE"] {
            env.removeValue(forKey: key)
        }
        env.merge(environment) { $1 }
        process.environment = env
        let dir = FileManager.default.temporaryDirectory
        let out = dir.appendingPathComponent("bg-out-\(UUID().uuidString)")
        let err = dir.appendingPathComponent("bg-err-\(UUID().uuidString)")
        _ = FileManager.default.createFile(atPath: out.path, contents: nil)
        _ = FileManager.default.createFile(atPath: err.path, contents: nil)
        defer {
            try? FileManager.default.removeItem(at: out)
            try? FileManager.default.removeItem(at: err)
        }
        process.standardOutput = try FileHandle(forWritingTo: out)
        process.standardError = try FileHandle(forWritingTo: err)
        let input = Pipe()
        process.standardInput = input
        try process.run()
        if let stdin { input.fileHandleForWriting.write(Data(stdin.utf8)) }
        try input.fileHandleForWriting.close()
        process.waitUntilExit()
        return CommandResult(status: process.terminationStatus,
                             stdout: (try? String(contentsOf: out, encoding: .utf8)) ?? "",
                             stderr: (try? String(contentsOf: err, encoding: .utf8)) ?? "")
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
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        env.merge(environment) { $1 }
        process.environment = env
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("bg-out-\(UUID().uuidString)")
        _ = FileManager.default.createFile(atPath: out.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: out) }
        process.standardOutput = try FileHandle(forWritingTo: out)
        let errPipe = Pipe(), inPipe = Pipe()
        process.standardError = errPipe
        process.standardInput = inPipe
        try process.run()
        var seen = Data()
        while true {
            let chunk = errPipe.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            seen += chunk
            let text = String(decoding: seen, as: UTF8.self)
            if let range = text.range(of: marker), text[range.upperBound...].contains("\n") { break }
        }
        let shown = String(decoding: seen, as: UTF8.self)
        inPipe.fileHandleForWriting.write(Data((try answer(shown) + "\n").utf8))
        try inPipe.fileHandleForWriting.close()
        let rest = errPipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return CommandResult(status: process.terminationStatus, stdout: (try? String(contentsOf: out, encoding: .utf8)) ?? "",
                             stderr: shown + String(decoding: rest, as: UTF8.self))
    }
}
