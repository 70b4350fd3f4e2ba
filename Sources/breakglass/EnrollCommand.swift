import ArgumentParser
import BreakglassAPI
import BreakglassCore
import BreakglassSystem
import Foundation

struct Enroll: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Enrol a TOTP authenticator with a one-time enrolment code and save your API token.",
        discussion: """
            Interactive: shows the otpauth:// URI (as a QR code when qrencode is installed) and the secret, then asks \
            for the first code. Scripted, in two steps: `breakglass enroll CODE --secret-out FILE` writes the secret \
            (JSON, mode 0600) and exits; `breakglass enroll --confirm CODE --totp FIRST_CODE` proves it and saves the token.
            """)

    @OptionGroup var options: GlobalOptions
    @Argument(help: "The one-time enrolment code an admin gave you.") var code: String
    @Option(help: "First code from the authenticator (otherwise asked for after the secret is shown).") var totp: String?
    @Option(help: "Step one of a scripted enrolment: write the secret to this new file (JSON, mode 0600) and stop.")
    var secretOut: String?
    @Flag(help: "Step two of a scripted enrolment: confirm with --totp the secret shown by an earlier step one.")
    var confirm = false

    func validate() throws {
        if confirm && secretOut != nil { throw ValidationError("--confirm and --secret-out are the two steps of a scripted enrolment; give one") }
        if secretOut != nil && totp != nil { throw ValidationError("--secret-out stops before the first code: confirm with --confirm CODE --totp …") }
    }

    func run() async throws {
        try await runReportingErrors(json: options.json) {
            let client = try APIClient(options: options, requireToken: false)
            if confirm {
                try await finish(client: client, first: try Prompt.totp(totp))
                return
            }
            // Checked before asking for a secret: a new one replaces the one an earlier step one wrote.
            if let secretOut, (try? FileManager.default.destinationOfSymbolicLink(atPath: secretOut)) != nil
                || FileManager.default.fileExists(atPath: secretOut) {
                throw CLIError(kind: .usage, code: "secret_out", message: "\(secretOut) exists already; give a new file (the secret it may hold is still valid)")
            }
            let (challenge, raw) = try await client.call { try await $0.startEnrollment(body: .json(.init(code: code))).ok.body.json }
            if let secretOut {
                do {
                    try SecretFile.create(atPath: secretOut, contents: Array(raw))
                } catch {
                    throw CLIError(kind: .usage, code: "secret_out", message: "cannot create \(error) (it must not exist yet)")
                }
                print("secret for \(challenge.user) written to \(secretOut) (mode 0600); confirm with: breakglass enroll --confirm \(code) --totp FIRST_CODE")
                return
            }
            if options.json {
                FileHandle.standardError.write(raw + Data("\n".utf8))
            } else {
                let qrCode = await QRCode.render(challenge.otpauthUri)
                FileHandle.standardError.write(Data("""
                    Add this account to your authenticator app (scan the QR code or the URI, or type the secret):
                    \(qrCode.map { $0 + "\n" } ?? "")  account: \(challenge.user)
                      URI:     \(challenge.otpauthUri)
                      secret:  \(challenge.secret)
                    (\(challenge.algorithm), \(challenge.digits) digits, \(challenge.period) s). Keep the secret private: it is shown only now.

                    """.utf8))
            }
            try await finish(client: client, first: try totp ?? Prompt.secretLine("Code from the authenticator: "))
        }
    }

    private func finish(client: APIClient, first: String) async throws {
        let (grant, _) = try await client.call { try await $0.confirmEnrollment(body: .json(.init(code: code, totp: first))).created.body.json }
        try saveIssuedToken(grant, baseURL: client.baseURL, json: options.json,
                            done: "enrolled \(grant.user) (\(grant.roles.map(\.rawValue).joined(separator: ", ")))")
    }
}

struct WhoAmI: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "whoami", abstract: "Show who the saved token belongs to.")
    @OptionGroup var options: GlobalOptions

    func run() async throws {
        try await runReportingErrors(json: options.json) {
            let (me, raw) = try await APIClient(options: options).call { try await $0.getCurrentUser().ok.body.json }
            output(json: options.json, raw: raw) { "\(me.name) (\(me.roles.map(\.rawValue).joined(separator: ", ")))" }
        }
    }
}
