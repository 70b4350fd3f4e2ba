import ArgumentParser
import BreakglassAPI
import BreakglassCore
import BreakglassSystem
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A `recorded` session's proxy login kept by the CLI that broke glass (0600, one file per session), so
/// `breakglass psql` can connect without the token ever being printed or typed.
struct SavedProxyLogin: Codable {
    var session: String
    var host: String
    var port: Int
    var database: String
    var tls: Bool
    var token: String

    static func path(session: String, environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        let credentials = SavedCredentials.path(environment: environment)
        return (credentials as NSString).deletingLastPathComponent + "/sessions/\(session).json"
    }

    /// The login a grant carries (only a fresh activation carries the token).
    static func login(from grant: Components.Schemas.SessionGrant, brokerURL: String) -> SavedProxyLogin? {
        guard let proxy = grant.credential.proxy, let token = proxy.password else { return nil }
        return SavedProxyLogin(session: grant.session.id, host: host(advertised: proxy.host, brokerURL: brokerURL), port: proxy.port,
                               database: proxy.database, tls: proxy.tls, token: token)
    }

    /// Where to reach the proxy: a proxy listening on every address advertises no host and is reached at the broker's own.
    static func host(advertised: String?, brokerURL: String) -> String {
        advertised ?? URL(string: brokerURL)?.host ?? "127.0.0.1"
    }

    /// A session id is part of a file name: only the characters session ids are made of.
    static func checked(_ session: String) throws -> String {
        guard !session.isEmpty, session.count <= 64, session.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_" || $0 == "-") }) else {
            throw CLIError(kind: .usage, code: "bad_session_id", message: "'\(session)' is not a session id (like bg_…)")
        }
        return session
    }

    /// Saves the login; returns where.
    static func save(_ login: SavedProxyLogin) throws -> String {
        let path = Self.path(session: try checked(login.session))
        do {
            try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true,
                                                    attributes: [.posixPermissions: 0o700])
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            try SecretFile.replace(atPath: path, contents: Array(try encoder.encode(login)))
        } catch {
            throw CLIError(kind: .unexpected, code: "proxy_login_write", message: "cannot save the proxy login to \(path): \(error.localizedDescription)")
        }
        return path
    }

    /// Saves the login a grant carries; returns where, or nil when it carries none.
    static func saveOrShow(_ grant: Components.Schemas.SessionGrant, brokerURL: String) -> String? {
        saveOrShow(login(from: grant, brokerURL: brokerURL))
    }

    /// Saves the login; if that fails, the session is already active and the token exists nowhere else, so it
    /// is printed on stderr with the reason rather than lost.
    static func saveOrShow(_ login: SavedProxyLogin?) -> String? {
        guard let login else { return nil }
        do {
            return try save(login)
        } catch {
            let message = (error as? CLIError)?.message ?? "\(error)"
            let text = "breakglass: \(message)\nthe proxy login is shown here instead, once (PGUSER is the session, PGPASSWORD its token):\n"
                + login.environment.map { "export \($0.0)=\(shellQuoted($0.1))" }.joined(separator: "\n") + "\n"
            FileHandle.standardError.write(Data(text.utf8))
            return nil
        }
    }

    /// The grant as the broker sent it (`raw`), for `--json`, with the proxy token replaced by where it was saved:
    /// scripts get the session, and the token stays in its 0600 file. A grant that carries a token and cannot be
    /// rewritten is not printed at all.
    static func withoutToken(_ raw: Data, of grant: Components.Schemas.SessionGrant, savedTo path: String?) throws -> Data {
        try withoutToken(raw, carriesToken: grant.credential.proxy?.password != nil, savedTo: path)
    }

    static func withoutToken(_ raw: Data, carriesToken: Bool, savedTo path: String?) throws -> Data {
        guard carriesToken else { return raw }
        let unprintable = CLIError(kind: .unexpected, code: "bad_response", message: "the broker's grant could not be printed without its proxy token")
        guard case .object(var members)? = try? JSONDecoder().decode(JSONValue.self, from: raw),
              case .object(var credential)? = members["credential"], case .object(var proxy)? = credential["proxy"] else { throw unprintable }
        proxy["password"] = nil
        proxy["saved_to"] = path.map(JSONValue.string)
        credential["proxy"] = .object(proxy)
        members["credential"] = .object(credential)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        guard let rewritten = try? encoder.encode(JSONValue.object(members)) else { throw unprintable }
        return rewritten
    }

    static func load(session: String) throws -> SavedProxyLogin {
        let path = Self.path(session: try checked(session))
        guard let data = FileManager.default.contents(atPath: path) else {
            throw CLIError(kind: .usage, code: "no_proxy_login",
                           message: "no proxy login for session \(session) on this machine (\(path)); it is saved by the `breakglass request` that broke glass for a recorded target")
        }
        guard let login = try? JSONDecoder().decode(SavedProxyLogin.self, from: data) else {
            throw CLIError(kind: .usage, code: "bad_proxy_login", message: "\(path) is not a proxy login saved by breakglass")
        }
        return login
    }

    /// libpq's environment: the token travels as PGPASSWORD, never on a command line others can read.
    var environment: [(String, String)] {
        var env = [("PGHOST", host), ("PGPORT", String(port)), ("PGUSER", session), ("PGDATABASE", database), ("PGPASSWORD", token),
                   ("PGSSLMODE", tls ? "verify-full" : "disable"), ("PGAPPNAME", "breakglass \(session)")]
        if tls {
            let roots = ProcessInfo.processInfo.environment["BREAKGLASS_CA_FILE"] ?? ProcessInfo.processInfo.environment["SSL_CERT_FILE"]
                ?? "/etc/ssl/certs/ca-certificates.crt"
            env.append(("PGSSLROOTCERT", roots))
        }
        return env
    }
}

