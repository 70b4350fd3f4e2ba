import Foundation

#if canImport(System)
import System
#else
import SystemPackage
#endif

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An unlinked temporary file for a child's standard input or output: nothing is left on disk whatever happens, and
/// its contents are read back by position, whatever offset the child left on the descriptor it shared.
struct CaptureFile: Sendable {
    let descriptor: FileDescriptor

    /// `executable` names the program it is for, in an error.
    init(for executable: String, contents: String = "") throws {
        var template = Array((FileManager.default.temporaryDirectory.path + "/breakglass-XXXXXX").utf8CString)
        let fd = mkstemp(&template)
        guard fd >= 0 else { throw ChildProcess.Failure(executable, "no temporary file: \(String(cString: strerror(errno)))") }
        unlink(template)
        descriptor = FileDescriptor(rawValue: fd)
        // A child gets it only as one of its standard descriptors (swift-subprocess closes the others anyway).
        _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        var written = 0
        let bytes = Array(contents.utf8)
        while written < bytes.count {
            let n = bytes[written...].withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, off_t(written)) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else {
                close()
                throw ChildProcess.Failure(executable, "cannot write its input to a temporary file: \(String(cString: strerror(errno)))")
            }
            written += n
        }
    }

    func text() throws -> String {
        var bytes = [UInt8]()
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = buffer.withUnsafeMutableBytes { pread(descriptor.rawValue, $0.baseAddress, $0.count, off_t(bytes.count)) }
            if n < 0 && errno == EINTR { continue }
            guard n >= 0 else { throw CaptureFailure(reason: String(cString: strerror(errno))) }
            if n == 0 { return String(decoding: bytes, as: UTF8.self) }
            bytes += buffer[0..<n]
        }
    }

    func close() { try? descriptor.close() }
}

/// What a child printed could not be read back from its temporary file.
struct CaptureFailure: Error, CustomStringConvertible {
    let reason: String
    var description: String { "cannot read a child's output back: \(reason)" }
}
