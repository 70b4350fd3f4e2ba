import BreakglassCore
import BreakglassSystem
import Foundation
import Logging

#if canImport(Glibc)
import Glibc
#endif

/// The embedded default: a private PostgreSQL cluster in the broker's data directory, created on first
/// start and reused afterwards. It listens on loopback only, with SCRAM passwords kept in 0600 files.
public struct EmbeddedCluster: Sendable {
    public let dataDirectory: URL
    let runner: ProcessRunner
    let binDirectory: URL
    let logger: Logger

    static let superuser = "breakglass_owner"
    static let runtimeUser = "breakglass_server"
    static let databaseName = "breakglass"

    public var clusterDirectory: URL { dataDirectory.appendingPathComponent("pg") }
    /// PostgreSQL's own data directory, inside `clusterDirectory` so initdb gets the empty folder it wants.
    var pgData: URL { clusterDirectory.appendingPathComponent("data") }
    var initialisedMarker: URL { clusterDirectory.appendingPathComponent(".initialised") }
    /// Whether a first start created the cluster already.
    public var isInitialised: Bool { FileManager.default.fileExists(atPath: initialisedMarker.path) }
    var ownerPasswordFile: URL { dataDirectory.appendingPathComponent("pg-owner.password") }
    var runtimePasswordFile: URL { dataDirectory.appendingPathComponent("pg-server.password") }
    var portFile: URL { dataDirectory.appendingPathComponent("pg.port") }

    public init(dataDirectory: URL, logger: Logger) throws {
        self.dataDirectory = dataDirectory
        self.logger = logger
        runner = ProcessRunner(runAs: getuid() == 0 ? Self.clusterAccount(dataDirectory) : nil)
        binDirectory = try Self.findBinaries()
    }

    /// PostgreSQL refuses to run as root. Root runs it as the account that owns an existing data directory (a
    /// service's own user, so `breakglassd admin` as root works on the service's cluster), else as `postgres`.
    static func clusterAccount(_ dataDirectory: URL) -> String {
        var info = stat()
        guard stat(dataDirectory.path, &info) == 0, info.st_uid != 0, let entry = getpwuid(info.st_uid) else { return "postgres" }
        return String(cString: entry.pointee.pw_name)
    }

    /// The per-user default: root keeps it in /var/lib (the postgres account must be able to reach it).
    public static func defaultDataDirectory(environment: [String: String]) -> URL {
        if let dir = environment["BREAKGLASS_DATA_DIR"], !dir.isEmpty { return URL(fileURLWithPath: dir) }
        if getuid() == 0 { return URL(fileURLWithPath: "/var/lib/breakglass") }
        let base = environment["XDG_DATA_HOME"].map { URL(fileURLWithPath: $0) }
            ?? URL(fileURLWithPath: environment["HOME"] ?? NSTemporaryDirectory()).appendingPathComponent(".local/share")
        return base.appendingPathComponent("breakglass")
    }

    static func findBinaries() throws -> URL {
        let root = "/usr/lib/postgresql"
        let versions = ((try? FileManager.default.contentsOfDirectory(atPath: root)) ?? [])
            .compactMap(Int.init).sorted(by: >)
        for version in versions where FileManager.default.isExecutableFile(atPath: "\(root)/\(version)/bin/initdb") {
            return URL(fileURLWithPath: "\(root)/\(version)/bin")
        }
        throw BreakglassError(.internalFailure, "embedded_postgres",
                              "PostgreSQL server binaries not found under \(root); install the postgresql package (scripts/start.sh does) or set DATABASE_URL")
    }

    public struct Connections: Sendable {
        /// Owns the schema; runs migrations.
        public let owner: DatabaseConfig
        /// What the server runs as: may read and append, not rewrite history.
        public let runtime: DatabaseConfig
        /// True when this call started the cluster (and so should stop it).
        public let started: Bool
    }

    /// Creates the cluster if needed, starts it if it is not running, and provisions the database.
    public func start() async throws -> Connections {
        try prepareDataDirectory()
        if !FileManager.default.fileExists(atPath: initialisedMarker.path) {
            try await initialise()
        }
        let port = try readPort()
        removeStalePidFile()
        let status = try await runner.run(bin("pg_ctl"), ["-D", pgData.path, "status"], allowFailure: true)
        var started = false
        if status.status != 0 {
            logger.info("starting embedded PostgreSQL", metadata: ["pg.data": "\(clusterDirectory.path)", "pg.port": "\(port)"])
            try await startServer()
            started = true
        } else {
            logger.info("reusing the running embedded PostgreSQL", metadata: ["pg.data": "\(clusterDirectory.path)", "pg.port": "\(port)"])
        }
        let owner = DatabaseConfig(host: "127.0.0.1", port: port, user: Self.superuser, password: try readSecret(ownerPasswordFile),
                                   database: Self.databaseName, sslMode: .disable)
        let runtimePassword = try readOrCreateSecret(runtimePasswordFile)
        try await Provisioning.prepare(superuser: owner.with(user: Self.superuser, password: owner.password, database: "postgres"),
                                       database: Self.databaseName, runtimeUser: Self.runtimeUser, runtimePassword: runtimePassword,
                                       logger: logger)
        return Connections(owner: owner, runtime: owner.with(user: Self.runtimeUser, password: runtimePassword), started: started)
    }

