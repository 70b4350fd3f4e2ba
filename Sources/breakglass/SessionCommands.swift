import ArgumentParser
import BreakglassAPI
import BreakglassCore
import Foundation

func describe(_ s: Components.Schemas.EmergencySession, now: Date = Date()) -> String {
    var lines = ["\(s.drill ? "[DRILL] " : "")\(s.id)  \(s.state.rawValue)  \(s.target)  by \(s.requester)"]
    lines.append("  reason:    \(s.reason)")
    lines.append("  incident:  \(s.incident)")
    lines.append("  activated: \(Timestamp.format(s.activatedAt))")
    if s.state == .active {
        lines.append("  expires:   \(Timestamp.format(s.expiresAt)) (in \(TTL.format(max(0, s.expiresAt.timeIntervalSince(now)))))")
    } else {
        lines.append("  closed:    \(s.closedAt.map(Timestamp.format) ?? "-")\(s.closedBy.map { " by \($0)" } ?? "")\(s.closeReason.map { ": \($0)" } ?? "")")
    }
    lines.append("  limit:     \(Timestamp.format(s.hardLimit)) (extensions so far: \(s.extensions))")
    lines.append("  retro PR due: \(Timestamp.format(s.retroDueAt))")
    return lines.joined(separator: "\n")
}

func describeGrant(_ grant: Components.Schemas.SessionGrant, verb: String, savedProxyLogin: String? = nil) -> String {
    let s = grant.session
    return """
        ✔ session \(s.id) \(verb) on \(s.target) until \(Timestamp.format(s.expiresAt)) (\(TTL.format(s.expiresAt.timeIntervalSince(Date()))) left)
        \(describeCredential(grant.credential, expiresAt: s.expiresAt, savedProxyLogin: savedProxyLogin))
          pages queued: \(grant.pagesQueued.joined(separator: ", "))
          retro PR due by \(Timestamp.format(s.retroDueAt)): breakglass retro link \(s.id) <PR URL>
        """
}

func describeCredential(_ credential: Components.Schemas.IssuedCredential, expiresAt: Date, savedProxyLogin: String? = nil) -> String {
    if let proxy = credential.proxy {
        let saved = savedProxyLogin.map { "; its proxy token is saved to \($0) (mode 0600), shown nowhere else" } ?? ""
        return """
              PostgreSQL \(proxy.database) through the broker's recording proxy (every statement recorded)\(saved):
            breakglass psql \(proxy.user)
            """
    }
    if let pg = credential.postgres {
        guard let password = pg.password else {
            return "  PostgreSQL role \(pg.user) on \(pg.host):\(pg.port)/\(pg.database) now valid until \(Timestamp.format(expiresAt)); the password shown at activation keeps working"
        }
        let exports = [("PGUSER", pg.user), ("PGPASSWORD", password), ("PGHOST", pg.host), ("PGPORT", String(pg.port)),
                       ("PGDATABASE", pg.database), ("PGSSLMODE", pg.sslmode)]
        return """
              PostgreSQL role \(pg.user) on \(pg.host):\(pg.port)/\(pg.database); shown once, the broker does not keep the password:
            export \(exports.map { "\($0.0)=\(shellQuoted($0.1))" }.joined(separator: " "))
            """
    }
    return """
          credential (\(credential.kind.rawValue), audience \(credential.audience ?? "-")); shown once, the broker does not keep it:
        \(credential.token ?? "-")
        """
}

/// A value as a POSIX shell word: bare when it is plain, else single-quoted.
func shellQuoted(_ value: String) -> String {
    let plain = !value.isEmpty && value.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "-_./:@%+=,".contains($0)) }
    return plain ? value : "'" + value.replacingOccurrences(of: "'", with: "'\\''") + "'"
}

/// What breaking glass and starting a drill both ask for: one request, two paths.
struct SessionRequestOptions: ParsableArguments {
    @Argument(help: "Target name.") var target: String
    @Option(help: "What you will do and why (required); for a drill, what it rehearses.") var reason: String
    @Option(help: "Incident id, e.g. INC-4521, or a drill id such as DRILL-2026-Q3 (required).") var incident: String
    @Option(help: "How long, e.g. 30m (default and maximum: the target's).") var ttl: String?
    @Option(help: "TOTP code (for scripts; otherwise asked for without echo).") var totp: String?

    func validate() throws {
        if let ttl, TTL.parse(ttl) == nil { throw ValidationError("--ttl '\(ttl)' is not a duration; use forms like 30m, 1h, 90s") }
        do {
            _ = try Validation.targetName(target)
            _ = try Validation.reason(reason)
            _ = try Validation.incident(incident)
        } catch let error as BreakglassError {
            throw ValidationError(error.message)
        }
    }

