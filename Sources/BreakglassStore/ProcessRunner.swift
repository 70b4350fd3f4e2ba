import BreakglassCore
import Foundation

/// Runs PostgreSQL's own tools. PostgreSQL refuses to run as root, so as root they run as an
/// unprivileged account through `runuser`.
struct ProcessRunner: Sendable {
    let runAs: String?

    @discardableResult
    func run(_ executable: String, _ arguments: [String], allowFailure: Bool = false) throws -> (status: Int32, output: String) {
        let process = Process()
        if let runAs {
            process.executableURL = URL(fileURLWithPath: "/usr/sbin/runuser")
            process.arguments = ["-u", runAs, "--", executable] + arguments
        } else {
            process.executableURL = URL(fileURLWithPath: executable)
            process.arguments = arguments
        }
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        process.standardInput = FileHandle.nullDevice
        do {
            try process.run()
        } catch {
            throw BreakglassError(.internalFailure, "embedded_postgres", "cannot run \(executable): \(error.localizedDescription)")
        }
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let output = String(decoding: data, as: UTF8.self)
        if process.terminationStatus != 0 && !allowFailure {
            let name = (executable as NSString).lastPathComponent
            throw BreakglassError(.internalFailure, "embedded_postgres",
                                  "\(name) failed (exit \(process.terminationStatus)): \(output.suffix(600))")
        }
        return (process.terminationStatus, output)
    }
}