    func prepareDataDirectory() throws {
        try FileManager.default.createDirectory(at: dataDirectory, withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: runner.runAs == nil ? 0o700 : 0o711])
    }

    /// After a PostgreSQL that was killed, its last backends may hold the old shared memory for a moment and
    /// the new postmaster refuses to start until they are gone: a few tries, a second apart.
    private func startServer() async throws {
        let arguments = ["-D", pgData.path, "-l", clusterDirectory.appendingPathComponent("server.log").path, "-w", "-t", "60", "start"]
        for _ in 0..<4 {
            if try await runner.run(bin("pg_ctl"), arguments, allowFailure: true).status == 0 { return }
            try await Task.sleep(for: .seconds(1))
        }
        try await runner.run(bin("pg_ctl"), arguments)
    }

    /// Runs to its end even when the calling task is cancelled (a cancelled run kills its child): a cluster left
    /// running keeps the data directory and its port.
    public func stop() async {
        let runner = runner, arguments = ["-D", pgData.path, "-m", "fast", "-w", "stop"], pgCtl = bin("pg_ctl")
        _ = try? await Task { try await runner.run(pgCtl, arguments, allowFailure: true) }.value
    }

    private func initialise() async throws {
        logger.notice("creating embedded PostgreSQL cluster", metadata: ["pg.data": "\(clusterDirectory.path)"])
        let password = try readOrCreateSecret(ownerPasswordFile)
        let fm = FileManager.default
        try? fm.removeItem(at: clusterDirectory)
        try fm.createDirectory(at: clusterDirectory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        // initdb reads the password from a file the cluster's account can read; removed straight after.
        let pwfile = clusterDirectory.appendingPathComponent(".initdb-pw")
        do {
            try SecretFile.create(atPath: pwfile.path, contents: Array(password.utf8))
        } catch {
            throw BreakglassError(.internalFailure, "embedded_postgres", "cannot write in \(clusterDirectory.path) (\(error))")
        }
        defer { try? fm.removeItem(at: pwfile) }
        if let account = runner.runAs {
            try await ProcessRunner(runAs: nil).run("/bin/chown", ["-R", account, clusterDirectory.path])
        }
        let data = pgData
        try await runner.run(bin("initdb"), ["-D", data.path, "-U", Self.superuser, "--auth=scram-sha-256", "--pwfile=\(pwfile.path)",
                                             "-E", "UTF8", "--locale=C"])
        let port = try Self.freeLoopbackPort()
        let settings = """

            # breakglass embedded cluster
            listen_addresses = '127.0.0.1'
            port = \(port)
            unix_socket_directories = ''
            max_connections = 200
            password_encryption = 'scram-sha-256'

            """
        let handle = try FileHandle(forWritingTo: data.appendingPathComponent("postgresql.conf"))
        handle.seekToEndOfFile()
        handle.write(Data(settings.utf8))
        try handle.close()
        try String(port).write(to: portFile, atomically: true, encoding: .utf8)
        // Written last: a cluster interrupted half-way through initdb is recreated on the next start.
        try "initialised\n".write(to: initialisedMarker, atomically: true, encoding: .utf8)
    }

    private func bin(_ name: String) -> String { binDirectory.appendingPathComponent(name).path }

    private func readPort() throws -> Int {
        guard let text = try? String(contentsOf: portFile, encoding: .utf8),
              let port = Int(text.trimmingCharacters(in: .whitespacesAndNewlines)) else {
            throw BreakglassError(.internalFailure, "embedded_postgres", "\(portFile.path) is missing or damaged")
        }
        return port
    }

    private func readSecret(_ file: URL) throws -> String {
        guard let text = try? String(contentsOf: file, encoding: .utf8) else {
            throw BreakglassError(.internalFailure, "embedded_postgres", "\(file.path) is missing")
        }
        return text.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    private func readOrCreateSecret(_ file: URL) throws -> String {
        if let existing = try? readSecret(file) { return existing }
        let secret = Secrets.base64url(Secrets.randomBytes(32))
        do {
            try SecretFile.create(atPath: file.path, contents: Array(secret.utf8))
        } catch {
            throw BreakglassError(.internalFailure, "embedded_postgres", "cannot write \(file.path) (\(error))")
        }
        return secret
    }

    /// Asks the kernel for a free loopback port.
    public static func freeLoopbackPort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw BreakglassError(.internalFailure, "embedded_postgres", "cannot open a socket") }
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = 0
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) == 0 && getsockname(fd, $0, &len) == 0 }
        }
        guard bound else { throw BreakglassError(.internalFailure, "embedded_postgres", "cannot find a free loopback port") }
        return Int(UInt16(bigEndian: addr.sin_port))
    }
}
