import BreakglassCore
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Runs PostgreSQL's own tools. PostgreSQL refuses to run as root, so as root they run as an
/// unprivileged account through `runuser`.
///
/// Uses posix_spawn and waitpid directly: Foundation's `Process` on Linux can miss the exit of a child
/// whose own child (the daemonised postgres that `pg_ctl start` leaves behind) keeps running.
struct ProcessRunner: Sendable {
    let runAs: String?

    @discardableResult
    func run(_ executable: String, _ arguments: [String], allowFailure: Bool = false) throws -> (status: Int32, output: String) {
        let argv = runAs.map { ["/usr/sbin/runuser", "-u", $0, "--", executable] + arguments } ?? [executable] + arguments
        // Output goes to a file, not a pipe: the daemonised server inherits the descriptors and would keep a
        // pipe open for ever.
        let capture = FileManager.default.temporaryDirectory.appendingPathComponent("breakglass-\(UUID().uuidString).out").path
        defer { unlink(capture) }

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, capture, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)

        var cArgs = argv.map { strdup($0) } + [nil]
        defer { cArgs.forEach { free($0) } }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, argv[0], &actions, nil, &cArgs, environ)
        guard spawned == 0 else {
            throw BreakglassError(.internalFailure, "embedded_postgres", "cannot run \(argv[0]): \(String(cString: strerror(spawned)))")
        }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
        let exitCode: Int32 = (status & 0x7F) == 0 ? (status >> 8) & 0xFF : 128 + (status & 0x7F)
        let output = (try? String(contentsOfFile: capture, encoding: .utf8)) ?? ""
        if exitCode != 0 && !allowFailure {
            let name = (executable as NSString).lastPathComponent
            throw BreakglassError(.internalFailure, "embedded_postgres", "\(name) failed (exit \(exitCode)): \(output.suffix(600))")
        }
        return (exitCode, output)
    }
}
