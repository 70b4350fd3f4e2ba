import ArgumentParser
import BreakglassCore
import Foundation

struct Enroll: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Enrol a TOTP authenticator with a one-time enrolment code and save your API token.")

    @OptionGroup var options: GlobalOptions
    @Argument(help: "The one-time enrolment code an admin gave you.") var code: String
    @Option(help: "First code from the authenticator (otherwise asked for after the secret is shown).") var totp: String?

    func run() async throws {
        try await runReportingErrors(json: options.json) {
            let client = try APIClient(options: options, requireToken: false)
            struct Challenge: Decodable { var user: String; var secret: String; var otpauthUri: String }
            let (challenge, raw) = try await client.call(.POST, "/v1/enrollment/start", body: ["code": code], as: Challenge.self)
            if options.json {
                FileHandle.standardError.write(raw + Data("\n".utf8))
            } else {
                FileHandle.standardError.write(Data("""
                    Add this account to your authenticator app (scan the URI as a QR code, or type the secret):
                      account: \(challenge.user)
                      URI:     \(challenge.otpauthUri)
                      secret:  \(challenge.secret)
                    (SHA1, 6 digits, 30 s). Keep the secret private: it is shown only now.

                    """.utf8))
            }
            let first = try totp ?? Prompt.secretLine("Code from the authenticator: ")
            struct Result: Decodable { var user: String; var roles: [String]; var apiToken: String }
            let (result, _) = try await client.call(.POST, "/v1/enrollment/confirm", body: ["code": code, "totp": first], as: Result.self)
            let path = try SavedCredentials(url: client.baseURL, user: result.user, token: result.apiToken).save()
            if options.json {
                let summary: [String: Any] = ["user": result.user, "roles": result.roles, "credentials_file": path]
                print(String(decoding: try JSONSerialization.data(withJSONObject: summary, options: [.sortedKeys, .withoutEscapingSlashes]), as: UTF8.self))
            } else {
                print("✔ enrolled \(result.user) (\(result.roles.joined(separator: ", "))); API token saved to \(path) (mode 0600)")
            }
        }
    }
}

struct WhoAmI: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "whoami", abstract: "Show who the saved token belongs to.")
    @OptionGroup var options: GlobalOptions

    func run() async throws {
        try await runReportingErrors(json: options.json) {
            struct Me: Decodable { var name: String; var roles: [String] }
            let (me, raw) = try await APIClient(options: options).call(.GET, "/v1/me", as: Me.self)
            output(json: options.json, raw: raw) { "\(me.name) (\(me.roles.joined(separator: ", ")))" }
        }
    }
}
