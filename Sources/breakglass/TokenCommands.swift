import ArgumentParser
import BreakglassAPI
import BreakglassCore
import Foundation

/// API tokens expire; `login` proves a fresh TOTP code for the next one.
struct Login: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Get a new API token with a TOTP code (tokens expire) and save it like `enroll` does.")
    @OptionGroup var options: GlobalOptions
    @Argument(help: "Your user name (default: the one in the saved credentials).") var user: String?
    @Option(help: "Your current TOTP code (asked for without echo if omitted).") var totp: String?

    func run() async throws {
        try await runReportingErrors(json: options.json) {
            guard let user = user ?? SavedCredentials.load()?.user else {
                throw CLIError(kind: .usage, code: "user_missing", message: "give your user name: breakglass login NAME")
            }
            let client = try APIClient(options: options, requireToken: false)
            let body = Components.Schemas.LoginRequest(user: user, totp: try Prompt.totp(totp))
            let (grant, _) = try await client.call { try await $0.login(body: .json(body)).created.body.json }
            try saveIssuedToken(grant, baseURL: client.baseURL, json: options.json, done: "logged in as \(grant.user)")
        }
    }
}

struct Tokens: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List and revoke API tokens (yours; admins: anyone's).", subcommands: [ListTokens.self, RevokeToken.self],
        defaultSubcommand: ListTokens.self)

    struct ListTokens: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "list", abstract: "Your API tokens, newest first (never the tokens themselves).")
        @OptionGroup var options: GlobalOptions
        @Option(help: "Another user's tokens, or * for everyone's (admin).") var user: String?

        func run() async throws {
            try await runReportingErrors(json: options.json) {
                let (entries, raw) = try await APIClient(options: options).call { try await $0.listAPITokens(query: .init(user: user)).ok.body.json }
                output(json: options.json, raw: raw) {
                    guard !entries.isEmpty else { return "no tokens" }
                    let now = Date()
                    return entries.map { t in
                        let state = t.revokedAt.map { "revoked \(Timestamp.format($0)) by \(t.revokedBy ?? "?")" }
                            ?? (t.expiresAt <= now ? "expired \(Timestamp.format(t.expiresAt))" : "valid until \(Timestamp.format(t.expiresAt))")
                        return "\(t.id)  \(t.user)  \(t.issuedVia.rawValue) \(Timestamp.format(t.createdAt))  \(state)"
                    }.joined(separator: "\n")
                }
            }
        }
    }

    struct RevokeToken: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "revoke", abstract: "Revoke a token at once (a lost laptop); its browser sessions end too.")
        @OptionGroup var options: GlobalOptions
        @Argument(help: "Token id from `breakglass tokens list`.") var id: String
        @Option(help: "Admins revoking someone else's token: your current TOTP code (an admin change; asked for if needed).") var totp: String?

        func run() async throws {
            try await runReportingErrors(json: options.json) {
                let (_, raw) = try await APIClient(options: options).callSteppingUp(totp: totp) {
                    try await $0.revokeAPIToken(path: .init(id: id), body: .json(.init(totp: $1))).ok
                }
                output(json: options.json, raw: raw) { "✔ token \(id) revoked" }
            }
        }
    }
}
