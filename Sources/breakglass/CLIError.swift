import ArgumentParser
import BreakglassAPI
import Foundation

/// A failure the user should read: one line on stderr and an exit code that says which kind it was.
struct CLIError: Error {
    enum Kind {
        case usage, refused, unavailable, unexpected

        var exitCode: Int32 {
            switch self {
            case .usage: return 64
            case .refused: return 77
            case .unavailable: return 69
            case .unexpected: return 70
            }
        }
    }

    let kind: Kind
    let code: String
    let message: String

    /// Maps a broker error response by status.
    static func fromServer(status: Int, code: String, message: String) -> CLIError {
        switch status {
        case 400, 413: return CLIError(kind: .usage, code: code, message: message)
        case 401, 403, 404, 409, 423: return CLIError(kind: .refused, code: code, message: message)
        case 500: return CLIError(kind: .unexpected, code: code, message: message)
        default: return CLIError(kind: .unavailable, code: code, message: message)
        }
    }
}

/// A warning on stderr, in the form errors take in the same mode: a `breakglass: warning: …` line, or
/// with `--json` one JSON object, `{"warning":{"code","message"}}`, so stderr stays machine-readable.
func warn(json: Bool, code: String, message: String) {
    if json {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        if let data = try? encoder.encode(["warning": ["code": code, "message": message]]) {
            FileHandle.standardError.write(data + Data("\n".utf8))
        }
    } else {
        FileHandle.standardError.write(Data("breakglass: warning: \(message)\n".utf8))
    }
}

/// Runs a command body, printing failures as `breakglass: message` and exiting with the kind's code.
func runReportingErrors(json: Bool, _ body: () async throws -> Void) async throws {
    do {
        try await body()
    } catch let error as CLIError {
        if json {
            // The broker's own error shape, so a script reads a refusal the same way from either.
            let payload = Components.Schemas.ErrorResponse(error: .init(code: error.code, message: error.message))
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            if let data = try? encoder.encode(payload) {
                FileHandle.standardError.write(data + Data("\n".utf8))
            }
        } else {
            FileHandle.standardError.write(Data("breakglass: \(error.message)\n".utf8))
        }
        throw ExitCode(error.kind.exitCode)
    }
}
