import BreakglassCore
import Foundation
import Logging
import NIOSSL
import PostgresNIO

/// The `postgres` kind in `direct` mode: one temporary login role per session on the target, made by the
/// broker's managing role. Every statement run on the target is built here, with identifiers quoted and
/// the password sent only as a SCRAM verifier.
public struct PostgresRoleBackend: CredentialBackend {
    public var kind: CredentialKind { .postgres }
    let logger: Logger
    let connectTimeout: TimeAmount
    /// How long revoke waits for terminated backends to go before it drops what the role owns.
    let terminationWait: Duration

    public init(logger: Logger, connectTimeout: TimeAmount = .seconds(10), terminationWait: Duration = .seconds(5)) {
        var quiet = logger
        // postgres-nio logs statements at debug level; none of ours carries a password, but the target's
        // connection chatter is not an operator's business below a warning.
        quiet.logLevel = max(logger.logLevel, .warning)
        self.logger = quiet
        self.connectTimeout = connectTimeout
        self.terminationWait = terminationWait
    }

    // MARK: CredentialBackend

    public func issue(session: EmergencySession, on target: CredentialTarget, now: Date) async throws -> IssuedSecret {
        let settings = try Self.settings(target)
        let role = PostgresTarget.roleName(sessionId: session.id)
        // 192 bits from the system CSPRNG; base64url so it survives a shell `export` unquoted.
        let password = Secrets.base64url(Secrets.randomBytes(24))
        var done: [String] = []
        try await withConnection(target, step: "connect") { connection in
            done.append("connect")
            let pgaudit = try await Self.step("detect_pgaudit", done: done) { try await Self.pgauditLoaded(connection, logger: logger) }
            // One transaction: a failure at any step leaves no role behind.
            try await Self.step("begin", done: done) { try await Self.run(connection, "BEGIN", logger: logger) }
            do {
                for (name, sql) in Self.creationStatements(role: role, sessionId: session.id, verifier: ScramVerifier.make(password: password),
                                                           validUntil: session.expiresAt, settings: settings, pgaudit: pgaudit) {
                    try await Self.step(name, done: done) { try await Self.run(connection, sql, logger: logger) }
                    done.append(name)
                }
                try await Self.step("commit", done: done) { try await Self.run(connection, "COMMIT", logger: logger) }
            } catch {
                try? await Self.run(connection, "ROLLBACK", logger: logger)
                throw error
            }
        }
        return IssuedSecret(kind: .postgres, postgres: PostgresLogin(user: role, password: password, host: settings.host, port: settings.port,
                                                                      database: settings.database, sslmode: settings.tls.rawValue),
                            steps: done)
    }

    public func extend(session: EmergencySession, on target: CredentialTarget, now: Date) async throws -> IssuedSecret {
        let settings = try Self.settings(target)
        let role = PostgresTarget.roleName(sessionId: session.id)
        try await withConnection(target, step: "connect") { connection in
            try await Self.step("valid_until", done: ["connect"]) {
                try await Self.run(connection, "ALTER ROLE \(Self.identifier(role)) VALID UNTIL \(Self.literal(Self.timestamp(session.expiresAt)))",
                                   logger: logger)
            }
        }
        return IssuedSecret(kind: .postgres, postgres: PostgresLogin(user: role, password: nil, host: settings.host, port: settings.port,
                                                                      database: settings.database, sslmode: settings.tls.rawValue),
                            steps: ["connect", "valid_until"])
    }