    /// Sends the request (breaking glass or starting a drill) and hands the credential over: the proxy login saved
    /// (0600), the grant printed by `describe` with where that login went. The code is asked for only once the client
    /// is set up, so a missing token is said before anyone types a code. A grant this CLI cannot read is rescued by
    /// `SalvagedGrant`, which says `verb` of the session.
    func breakGlass(options: GlobalOptions, drill: Bool, verb: String,
                    describe: (Components.Schemas.SessionGrant, _ savedProxyLogin: String?) -> String) async throws {
        let client = try APIClient(options: options)
        let body = Components.Schemas.SessionRequest(target: target, reason: reason, incident: incident, ttl: ttl, totp: try Prompt.totp(totp))
        let answer = try await client.answer { api in
            if drill { return try await api.requestDrill(body: .json(body)).created.body.json }
            return try await api.requestSession(body: .json(body)).created.body.json
        }
        switch answer {
        case .misread(let misread):
            try SalvagedGrant.report(misread, options: options, brokerURL: client.baseURL, verb: verb)
        case .understood(let grant, let raw):
            let saved = SavedProxyLogin.saveOrShow(grant, brokerURL: client.baseURL)
            output(json: options.json, raw: try SavedProxyLogin.withoutToken(raw, of: grant, savedTo: saved)) { describe(grant, saved) }
        }
    }
}

struct RequestAccess: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "request", abstract: "Break glass: request emergency access to a target.")

    @OptionGroup var options: GlobalOptions
    @OptionGroup var request: SessionRequestOptions

    func run() async throws {
        try await runReportingErrors(json: options.json) {
            try await request.breakGlass(options: options, drill: false, verb: "active") { grant, saved in
                describeGrant(grant, verb: "active", savedProxyLogin: saved)
            }
        }
    }
}

struct Status: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show one session, or your active sessions.")
    @OptionGroup var options: GlobalOptions
    @Argument(help: "Session id.") var session: String?

    func run() async throws {
        try await runReportingErrors(json: options.json) {
            let client = try APIClient(options: options)
            if let session {
                let (s, raw) = try await client.call { try await $0.getSession(path: .init(id: session)).ok.body.json }
                output(json: options.json, raw: raw) { describe(s) }
            } else {
                let (all, raw) = try await client.call { try await $0.listSessions().ok.body.json }
                let active = all.filter { $0.state == .active }
                output(json: options.json, raw: raw) {
                    active.isEmpty ? "no active sessions" : active.map { describe($0) }.joined(separator: "\n")
                }
            }
        }
    }
}

struct List: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List sessions, newest first (admins and compliance: --all).")
    @OptionGroup var options: GlobalOptions
    @Flag(help: "Everyone's sessions, not only yours.") var all = false

    func run() async throws {
        try await runReportingErrors(json: options.json) {
            let (sessions, raw) = try await APIClient(options: options).call {
                try await $0.listSessions(query: .init(all: all ? true : nil)).ok.body.json
            }
            output(json: options.json, raw: raw) {
                guard !sessions.isEmpty else { return "no sessions" }
                return sessions.map { s in
                    let until = s.state == .active ? "until \(Timestamp.format(s.expiresAt))" : "closed \(s.closedAt.map(Timestamp.format) ?? "-")"
                    return "\(s.drill ? "[DRILL] " : "")\(s.id)  \(s.state.rawValue.padding(toLength: 7, withPad: " ", startingAt: 0))  \(s.target)  \(s.requester)  \(s.incident)  \(until)"
                }.joined(separator: "\n")
            }
        }
    }
}

struct Extend: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Extend your active session (fresh TOTP code; capped by the target).")
    @OptionGroup var options: GlobalOptions
    @Argument(help: "Session id.") var session: String
    @Option(help: "Time to add, e.g. 15m.") var ttl: String
    @Option(help: "TOTP code (otherwise asked for without echo).") var totp: String?

    func validate() throws {
        if TTL.parse(ttl) == nil { throw ValidationError("--ttl '\(ttl)' is not a duration; use forms like 15m, 1h") }
    }

    func run() async throws {
        try await runReportingErrors(json: options.json) {
            let client = try APIClient(options: options)
            let body = Components.Schemas.ExtendSessionRequest(ttl: ttl, totp: try Prompt.totp(totp))
            switch try await client.answer({ try await $0.extendSession(path: .init(id: session), body: .json(body)).ok.body.json }) {
            case .understood(let grant, let raw): output(json: options.json, raw: raw) { describeGrant(grant, verb: "extended") }
            case .misread(let misread): try SalvagedGrant.report(misread, options: options, brokerURL: client.baseURL, verb: "extended")
            }
        }
    }
}

struct End: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "End your session now.")
    @OptionGroup var options: GlobalOptions
    @Argument(help: "Session id.") var session: String

    func run() async throws {
        try await runReportingErrors(json: options.json) {
            let (s, raw) = try await APIClient(options: options).call { try await $0.endSession(path: .init(id: session)).ok.body.json }
            output(json: options.json, raw: raw) { "✔ session \(s.id) ended at \(s.closedAt.map(Timestamp.format) ?? "-"); retro PR due by \(Timestamp.format(s.retroDueAt))" }
        }
    }
}

struct Revoke: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Revoke someone's session (admin).")
    @OptionGroup var options: GlobalOptions
    @Argument(help: "Session id.") var session: String
    @Option(help: "Why it is revoked (required).") var reason: String

    func run() async throws {
        try await runReportingErrors(json: options.json) {
            let (s, raw) = try await APIClient(options: options).call {
                try await $0.revokeSession(path: .init(id: session), body: .json(.init(reason: reason))).ok.body.json
            }
            output(json: options.json, raw: raw) { "✔ session \(s.id) revoked at \(s.closedAt.map(Timestamp.format) ?? "-")" }
        }
    }
}