struct Psql: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Open psql on a recorded session's database, through the broker's recording proxy.",
        discussion: """
            Uses the proxy login saved when you broke glass; every statement is recorded before it reaches the \
            target (see `breakglass session log`). Arguments after `--` go to psql, e.g. `breakglass psql ID -- -c 'SELECT 1'`. \
            With --print-env, prints the libpq environment instead, for any other client.
            """)

    @Argument(help: "Session id.") var session: String
    @Flag(help: "Print `export PG…=…` lines (the token included) instead of starting psql.") var printEnv = false
    @Argument(parsing: .postTerminator, help: "Arguments passed to psql.") var psqlArguments: [String] = []

    func run() async throws {
        try await runReportingErrors(json: false) {
            let login = try SavedProxyLogin.load(session: session)
            if printEnv {
                print(login.environment.map { "export \($0.0)=\(shellQuoted($0.1))" }.joined(separator: "\n"))
                return
            }
            for (name, value) in login.environment { setenv(name, value, 1) }
            let program = ProcessInfo.processInfo.environment["BREAKGLASS_PSQL"] ?? "psql"
            let argv = [program, "-X"] + psqlArguments
            var cArgs = argv.map { strdup($0) } + [nil]
            execvp(program, &cArgs)
            throw CLIError(kind: .unexpected, code: "psql_not_found",
                           message: "cannot run \(program): \(String(cString: strerror(errno))) (install the PostgreSQL client, or set BREAKGLASS_PSQL)")
        }
    }
}

/// Control characters as escapes (`\r`, `\u{1B}`…), everything else as it is.
func visible(_ text: String) -> String {
    var out = ""
    for scalar in text.unicodeScalars {
        switch scalar {
        case "\n": out += "\\n"
        case "\r": out += "\\r"
        case "\t": out += "\\t"
        case _ where scalar.properties.generalCategory == .control || scalar.properties.generalCategory == .format:
            out += "\\u{\(String(scalar.value, radix: 16, uppercase: true))}"
        default: out.unicodeScalars.append(scalar)
        }
    }
    return out
}

struct SessionCommands: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "session", abstract: "What happened in a session.", subcommands: [Log.self])

    struct Log: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Every statement run through the recording proxy in a session, in order, with its result.",
            discussion: "Each statement is committed to the audit log before it ran; `breakglass audit verify` proves none was altered since.")
        @OptionGroup var options: GlobalOptions
        @Argument(help: "Session id.") var session: String

        func run() async throws {
            try await runReportingErrors(json: options.json) {
                let client = try APIClient(options: options)
                let (events, raw) = try await client.call { try await $0.listSessionStatements(path: .init(id: session)).ok.body.json }
                output(json: options.json, raw: raw) { Self.describe(events) }
            }
        }

        static func describe(_ events: [Components.Schemas.AuditEventRecord]) -> String {
            guard !events.isEmpty else { return "no statements recorded for this session" }
            return events.map { view in
                let e = view.event
                // The engineer wrote this text: a carriage return or an escape sequence in it must not redraw
                // the reviewer's terminal, so every control character is shown as an escape.
                let d = e.details.additionalProperties.mapValues(visible)
                let at = Timestamp.format(e.at)
                let connection = "conn \(d["connection"]?.prefix(6) ?? "-")"
                switch AuditEventType(rawValue: e._type) {
                case .proxyConnected:
                    return "\(at)  \(connection)  connected from \(e.clientAddress ?? "-") as \(d["role"] ?? "-")"
                case .proxyDisconnected:
                    return "\(at)  \(connection)  disconnected: \(d["reason"] ?? "-")"
                case .sessionStatement:
                    var line = "\(at)  \(connection)  #\(d["sequence"] ?? "-")  \(StatementLogText.statement(d))"
                    if let parameters = d["parameters"] { line += "  parameters \(parameters)" }
                    return line
                default:
                    return "\(at)  \(connection)  #\(d["sequence"] ?? "-")  → \(StatementLogText.result(d))"
                }
            }.joined(separator: "\n")
        }
    }
}
