import ArgumentParser
import BreakglassAPI
import BreakglassCore
import Foundation

struct Admin: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Users and targets (admin role).",
        subcommands: [CreateUser.self, EnrollUser.self, Unlock.self, Users.self, SetGitHub.self, SetTarget.self, Targets.self])

    static func describe(_ grant: Components.Schemas.EnrollmentCodeGrant) -> String {
        """
        ✔ \(grant.user) (\(grant.roles.map(\.rawValue).joined(separator: ", ")))
          one-time enrolment code: \(grant.enrollmentCode)
          valid until \(Timestamp.format(grant.expiresAt)); they run: breakglass enroll \(grant.enrollmentCode)
        """
    }

    struct CreateUser: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "create-user", abstract: "Create a user and print their enrolment code.")
        @OptionGroup var options: GlobalOptions
        @Argument(help: "User name.") var name: String
        @Option(name: .customLong("role"), help: "engineer, compliance or admin; repeatable.") var roles: [String] = ["engineer"]
        @OptionGroup var stepUp: StepUpOptions

        func run() async throws {
            try await runReportingErrors(json: options.json) {
                let client = try APIClient(options: options)
                let body = Components.Schemas.CreateUserRequest(name: name, roles: roles, totp: try stepUp.code())
                let (grant, raw) = try await client.call { try await $0.createUser(body: .json(body)).created.body.json }
                output(json: options.json, raw: raw) { Admin.describe(grant) }
            }
        }
    }

    struct EnrollUser: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "enroll-user", abstract: "Issue a new enrolment code (lost device).")
        @OptionGroup var options: GlobalOptions
        @Argument(help: "User name.") var name: String
        @OptionGroup var stepUp: StepUpOptions

        func run() async throws {
            try await runReportingErrors(json: options.json) {
                let client = try APIClient(options: options)
                let body = Components.Schemas.StepUpRequest(totp: try stepUp.code())
                let (grant, raw) = try await client.call {
                    try await $0.issueEnrollmentCode(path: .init(name: name), body: .json(body)).created.body.json
                }
                output(json: options.json, raw: raw) { Admin.describe(grant) }
            }
        }
    }

    struct Unlock: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Unlock an account locked by failed TOTP codes.")
        @OptionGroup var options: GlobalOptions
        @Argument(help: "User name.") var name: String
        @OptionGroup var stepUp: StepUpOptions

        func run() async throws {
            try await runAction(options, done: "✔ unlocked \(name)") {
                try await $0.unlockUser(path: .init(name: name), body: .json(.init(totp: try stepUp.code()))).ok
            }
        }
    }

    struct SetGitHub: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "set-github", abstract: "Record a user's GitHub login, so their own PR approvals never count as independent review.")
        @OptionGroup var options: GlobalOptions
        @Argument(help: "User name.") var name: String
        @Argument(help: "GitHub login (omit to clear).") var login: String?
        @OptionGroup var stepUp: StepUpOptions

        func run() async throws {
            try await runReportingErrors(json: options.json) {
                let client = try APIClient(options: options)
                let body = Components.Schemas.GitHubLoginRequest(login: login, totp: try stepUp.code())
                let (_, raw) = try await client.call { try await $0.setGitHubLogin(path: .init(name: name), body: .json(body)).ok }
                output(json: options.json, raw: raw) { "✔ \(name) is \(login.map { "GitHub user \($0)" } ?? "no longer linked to a GitHub login")" }
            }
        }
    }

    struct Users: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List users.")
        @OptionGroup var options: GlobalOptions

        func run() async throws {
            try await runReportingErrors(json: options.json) {
                let (users, raw) = try await APIClient(options: options).call { try await $0.listUsers().ok.body.json }
                output(json: options.json, raw: raw) {
                    users.map { u in
                        "\(u.name)  \(u.roles.map(\.rawValue).joined(separator: ","))  \(u.enrolled ? "enrolled" : "not enrolled")\(u.lockedUntil.map { $0 > Date() ? "  LOCKED until \(Timestamp.format($0))" : "" } ?? "")"
                    }.joined(separator: "\n")
                }
            }
        }
    }

    struct SetTarget: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "set-target", abstract: "Create a target, or change the settings given of an existing one (the others stay as they are).")
        @OptionGroup var options: GlobalOptions
        @Argument(help: "Target name.") var name: String
        @Option(help: "Credential kind: token (a signed JWT) or postgres (a temporary login role on a PostgreSQL server).")
        var kind: Components.Schemas.CredentialKind?
        @Option(help: "JWT audience downstream services check (default: the target name).") var audience: String?
        @Option(help: "Longest TTL one request or extension may ask for, e.g. 1h (required for a new target).") var maxTtl: String?
        @Option(help: "Cap on the whole session with extensions (default 4 x max TTL).") var maxTotal: String?
        @Option(help: "Retro PR deadline (default 24h).") var retroDeadline: String?
        @Option(help: "Whether the retro deadline runs from 'activation' (default) or from the session's 'end'.")
        var retroFrom: Components.Schemas.RetroDeadlineBasis?
        @Option(name: .customLong("requester"), help: "Who may request: role:NAME or user:NAME; repeatable (default role:engineer).")
        var requesters: [String] = []
        @Option(help: "Enables drills on this target, with this retro PR deadline: 1m to 59m (e.g. 2m); real sessions keep at least 1h.")
        var drillDeadline: String?
        @Option(help: "postgres: the target server's host name or address.") var pgHost: String?
        @Option(help: "postgres: the target server's port (default 5432).") var pgPort: Int?
        @Option(help: "postgres: the database engineers connect to; owned objects of a session's role are cleaned up in it.")
        var pgDatabase: String?
        @Option(help: "postgres: TLS towards the target: verify-full (default off loopback), require, or disable (default on loopback).")
        var pgTls: Components.Schemas.PostgresTLSMode?
        @Option(help: ArgumentHelp("postgres: the broker's role on the target; checked before anything is saved.", discussion: """
            It needs LOGIN, CREATEROLE, the right to grant --grant-role (PostgreSQL 16+: WITH ADMIN OPTION), and the right to \
            set per-role logging: GRANT SET ON PARAMETER log_statement (pgaudit.log and pgaudit.log_parameter when pgaudit is loaded).
            """))
        var managingRole: String?
        @Option(help: "postgres: a file holding the managing role's password (stored encrypted; required for a new target, kept otherwise).")
        var managingPasswordFile: String?
        @Option(help: "postgres: the role each session's login role is made a member of, e.g. payments_oncall_rw.") var grantRole: String?
        @Option(help: "postgres: most connections one session's role may open (default 5).") var connectionLimit: Int?
        @Option(help: "postgres: statement_timeout set on the session's role, e.g. 5m (default: the server's).") var statementTimeout: String?
        @Option(help: ArgumentHelp("postgres: 'recorded' (the default) or 'direct'.", discussion: """
            recorded: engineers connect only through the broker's PostgreSQL proxy (breakglassd serve --proxy-port), which records \
            every statement before it runs; they never see the role's password. direct: the role's credentials are shown once.
            """))
        var access: Components.Schemas.PostgresAccessMode?
        @Flag(inversion: .prefixedNo, help: "postgres, recorded: keep Bind parameter values out of the record (their size only).")
        var redactParameters: Bool?
        @OptionGroup var stepUp: StepUpOptions

        func run() async throws {
            try await runReportingErrors(json: options.json) {
                let client = try APIClient(options: options)
                // The API replaces a target whole: changing one setting must not reset the others (an audience
                // reset would make downstream services refuse every later credential).
                let (targets, _) = try await client.call { try await $0.listTargets().ok.body.json }
                let current = targets.first { $0.name == name }
                guard let maxTtl = maxTtl ?? current.map({ TTL.format($0.maxTtl) }) else {
                    throw CLIError(kind: .usage, code: "max_ttl_missing", message: "--max-ttl is required for a new target")
                }
                var managingPassword: String?
                if let managingPasswordFile {
                    guard let data = FileManager.default.contents(atPath: managingPasswordFile) else {
                        throw CLIError(kind: .usage, code: "managing_password_file", message: "cannot read --managing-password-file \(managingPasswordFile)")
                    }
                    managingPassword = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .newlines)
                }
                let pg = current?.postgres
                let body = Components.Schemas.SaveTargetRequest(
                    kind: kind ?? current?.kind ?? .token, audience: audience ?? current?.audience, maxTtl: maxTtl,
                    maxTotal: maxTotal ?? current.map { TTL.format($0.maxTotal) },
                    retroDeadline: retroDeadline ?? current.map { TTL.format($0.retroDeadline) }, retroFrom: retroFrom ?? current?.retroFrom,
                    requesters: requesters.isEmpty ? current?.requesters : requesters,
                    drillDeadline: drillDeadline ?? current?.drillDeadline.map { TTL.format($0) },
                    pgHost: pgHost ?? pg?.host, pgPort: pgPort ?? pg?.port, pgDatabase: pgDatabase ?? pg?.database, pgTls: pgTls ?? pg?.tls,
                    managingRole: managingRole ?? pg?.managingRole, managingPassword: managingPassword, grantRole: grantRole ?? pg?.grantRole,
                    connectionLimit: connectionLimit ?? pg?.connectionLimit, statementTimeout: statementTimeout ?? pg?.statementTimeout.map { TTL.format($0) },
                    redactParameters: redactParameters ?? pg?.redactParameters, access: access ?? pg?.access, totp: try stepUp.code())
                // A new target answers 201 and a changed one 200, both with the target as saved.
                let (target, raw) = try await client.call { api in
                    switch try await api.saveTarget(path: .init(name: name), body: .json(body)) {
                    case .ok(let saved): return try saved.body.json
                    case .created(let saved): return try saved.body.json
                    default: throw UnexpectedAnswer()
                    }
                }
                output(json: options.json, raw: raw) { Admin.describe(target) }
            }
        }
    }

    struct Targets: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List targets.")
        @OptionGroup var options: GlobalOptions

        func run() async throws {
            try await runReportingErrors(json: options.json) {
                let (targets, raw) = try await APIClient(options: options).call { try await $0.listTargets().ok.body.json }
                output(json: options.json, raw: raw) { targets.isEmpty ? "no targets" : targets.map(Admin.describe).joined(separator: "\n") }
            }
        }
    }

    static func describe(_ t: Components.Schemas.Target) -> String {
        let pg = t.postgres.map { p in
            "  postgres=\(p.managingRole)@\(p.host):\(p.port)/\(p.database) tls=\(p.tls.rawValue) grant=\(p.grantRole) limit=\(p.connectionLimit)\(p.statementTimeout.map { " statement-timeout=\(TTL.format($0))" } ?? "") access=\(p.access.rawValue)\(p.redactParameters == true ? " redact-parameters" : "")"
        } ?? ""
        return "\(t.name)  \(t.kind.rawValue)  aud=\(t.audience)  max-ttl=\(TTL.format(t.maxTtl))  max-total=\(TTL.format(t.maxTotal))  retro=\(TTL.format(t.retroDeadline)) from \(t.retroFrom.rawValue)  drill=\(t.drillDeadline.map { "on, retro \(TTL.format($0))" } ?? "off")  requesters=\(t.requesters.joined(separator: ","))\(pg)"
    }
}
