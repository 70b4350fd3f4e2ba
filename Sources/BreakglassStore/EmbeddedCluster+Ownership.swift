import BreakglassCore
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Held by the `breakglassd serve` process that owns the embedded cluster, for as long as it runs. The
/// kernel releases it when that process dies, even by SIGKILL, so the next `serve` adopts the cluster its
/// predecessor left running and stops it on its own exit.
public final class ClusterOwnership: Sendable {
    let descriptor: Int32
    init(descriptor: Int32) { self.descriptor = descriptor }
    deinit { close(descriptor) }
}

extension EmbeddedCluster {
    var ownerLockFile: URL { dataDirectory.appendingPathComponent("serve.lock") }

    /// Takes the owner's lock, or fails naming the data directory another `serve` is using.
    public func claimOwnership() throws -> ClusterOwnership {
        try prepareDataDirectory()
        // O_CLOEXEC: the postmaster that pg_ctl starts must not inherit the lock and hold it for ever.
        let fd = open(ownerLockFile.path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            throw BreakglassError(.internalFailure, "embedded_postgres", "cannot open \(ownerLockFile.path): \(String(cString: strerror(errno)))")
        }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            close(fd)
            throw BreakglassError(.unavailable, "embedded_in_use",
                                  "another breakglassd serve is using the embedded cluster in \(dataDirectory.path); stop it first")
        }
        return ClusterOwnership(descriptor: fd)
    }

    /// Whether a `serve` process owns the cluster now (a short-lived command then leaves it running).
    public var isOwned: Bool {
        let fd = open(ownerLockFile.path, O_RDWR | O_CLOEXEC)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else { return true }
        flock(fd, LOCK_UN)
        return false
    }

    /// A `postmaster.pid` whose process is gone (or is now another program, or a zombie nobody reaped)
    /// would make pg_ctl believe the server runs, or make PostgreSQL refuse to start. Removes it.
    func removeStalePidFile() {
        let file = pgData.appendingPathComponent("postmaster.pid")
        guard let text = try? String(contentsOf: file, encoding: .utf8),
              let pid = text.split(separator: "\n").first.flatMap({ Int32($0.trimmingCharacters(in: .whitespaces)) }) else { return }
        guard !Self.isLivePostgres(pid) else { return }
        logger.notice("removing a stale postmaster.pid left by a PostgreSQL that did not stop cleanly", metadata: ["pg.pid": "\(pid)"])
        try? FileManager.default.removeItem(at: file)
    }

    /// From `/proc/PID/stat`: "PID (COMM) STATE …".
    static func isLivePostgres(_ pid: Int32) -> Bool {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let open = stat.firstIndex(of: "("), let close = stat.lastIndex(of: ")") else { return false }
        let command = stat[stat.index(after: open)..<close]
        let state = stat[stat.index(after: close)...].trimmingCharacters(in: .whitespaces).first
        return command == "postgres" && state != "Z" && state != "X"
    }
}
