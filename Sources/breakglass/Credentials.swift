import BreakglassCore
import BreakglassSystem
import Foundation

/// The per-user API token the CLI keeps after enrolment, in a file only its owner can read.
struct SavedCredentials: Codable {
    var url: String
    var user: String
    var token: String

    static func path(environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        if let path = environment["BREAKGLASS_CREDENTIALS"], !path.isEmpty { return path }
        let base = environment["XDG_CONFIG_HOME"] ?? ((environment["HOME"] ?? ".") + "/.config")
        return base + "/breakglass/credentials.json"
    }

    static func load() -> SavedCredentials? {
        guard let data = FileManager.default.contents(atPath: path()) else { return nil }
        return try? JSONDecoder().decode(SavedCredentials.self, from: data)
    }

    func save() throws -> String {
        let path = Self.path()
        let directory = (path as NSString).deletingLastPathComponent
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            let data = try encoder.encode(self)
            // 0600 from the moment it exists, replaced atomically (an old token file is never half-written).
            try SecretFile.replace(atPath: path, contents: Array(data))
        } catch {
            throw CLIError(kind: .unexpected, code: "credentials_write", message: "cannot save credentials to \(path): \(error.localizedDescription)")
        }
        return path
    }
}

/// What `enroll` and `login` do with a new API token: save it (0600) and say so, as text or JSON.
func saveIssuedToken(baseURL: String, user: String, roles: [String], token: String, expiresAt: Date, json: Bool, done: String) throws {
    let path = try SavedCredentials(url: baseURL, user: user, token: token).save()
    if json {
        let summary: [String: Any] = ["user": user, "roles": roles, "credentials_file": path, "token_expires_at": Timestamp.format(expiresAt)]
        print(String(decoding: try JSONSerialization.data(withJSONObject: summary, options: [.sortedKeys, .withoutEscapingSlashes]), as: UTF8.self))
    } else {
        print("✔ \(done); API token saved to \(path) (mode 0600), valid until \(Timestamp.format(expiresAt))")
    }
}
