import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Files that hold secrets (the master key, database passwords, API tokens) are created with mode 0600 in
/// the same system call that creates them: never world-readable for an instant, never through a symlink
/// planted at the path, never over an existing file.
public enum SecretFile {
    public struct Failure: Error, CustomStringConvertible {
        public let path: String
        public let reason: String
        public var description: String { "\(path): \(reason)" }
    }

    /// Creates `path` (which must not exist) with mode 0600 and writes `contents`.
    public static func create(atPath path: String, contents: [UInt8]) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw Failure(path: path, reason: String(cString: strerror(errno))) }
        defer { close(fd) }
        // The umask may have narrowed the mode further; it can never have widened it. Make it exact.
        guard fchmod(fd, 0o600) == 0 else { throw Failure(path: path, reason: String(cString: strerror(errno))) }
        var written = 0
        while written < contents.count {
            let n = contents[written...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else {
                unlink(path)
                throw Failure(path: path, reason: String(cString: strerror(errno)))
            }
            written += n
        }
        guard fsync(fd) == 0 else { throw Failure(path: path, reason: String(cString: strerror(errno))) }
    }

    /// Replaces `path` with a new 0600 file holding `contents`: written beside it, then renamed over it, so
    /// a reader sees the old file or the new one, never a half-written or readable one.
    public static func replace(atPath path: String, contents: [UInt8]) throws {
        let temporary = path + ".tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try create(atPath: temporary, contents: contents)
        guard rename(temporary, path) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(temporary)
            throw Failure(path: path, reason: reason)
        }
    }
}
