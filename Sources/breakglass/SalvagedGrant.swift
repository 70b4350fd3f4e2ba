import BreakglassAPI
import BreakglassCore
import Foundation

/// What can still be read from a grant this CLI does not understand (a newer broker added a field's value). The
/// broker answers 201 only once the session is active and paged, and shows its credential only in this answer, so
/// "not understood" would leave an incident without access: the session id and whatever credential the raw JSON
/// holds are read member by member, each on its own, and printed as the normal path prints them.
struct SalvagedGrant {
    var sessionId: String?
    var target: String?
    var expiresAt: Date?
    var kind: String?
    var token: String?
    var audience: String?
    /// The direct-mode login's members that could be read, in libpq's names (PGUSER, PGPASSWORD, …).
    var postgres: [(String, String)] = []
    var proxy: SavedProxyLogin?
    /// A proxy token whose login could not be read in full (so it cannot be saved): shown, since it exists nowhere else.
    var proxyToken: String?

    init(_ raw: Data, brokerURL: String) {
        guard let document = try? JSONDecoder().decode(JSONValue.self, from: raw) else { return }
        let session = document["session"]
        let credential = document["credential"]
        sessionId = session?["id"]?.stringValue
        target = session?["target"]?.stringValue
        expiresAt = (session?["expires_at"]?.stringValue ?? credential?["expires_at"]?.stringValue).flatMap(Timestamp.parse)
        kind = credential?["kind"]?.stringValue
        token = credential?["token"]?.stringValue
        audience = credential?["audience"]?.stringValue
        if let login = credential?["postgres"] {
            postgres = [("PGUSER", login["user"]?.stringValue), ("PGPASSWORD", login["password"]?.stringValue),
                        ("PGHOST", login["host"]?.stringValue), ("PGPORT", login["port"].flatMap(Self.integer)),
                        ("PGDATABASE", login["database"]?.stringValue), ("PGSSLMODE", login["sslmode"]?.stringValue)]
                .compactMap { name, value in value.map { (name, $0) } }
        }
        proxyToken = credential?["proxy"]?["password"]?.stringValue
        if let login = credential?["proxy"], let sessionId, let password = login["password"]?.stringValue,
           let port = login["port"].flatMap(Self.integer).flatMap({ Int($0) }), let database = login["database"]?.stringValue {
            let host = SavedProxyLogin.host(advertised: login["host"]?.stringValue, brokerURL: brokerURL)
            let tls = if case .bool(let value)? = login["tls"] { value } else { true }
            proxy = SavedProxyLogin(session: sessionId, host: host, port: port, database: database, tls: tls, token: password)
        }
    }

    private static func integer(_ value: JSONValue) -> String? {
        if case .integer(let number) = value { return String(number) }
        return nil
    }

    var hasPostgresPassword: Bool { postgres.contains { $0.0 == "PGPASSWORD" } }

    var hasCredential: Bool { token != nil || hasPostgresPassword || proxyToken != nil }

    /// Something the engineer can act on: the session to end or link, or a credential.
    var isUsable: Bool { sessionId != nil || hasCredential }

    /// The lines the normal path would print, from what could be read; `?` where a member could not be.
    func describe(verb: String, savedProxyLogin: String?) -> String {
        var lines = ["\(hasCredential ? "✔" : "!") session \(sessionId ?? "?") \(verb) on \(target ?? "?") until \(expiresAt.map(Timestamp.format) ?? "?")"]
        if proxy != nil {
            let saved = savedProxyLogin.map { "; its proxy token is saved to \($0) (mode 0600), shown nowhere else" } ?? ""
            lines.append("  PostgreSQL through the broker's recording proxy (every statement recorded)\(saved):")
            lines.append("breakglass psql \(sessionId ?? "?")")
        } else if let proxyToken {
            lines.append("  proxy token; its login could not be read in full, so it was not saved; shown once, the broker does not keep it:")
            lines.append(proxyToken)
        } else if hasPostgresPassword {
            lines.append("  PostgreSQL login; shown once, the broker does not keep the password:")
            lines.append("export " + postgres.map { "\($0.0)=\(shellQuoted($0.1))" }.joined(separator: " "))
        } else if let token {
            lines.append("  credential (\(kind ?? "?"), audience \(audience ?? "-")); shown once, the broker does not keep it:")
            lines.append(token)
        } else {
            lines.append("  no credential could be read from the answer")
        }
        if let sessionId { lines.append("  retro PR owed: breakglass retro link \(sessionId) <PR URL>") }
        return lines.joined(separator: "\n")
    }

    /// For `request`, `drill` and `extend`: a warning on stderr (never a secret), then what could be read where the
    /// normal path prints it (the proxy token to its 0600 file). No credential at all: what was read (the session to end
    /// or link), then the "not understood" error, so no script takes it for access granted.
    ///
    /// Both modes follow one rule, so a script and a person read the same outcome: the exit status is 0 exactly when
    /// a credential was handed over (printed, or saved to its file), 70 otherwise; stdout carries what the mode always
    /// carries (the lines below, or with `--json` the broker's own bytes, token removed once saved, since the members
    /// this CLI could not read are the ones a script may still want); stderr carries the warning and any error in the
    /// mode's form (a `breakglass:` line, or with `--json` a JSON object per line, like every `--json` error).
    /// Only a success the contract declares for the operation stands for an active, paged session: any other
    /// status, even a 2xx (a proxy's, a misrouted answer), is an error and nothing in it is used.
    static func report(_ misread: MisreadAnswer, options: GlobalOptions, brokerURL: String, verb: String) throws {
        guard misread.documentedSuccesses.contains(misread.status) else { throw misread.undocumentedStatus }
        let grant = SalvagedGrant(misread.body, brokerURL: brokerURL)
        guard grant.isUsable else { throw misread.error }
        warn(json: options.json, code: "answer_not_understood", message: """
            the broker's answer to \(misread.path) (HTTP \(misread.status)) has fields this CLI does not understand\
            \(misread.mismatch); the session is \(verb), and what could be read is shown below. Upgrade breakglass to read all of it.
            """)
        let saved = SavedProxyLogin.saveOrShow(grant.proxy)
        // The token leaves the JSON only when it went to its file (or, failing that, to stderr with its login).
        output(json: options.json, raw: try SavedProxyLogin.withoutToken(misread.body, carriesToken: grant.proxy != nil, savedTo: saved)) {
            grant.describe(verb: verb, savedProxyLogin: saved)
        }
        guard grant.hasCredential else { throw misread.error }
    }
}
