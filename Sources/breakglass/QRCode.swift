import Foundation

/// The enrolment URI as a QR code for the terminal, drawn by `qrencode` (Debian's qrencode package) when it
/// is installed; nil otherwise, and the URI and secret are shown as text alone.
enum QRCode {
    static func render(_ text: String) -> String? {
        let candidates = ["/usr/bin/qrencode", "/usr/local/bin/qrencode"]
        guard let tool = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else { return nil }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: tool)
        // The URI holds the secret: it goes through a pipe, never the command line (visible in `ps`).
        process.arguments = ["-t", "UTF8", "-m", "2", "-l", "M"]
        let input = Pipe(), output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        do {
            try process.run()
        } catch {
            return nil
        }
        input.fileHandleForWriting.write(Data(text.utf8))
        try? input.fileHandleForWriting.close()
        let drawn = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0, !drawn.isEmpty else { return nil }
        return String(decoding: drawn, as: UTF8.self)
    }
}
