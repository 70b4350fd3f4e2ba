import BreakglassCore
import BreakglassStore
import Foundation
import PostgresNIO

#if canImport(Glibc)
import Glibc
#endif

/// A second throwaway PostgreSQL cluster on a free loopback port, to serve as a `postgres` target whose
/// server configuration a test chooses (pgaudit preloaded or not) and whose server log it reads. Started as
/// `scripts/with-postgres.sh` starts the suite's own: as root, under the `postgres` account.
public final class TargetCluster: @unchecked Sendable {
    public let directory: URL
    public let port: Int
    public let password: String
    let binDirectory: String
    let runAs: [String]

    public var host: String { "127.0.0.1" }
    /// The server log the logging collector writes.
    public var logFile: URL { directory.appendingPathComponent("log/postgresql.log") }
    public var superuser: DatabaseConfig {
        DatabaseConfig(host: host, port: port, user: "postgres", password: password, database: "postgres", sslMode: .disable)
    }

    /// Creates and starts it; `preload` goes into `shared_preload_libraries`; with `tls` (PEM certificate and
    /// key files) it also accepts TLS connections.
    public init(preload: [String] = [], tls: (certificate: String, key: String)? = nil) async throws {
        let versions = ((try? FileManager.default.contentsOfDirectory(atPath: "/usr/lib/postgresql")) ?? []).compactMap(Int.init).sorted(by: >)
        guard let version = versions.first else { throw BreakglassError(.internalFailure, "target_cluster", "no PostgreSQL server binaries") }
        binDirectory = "/usr/lib/postgresql/\(version)/bin"
        runAs = getuid() == 0 ? ["/usr/sbin/runuser", "-u", "postgres", "--"] : []
        directory = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("breakglass-target-\(UUID().uuidString.prefix(8))")
        password = Secrets.base64url(Secrets.randomBytes(18))
        port = try Self.freePort()
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
        let pwfile = directory.appendingPathComponent("pw")
        try password.write(to: pwfile, atomically: true, encoding: .utf8)
        if !runAs.isEmpty { try Self.check(await Tools.run("/bin/chown", ["-R", "postgres", directory.path]), "chown") }
        try Self.check(await Tools.run(runAs.first ?? "\(binDirectory)/initdb",
                                       Array(runAs.dropFirst()) + (runAs.isEmpty ? [] : ["\(binDirectory)/initdb"]) +
                                       ["-D", data, "-U", "postgres", "--auth=scram-sha-256", "--pwfile=\(pwfile.path)", "-E", "UTF8", "--locale=C"]),
                       "initdb")
        try? FileManager.default.removeItem(at: pwfile)
        let preloadLine = preload.isEmpty ? "" : "shared_preload_libraries = '\(preload.joined(separator: ","))'\n"
        var tlsLines = ""
        if let tls {
            // The server insists its key is its own and private.
            for (source, name) in [(tls.certificate, "server.crt"), (tls.key, "server.key")] {
                let destination = URL(fileURLWithPath: data).appendingPathComponent(name).path
                try FileManager.default.copyItem(atPath: source, toPath: destination)
                try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: destination)
                if !runAs.isEmpty { try Self.check(await Tools.run("/bin/chown", ["postgres", destination]), "chown") }
            }
            tlsLines = "ssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\n"
        }
        let settings = """

            listen_addresses = '127.0.0.1'
            port = \(port)
            unix_socket_directories = ''
            max_connections = 50
            fsync = off
            \(preloadLine)\(tlsLines)logging_collector = on
            log_destination = 'stderr'
            log_directory = '\(directory.appendingPathComponent("log").path)'
            log_filename = 'postgresql.log'
            log_file_mode = 0644
            log_line_prefix = '%m [%p] user=%u db=%d app=%a '

            """
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: data).appendingPathComponent("postgresql.conf"))
        handle.seekToEndOfFile()
        handle.write(Data(settings.utf8))
        try handle.close()
        try Self.check(await pgCtl(["-D", data, "-l", directory.appendingPathComponent("start.log").path, "-w", "-t", "60", "start"]), "pg_ctl start")
    }

    var data: String { directory.appendingPathComponent("data").path }

    func pgCtl(_ arguments: [String]) async throws -> CommandResult {
        try await Tools.run(runAs.first ?? "\(binDirectory)/pg_ctl", Array(runAs.dropFirst()) + (runAs.isEmpty ? [] : ["\(binDirectory)/pg_ctl"]) + arguments)
    }

    /// Stops it and removes everything it wrote.
    public func stop() async {
        _ = try? await pgCtl(["-D", data, "-m", "immediate", "-w", "stop"])
        try? FileManager.default.removeItem(at: directory)
    }

    /// What `runbooks/set-up-a-postgresql-target.md` has a superuser make: the `payments` database, the role
    /// sessions are granted and the broker's managing role (with the pgaudit settings when it is loaded).
    public func makeRunbookRoles(managerPassword: String, pgaudit: Bool = false) async throws {
        try await run("CREATE DATABASE payments")
        try await run("""
            CREATE ROLE payments_oncall_rw NOLOGIN;
            CREATE ROLE breakglass_manager LOGIN CREATEROLE PASSWORD '\(managerPassword)';
            GRANT payments_oncall_rw TO breakglass_manager WITH ADMIN OPTION;
            GRANT SET ON PARAMETER log_statement TO breakglass_manager
            """ + (pgaudit ? "; GRANT SET ON PARAMETER pgaudit.log, pgaudit.log_parameter TO breakglass_manager" : ""))
    }

    /// Runs statements as the superuser, one at a time (split on `;`).
    public func run(database: String = "postgres", _ sql: String) async throws {
        try await Database.withDatabase(superuser.with(user: "postgres", password: password, database: database), logger: TestDatabase.logger) { db in
            try await db.read { tx in
                for statement in sql.split(separator: ";").map({ $0.trimmingCharacters(in: .whitespacesAndNewlines) }) where !statement.isEmpty {
                    _ = try await tx.connection.query(PostgresQuery(unsafeSQL: statement), logger: TestDatabase.logger).collect()
                }
            }
        }
    }

    /// The first column of every row, as text.
    public func rows(database: String = "postgres", _ sql: String) async throws -> [String] {
        try await Database.withDatabase(superuser.with(user: "postgres", password: password, database: database), logger: TestDatabase.logger) { db in
            try await db.read { tx in
                var out: [String] = []
                for try await value in try await tx.connection.query(PostgresQuery(unsafeSQL: sql), logger: TestDatabase.logger).decode(String.self) {
                    out.append(value)
                }
                return out
            }
        }
    }

    /// What the server has logged so far.
    public func log() -> String {
        (try? String(contentsOf: logFile, encoding: .utf8)) ?? ""
    }

    static func check(_ result: CommandResult, _ what: String) throws {
        guard result.status == 0 else {
            throw BreakglassError(.internalFailure, "target_cluster", "\(what) failed: \(result.stderr.suffix(800))\(result.stdout.suffix(400))")
        }
    }

    static func freePort() throws -> Int { try EmbeddedCluster.freeLoopbackPort() }
}
