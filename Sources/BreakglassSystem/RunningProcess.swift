import Subprocess

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A program started with `ChildProcess.start()`. It stays this process's child, unreaped, until `finish()` (or
/// `exited()` finds it ended), so its pid cannot go to another process while it may still be signalled. Dropped
/// without either, it is reaped whenever it exits.
public final class RunningProcess: Sendable {
    let pid: pid_t
    private let signals: AsyncStream<Int32>.Continuation
    private let outcome: Task<ChildProcess.Outcome, any Error>

    private init(pid: pid_t, signals: AsyncStream<Int32>.Continuation, outcome: Task<ChildProcess.Outcome, any Error>) {
        self.pid = pid
        self.signals = signals
        self.outcome = outcome
    }

    static func start(_ child: ChildProcess) async throws -> RunningProcess {
        let (signals, control) = AsyncStream<Int32>.makeStream()
        let (started, announce) = AsyncStream<pid_t>.makeStream()
        let outcome = Task {
            defer { announce.finish() }
            let stdout = try CaptureFile(for: child.executable), stderr = try CaptureFile(for: child.executable)
            defer {
                stdout.close()
                stderr.close()
            }
            do {
                let result = try await Subprocess.run(
                    child.configuration, input: .none, output: .fileDescriptor(stdout.descriptor, closeAfterSpawningProcess: false),
                    error: .fileDescriptor(stderr.descriptor, closeAfterSpawningProcess: false)
                ) { execution in
                    announce.yield(execution.processIdentifier.value)
                    announce.finish()
                    // Signals go through the execution (a pidfd), and the body lasts until `finish()`: the child is
                    // reaped only after it, so `exited()` can look without reaping.
                    for await signal in signals { try? execution.send(signal: Signal(rawValue: signal)) }
                }
                return ChildProcess.Outcome(status: ChildProcess.code(result.terminationStatus), stdout: try stdout.text(),
                                            stderr: try stderr.text())
            } catch let error as SubprocessError {
                throw ChildProcess.Failure(child.executable, "\(error)")
            }
        }
        for await pid in started { return RunningProcess(pid: pid, signals: control, outcome: outcome) }
        // Never started: the task holds the reason.
        _ = try await outcome.value
        throw ChildProcess.Failure(child.executable, "it did not start")
    }

    public func signal(_ number: Int32) { signals.yield(number) }

    /// Its outcome once it has exited (then it is reaped), nil while it runs.
    public func exited() async throws -> ChildProcess.Outcome? {
        hasExited() ? try await finish() : nil
    }

    /// Whether it has exited, without waiting and without reaping it.
    private func hasExited() -> Bool {
        var info = siginfo_t()
        while true {
            if waitid(P_PID, id_t(pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0 {
                // Zeroed while it runs (WNOHANG), its pid once it has exited.
                #if canImport(Glibc)
                return info._sifields._sigchld.si_pid == pid
                #else
                return info.si_pid == pid
                #endif
            }
            // ECHILD: no longer a child of ours to wait for, so not running either.
            if errno != EINTR { return true }
        }
    }

    /// Waits for it to exit (after whatever signals were sent) and returns what it printed.
    public func finish() async throws -> ChildProcess.Outcome {
        signals.finish()
        return try await outcome.value
    }

    /// Sends `signal` and lets it go without waiting, for a `defer`: it is reaped when it exits.
    public func stop(_ number: Int32) {
        signals.yield(number)
        signals.finish()
    }

    deinit { signals.finish() }
}
