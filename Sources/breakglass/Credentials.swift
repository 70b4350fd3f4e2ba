import BreakglassAPI
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
func saveIssuedToken(_ grant: Components.Schemas.APITokenGrant, baseURL: String, json: Bool, done: String) throws {
    let path = try SavedCredentials(url: baseURL, user: grant.user, token: grant.apiToken).save()
    if json {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let summary = SavedTokenSummary(user: grant.user, roles: grant.roles.map(\.rawValue), credentialsFile: path,
                                        tokenExpiresAt: Timestamp.format(grant.apiTokenExpiresAt))
        print(String(decoding: try encoder.encode(summary), as: UTF8.self))
    } else {
        print("✔ \(done); API token saved to \(path) (mode 0600), valid until \(Timestamp.format(grant.apiTokenExpiresAt))")
    }
}

/// What `enroll --json` and `login --json` print: where the token went, never the token.
struct SavedTokenSummary: Encodable {
    var user: String
    var roles: [String]
    var credentialsFile: String
    var tokenExpiresAt: String

    enum CodingKeys: String, CodingKey {
        case user, roles, credentialsFile = "credentials_file", tokenExpiresAt = "token_expires_at"
    }
}
