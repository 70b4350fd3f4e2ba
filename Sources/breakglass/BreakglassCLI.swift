import ArgumentParser

@main
struct BreakglassCLI: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "breakglass",
        abstract: "Emergency privileged access: TOTP-proven, short-lived, audited.",
        discussion: """
            Server: BREAKGLASS_URL (or the URL saved by `enroll`). Token: BREAKGLASS_TOKEN or the credentials file \
            saved by `enroll` (BREAKGLASS_CREDENTIALS, default ~/.config/breakglass/credentials.json).
            Exit codes: 0 ok, 64 bad input, 77 refused (wrong/used code, locked, not allowed, unknown), \
            69 broker or database unavailable, 70 unexpected failure.
            """,
        subcommands: [Enroll.self, Login.self, WhoAmI.self, Tokens.self, RequestAccess.self, Status.self, List.self, Extend.self, End.self, Revoke.self,
                      Psql.self, SessionCommands.self,
                      Retro.self, Drill.self, Compliance.self, Audit.self, Notify.self, Admin.self])
}

struct GlobalOptions: ParsableArguments {
    @Option(name: .customLong("url"), help: "Broker URL (default: BREAKGLASS_URL, the saved credentials, or http://127.0.0.1:8420).")
    var url: String?

    @Flag(name: .customLong("json"), help: "Print machine-readable JSON.")
    var json = false

    @Flag(name: .customLong("insecure"), help: "Allow a plain-http broker URL on a non-loopback host (tokens and codes would cross the network in clear text).")
    var insecure = false
}

/// The fresh TOTP code every admin change needs: `--totp CODE` for scripts, else asked for without echo.
struct StepUpOptions: ParsableArguments {
    @Option(help: "Your current TOTP code (admin changes need a fresh one; asked for without echo if omitted).")
    var totp: String?

    func code() throws -> String { try Prompt.totp(totp) }
}