    public func revoke(sessionId: String, on target: CredentialTarget) async throws -> [String] {
        let role = PostgresTarget.roleName(sessionId: sessionId)
        var done: [String] = []
        try await withConnection(target, step: "connect") { connection in
            done.append("connect")
            let exists = try await Self.step("find_role", done: done) {
                try await connection.query("SELECT 1 FROM pg_roles WHERE rolname = \(role)", logger: logger).collect().count > 0
            }
            guard exists else {
                done.append("role_absent")
                return
            }
            // New logins first, then the open ones: VALID UNTIL alone never ends a connection.
            let q = Self.identifier(role)
            for (name, sql) in [("nologin", "ALTER ROLE \(q) NOLOGIN"),
                                // Membership lets the managing role terminate the role's backends and take what it owns.
                                ("take_membership", "GRANT \(q) TO CURRENT_USER")] {
                try await Self.step(name, done: done) { try await Self.run(connection, sql, logger: logger) }
                done.append(name)
            }
            try await Self.step("terminate_backends", done: done) {
                _ = try await connection.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = \(role)",
                                               logger: logger).collect()
                let deadline = ContinuousClock.now + terminationWait
                while ContinuousClock.now < deadline {
                    let left = try await connection.query("SELECT 1 FROM pg_stat_activity WHERE usename = \(role)", logger: logger).collect()
                    if left.isEmpty { break }
                    try await Task.sleep(for: .milliseconds(50))
                }
            }
            done.append("terminate_backends")
            // What a role owns, and the privileges granted to it, live per database: take them over in every
            // database where it has any (the shared catalog says which), else DROP ROLE refuses.
            let elsewhere = try await Self.step("find_databases", done: done) {
                var names: [String] = []
                let rows = try await connection.query("""
                    SELECT DISTINCT d.datname::text FROM pg_shdepend s JOIN pg_database d ON d.oid = s.dbid
                    WHERE s.refclassid = 'pg_authid'::regclass AND s.refobjid = (SELECT oid FROM pg_roles WHERE rolname = \(role))
                      AND d.datname <> current_database() ORDER BY 1
                    """, logger: logger)
                for try await name in rows.decode(String.self) { names.append(name) }
                return names
            }
            for database in elsewhere {
                try await withConnection(target, database: database, step: "connect@\(database)", done: done) { other in
                    for (name, sql) in Self.takeOverStatements(q) {
                        try await Self.step("\(name)@\(database)", done: done) { try await Self.run(other, sql, logger: logger) }
                        done.append("\(name)@\(database)")
                    }
                }
            }
            for (name, sql) in Self.takeOverStatements(q) + [("drop_role", "DROP ROLE IF EXISTS \(q)")] {
                try await Self.step(name, done: done) { try await Self.run(connection, sql, logger: logger) }
                done.append(name)
            }
        }
        return done
    }

    /// Gives what the role owns in the connected database to the managing role, then drops its privileges there.
    static func takeOverStatements(_ quotedRole: String) -> [(String, String)] {
        [("reassign_owned", "REASSIGN OWNED BY \(quotedRole) TO CURRENT_USER"), ("drop_owned", "DROP OWNED BY \(quotedRole)")]
    }

    public func leftovers(on target: CredentialTarget) async throws -> [String] {
        try await withConnection(target, step: "connect") { connection in
            var ids: [String] = []
            let rows = try await connection.query(
                "SELECT rolname, coalesce(shobj_description(oid, 'pg_authid'), '') FROM pg_roles WHERE rolname LIKE 'bg\\_%'", logger: logger)
            for try await (name, comment) in rows.decode((String, String).self) {
                guard PostgresTarget.isSessionRole(name), let id = PostgresTarget.sessionId(fromComment: comment),
                      PostgresTarget.roleName(sessionId: id) == name else { continue }
                ids.append(id)
            }
            return ids
        }
    }

    /// Can the managing role connect, create a role, grant the configured role and set the logging? Tried in
    /// a transaction that is rolled back, so the check is the real thing and leaves nothing.
    public func check(_ target: CredentialTarget) async throws {
        let settings = try Self.settings(target)
        try await withConnection(target, step: "connect") { connection in
            let rows = try await connection.query("""
                SELECT rolsuper, rolcreaterole FROM pg_roles WHERE rolname = current_user
                """, logger: logger).decode((Bool, Bool).self)
            var superuser = false, createRole = false
            for try await (s, c) in rows { (superuser, createRole) = (s, c) }
            guard superuser || createRole else {
                throw CredentialStepFailure(done: ["connect"], failedStep: "check_createrole",
                                            message: "the managing role '\(settings.managingRole)' lacks CREATEROLE on the target")
            }
            let grantRole = settings.grantRole
            let exists = try await connection.query("SELECT 1 FROM pg_roles WHERE rolname = \(grantRole)", logger: logger).collect()
            guard !exists.isEmpty else {
                throw CredentialStepFailure(done: ["connect"], failedStep: "check_grant_role",
                                            message: "the role to grant '\(grantRole)' does not exist on the target")
            }
            let pgaudit = try await Self.pgauditLoaded(connection, logger: logger)
            let probe = "bg_setupcheck_" + Secrets.base64url(Secrets.randomBytes(6)).lowercased().filter { $0.isLetter || $0.isNumber }
            var done = ["connect", "check_createrole", "check_grant_role"]
            try await Self.run(connection, "BEGIN", logger: logger)
            do {
                for (name, sql) in Self.creationStatements(role: probe, sessionId: "setup-check", verifier: ScramVerifier.make(password: probe),
                                                           validUntil: Date(timeIntervalSince1970: 0), settings: settings, pgaudit: pgaudit) {
                    try await Self.step(name, done: done) { try await Self.run(connection, sql, logger: logger) }
                    done.append(name)
                }
                // What revoke needs: membership in the role (to end its backends and take what it owns).
                try await Self.step("take_membership", done: done) {
                    try await Self.run(connection, "GRANT \(Self.identifier(probe)) TO CURRENT_USER", logger: logger)
                }
            } catch {
                try? await Self.run(connection, "ROLLBACK", logger: logger)
                throw error
            }
            try await Self.run(connection, "ROLLBACK", logger: logger)
        }
    }

    // MARK: Statements on the target

    /// The statements that make one session's role, each with the step name it is audited under.
    static func creationStatements(role: String, sessionId: String, verifier: String, validUntil: Date, settings: PostgresTarget,
                                   pgaudit: Bool) -> [(String, String)] {
        let q = identifier(role)
        var statements = [
            ("create_role", """
                CREATE ROLE \(q) WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS INHERIT \
                CONNECTION LIMIT \(settings.connectionLimit) PASSWORD \(literal(verifier)) VALID UNTIL \(literal(timestamp(validUntil)))
                """),
            ("grant_role", "GRANT \(identifier(settings.grantRole)) TO \(q)"),
        ]
        if pgaudit {
            statements.append(("set_pgaudit_log", "ALTER ROLE \(q) SET pgaudit.log = 'all'"))
            statements.append(("set_pgaudit_log_parameter", "ALTER ROLE \(q) SET pgaudit.log_parameter = on"))
        } else {
            statements.append(("set_log_statement", "ALTER ROLE \(q) SET log_statement = 'all'"))
        }
        if let timeout = settings.statementTimeout {
            statements.append(("set_statement_timeout", "ALTER ROLE \(q) SET statement_timeout = \(literal("\(Int(timeout))s"))"))
        }
        statements.append(("set_application_name", "ALTER ROLE \(q) SET application_name = \(literal(sessionId))"))
        statements.append(("comment", "COMMENT ON ROLE \(q) IS \(literal(PostgresTarget.roleComment(sessionId: sessionId)))"))
        return statements
    }

    /// A quoted identifier: `"` doubled inside.
    static func identifier(_ name: String) -> String {
        "\"" + name.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    /// An escaped string literal for the places PostgreSQL takes no bind parameter (utility statements).
    /// `E''` so the meaning does not depend on `standard_conforming_strings`.
    static func literal(_ text: String) -> String {
        "E'" + text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "'", with: "''") + "'"
    }

    static func timestamp(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        return formatter.string(from: date)
    }

    /// Whether pgaudit is loaded: its settings are then defined (a mere placeholder never shows in
    /// `pg_settings`, and `shared_preload_libraries` is not readable by a non-superuser).
    static func pgauditLoaded(_ connection: PostgresConnection, logger: Logger) async throws -> Bool {
        try await !connection.query("SELECT 1 FROM pg_settings WHERE name = 'pgaudit.log'", logger: logger).collect().isEmpty
    }

    static func run(_ connection: PostgresConnection, _ sql: String, logger: Logger) async throws {
        _ = try await connection.query(PostgresQuery(unsafeSQL: sql), logger: logger).collect()
    }

    /// Runs one step; a failure names the step, what was done before it and the server's reason.
    static func step<T>(_ name: String, done: [String], _ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let failure as CredentialStepFailure {
            throw failure
        } catch {
            throw CredentialStepFailure(done: done, failedStep: name, message: describe(error))
        }
    }

    // MARK: Connection

    static func settings(_ target: CredentialTarget) throws -> PostgresTarget {
        guard let settings = target.target.postgres else {
            throw CredentialStepFailure(done: [], failedStep: "settings", message: "target \(target.target.name) has no PostgreSQL settings")
        }
        return settings
    }

    /// Connects as the managing role to the target's database (or `database` on the same server); a failure
    /// to connect is the step `step`, with `done` the steps before it.
    func withConnection<T>(_ target: CredentialTarget, database: String? = nil, step: String, done: [String] = [],
                           _ body: (PostgresConnection) async throws -> T) async throws -> T {
        let settings = try Self.settings(target)
        let tls: PostgresConnection.Configuration.TLS
        do {
            switch settings.tls {
            case .disable: tls = .disable
            case .require:
                var config = TLSConfiguration.makeClientConfiguration()
                config.certificateVerification = .none
                tls = .require(try NIOSSLContext(configuration: config))
            case .verifyFull: tls = .require(try NIOSSLContext(configuration: .makeClientConfiguration()))
            }
        } catch {
            throw CredentialStepFailure(done: done, failedStep: step, message: "TLS could not be set up: \(error)")
        }
        var configuration = PostgresConnection.Configuration(host: settings.host, port: settings.port, username: settings.managingRole,
                                                             password: target.managingPassword, database: database ?? settings.database, tls: tls)
        configuration.options.connectTimeout = connectTimeout
        let connection: PostgresConnection
        do {
            connection = try await PostgresConnection.connect(configuration: configuration, id: 1, logger: logger)
        } catch {
            throw CredentialStepFailure(done: done, failedStep: step, message:
                "cannot connect to \(settings.host):\(settings.port)/\(database ?? settings.database) as \(settings.managingRole): \(Self.describe(error))")
        }
        do {
            let result = try await body(connection)
            try? await connection.close()
            return result
        } catch let failure as CredentialStepFailure {
            try? await connection.close()
            throw failure
        } catch {
            try? await connection.close()
            throw CredentialStepFailure(done: done + [step], failedStep: "query", message: Self.describe(error))
        }
    }

    /// The server's own words for a failure (postgres-nio hides them behind a generic description).
    static func describe(_ error: any Error) -> String {
        if let error = error as? PSQLError {
            if let message = error.serverInfo?[.message] {
                return message + (error.serverInfo?[.sqlState].map { " (SQLSTATE \($0))" } ?? "")
            }
            if let underlying = error.underlying { return "\(error.code): \(underlying)" }
            return "\(error.code)"
        }
        return "\(error)"
    }
}
