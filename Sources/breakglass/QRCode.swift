import BreakglassSystem
import Foundation

/// The enrolment URI as a QR code for the terminal, drawn by `qrencode` (Debian's qrencode package) when it
/// is installed; nil otherwise, and the URI and secret are shown as text alone.
enum QRCode {
    static func render(_ text: String) async -> String? {
        let candidates = ["/usr/bin/qrencode", "/usr/local/bin/qrencode"]
        guard let tool = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else { return nil }
        // The URI holds the secret: it goes through a pipe, never the command line (visible in `ps`) or a file.
        guard let drawn = try? await ChildProcess(tool, ["-t", "UTF8", "-m", "2", "-l", "M"]).run(input: .secret(text)),
              drawn.status == 0, !drawn.stdout.isEmpty else { return nil }
        return drawn.stdout
    }
}
