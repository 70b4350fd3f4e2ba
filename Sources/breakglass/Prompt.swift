import Foundation

#if canImport(Glibc)
import Glibc
#endif

enum Prompt {
    /// Reads a TOTP code from the terminal without echo; from stdin when it is not a terminal (scripts).
    static func secretLine(_ prompt: String) throws -> String {
        let interactive = isatty(STDIN_FILENO) == 1
        if interactive {
            FileHandle.standardError.write(Data(prompt.utf8))
        }
        var original = termios()
        if interactive {
            tcgetattr(STDIN_FILENO, &original)
            var silent = original
            silent.c_lflag &= ~tcflag_t(ECHO)
            tcsetattr(STDIN_FILENO, TCSAFLUSH, &silent)
        }
        defer {
            if interactive {
                tcsetattr(STDIN_FILENO, TCSAFLUSH, &original)
                FileHandle.standardError.write(Data("\n".utf8))
            }
        }
        guard let line = readLine(strippingNewline: true), !line.trimmingCharacters(in: .whitespaces).isEmpty else {
            throw CLIError(kind: .usage, code: "totp_missing", message: "no TOTP code given (type it at the prompt or pass --totp)")
        }
        return line.trimmingCharacters(in: .whitespaces)
    }

    static func totp(_ given: String?) throws -> String {
        if let given { return given }
        return try secretLine("TOTP code: ")
    }
}
