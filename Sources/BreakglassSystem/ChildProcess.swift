import Subprocess

#if canImport(System)
import System
#else
import SystemPackage
#endif

/// The one way breakglass runs another program: PostgreSQL's tools for the embedded cluster, and in the tests the CLI,
/// the broker, psql and oathtool. Built on swift-subprocess.
///
/// Foundation's `Process` is not used: on Linux it could miss the exit of a child when many were started, or when
/// the child's own child (the postgres that `pg_ctl start` leaves running) held on. swift-subprocess watches each
/// child through its own pidfd, which neither can confuse (BreakglassSystemTests start hundreds at once, and
/// children that leave a grandchild behind). The child gets only descriptors 0, 1 and 2: swift-subprocess closes
/// every other one it would inherit.
///
/// Output goes to unlinked temporary files (`CaptureFile`), never pipes: a daemonised grandchild inherits the
/// descriptors, and a file has no reader to keep waiting for it and no size to outgrow.
public struct ChildProcess: Sendable {
    public struct Outcome: Sendable, Equatable {
        /// The exit code, or 128 + the number of the signal that ended the process (as a shell reports it).
        public let status: Int32
        public let stdout: String
        public let stderr: String

        public init(status: Int32, stdout: String, stderr: String) {
            self.status = status
            self.stdout = stdout
            self.stderr = stderr
        }
    }

    /// The program could not be started (missing, not executable, no descriptors or temporary files left).
    public struct Failure: Error, CustomStringConvertible {
        public let description: String

        init(_ executable: String, _ reason: String) { description = "cannot run \(executable): \(reason)" }
    }

    public let executable: String
    public let arguments: [String]
    /// The whole environment the child gets; nil gives it this process's own.
    public let environment: [String: String]?

    public init(_ executable: String, _ arguments: [String] = [], environment: [String: String]? = nil) {
        self.executable = executable
        self.arguments = arguments
        self.environment = environment
    }

    /// What the program reads on standard input.
    public enum Input: Sendable {
        /// /dev/null.
        case none
        /// Through an unlinked temporary file: read or not, at the program's pace.
        case text(String)
        /// Through a pipe, for a secret: it never reaches a disk. The program must read it all (a pipe holds 64 KiB).
        case secret(String)
    }

    /// Runs the program to its end. With `mergingErrorIntoOutput`, standard error goes into `stdout` too, in the order
    /// written.
    public func run(input: Input = .none, mergingErrorIntoOutput: Bool = false) async throws -> Outcome {
        let stdout = try CaptureFile(for: executable), stderr = try CaptureFile(for: executable)
        defer {
            stdout.close()
            stderr.close()
        }
        let errors = mergingErrorIntoOutput ? nil : stderr
        let status: TerminationStatus
        switch input {
        case .none:
            status = try await spawn(input: .none, stdout: stdout, stderr: errors)
        case .text(let text):
            let source = try CaptureFile(for: executable, contents: text)
            defer { source.close() }
            status = try await spawn(input: .fileDescriptor(source.descriptor, closeAfterSpawningProcess: false), stdout: stdout, stderr: errors)
        case .secret(let text):
            status = try await spawn(input: .array(Array(text.utf8)), stdout: stdout, stderr: errors)
        }
        return Outcome(status: Self.code(status), stdout: try stdout.text(), stderr: try stderr.text())
    }

    private func spawn<Input: InputProtocol>(input: Input, stdout: CaptureFile, stderr: CaptureFile?) async throws -> TerminationStatus {
        let output = FileDescriptorOutput.fileDescriptor(stdout.descriptor, closeAfterSpawningProcess: false)
        do {
            if let stderr {
                return try await Subprocess.run(configuration, input: input, output: output,
                                                error: .fileDescriptor(stderr.descriptor, closeAfterSpawningProcess: false)).terminationStatus
            }
            return try await Subprocess.run(configuration, input: input, output: output, error: .combinedWithOutput).terminationStatus
        } catch let error as SubprocessError {
            throw Failure(executable, "\(error)")
        }
    }

    /// Starts the program in the background (standard input /dev/null) and returns at once: for servers a test
    /// starts, signals and stops.
    public func start() async throws -> RunningProcess {
        try await RunningProcess.start(self)
    }

    /// Runs a program that asks for something on standard error before it reads standard input (a TOTP prompt):
    /// waits until standard error holds `marker` on a complete line, writes what `answer` makes of everything
    /// shown so far (and a newline), then runs it to its end.
    public func run(answering marker: String, with answer: (String) async throws -> String) async throws -> Outcome {
        let stdout = try CaptureFile(for: executable)
        defer { stdout.close() }
        do {
            let result = try await Subprocess.run(
                configuration, input: .inputWriter, output: .fileDescriptor(stdout.descriptor, closeAfterSpawningProcess: false),
                error: .sequence
            ) { execution in
                var shown = [UInt8]()
                var answered = false
                for try await chunk in execution.standardError {
                    chunk.withUnsafeBytes { shown += $0 }
                    guard !answered else { continue }
                    let text = String(decoding: shown, as: UTF8.self)
                    if let range = text.range(of: marker), text[range.upperBound...].contains("\n") {
                        answered = true
                        let reply = try await answer(text) + "\n"
                        // A program that stopped reading has ended or is ending: its status and what it printed tell
                        // the caller what happened, not a broken pipe here.
                        _ = try? await execution.standardInputWriter.write(reply)
                        try? await execution.standardInputWriter.finish()
                    }
                }
                // A program that ended without asking still gets its standard input closed.
                if !answered { try? await execution.standardInputWriter.finish() }
                return String(decoding: shown, as: UTF8.self)
            }
            return Outcome(status: Self.code(result.terminationStatus), stdout: try stdout.text(), stderr: result.closureResult)
        } catch let error as SubprocessError {
            throw Failure(executable, "\(error)")
        }
    }

    var configuration: Configuration {
        let given = environment.map { Dictionary(uniqueKeysWithValues: $0.map { (Environment.Key(stringLiteral: $0.key), $0.value) }) }
        return Configuration(executable: .path(FilePath(executable)), arguments: Arguments(arguments),
                             environment: given.map { .custom($0) } ?? .inherit)
    }

    static func code(_ status: TerminationStatus) -> Int32 {
        switch status {
        case .exited(let code): return code
        case .signaled(let signal): return 128 + signal
        }
    }
}
