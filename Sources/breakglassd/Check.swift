import ArgumentParser
import BreakglassCore
import BreakglassNotify
import BreakglassServer
import BreakglassStore
import Foundation

/// `breakglassd check`: what `serve` would run on, checked without serving (like `nginx -t`). Exits 1 when
/// any check fails; each failure says what to do.
struct Check: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check configuration, database, migrations, role privileges, master key and channels; exit 1 on any problem.",
        discussion: """
            Channels are probed with a HEAD request to their server's root, which sends no page; --send-test also \
            queues a real notify.test page per enabled channel, which a running broker delivers (see breakglass notify log).
            """)

    @Flag(help: "Print the findings as JSON.")
    var json = false

    @Flag(help: "Also queue a notify.test page for every enabled channel.")
    var sendTest = false

    func run() async throws {
        let runtime = Runtime(logLevel: .warning)
        let report = await Self.diagnose(runtime, sendTest: sendTest)
        print(json ? report.json : report.text, terminator: "")
        if !report.ok { throw ExitCode(1) }
    }

    static func diagnose(_ runtime: Runtime, sendTest: Bool) async -> CheckReport {
        var report = CheckReport()
        await report.run("configuration") {
            _ = try runtime.settings()
            _ = try PrivilegedRolePolicy.from(flag: false, environment: runtime.environment)
            return "every setting is valid"
        }
        await report.run("listen") {
            let listen = try runtime.listen()
            let tls = try listen.tlsConfiguration() != nil
            let plain = listen.isLoopback ? "plain HTTP on loopback" : "plain HTTP on a non-loopback address (--insecure-listen: only behind a TLS proxy)"
            return "\(listen.host):\(listen.port) " + (tls ? "with TLS (certificate and key load)" : plain)
        }
        let migrator: Migrator
        do {
            migrator = try runtime.migrator()
        } catch {
            report.fail("migrations", CheckReport.message(error))
            return report
        }
        let external = DatabaseConfig.selectingVariable(runtime.environment) != nil
        if !external, let cluster = try? EmbeddedCluster(dataDirectory: runtime.dataDirectory, logger: runtime.logger), !cluster.isInitialised {
            report.fail("database", "\(runtime.databaseChoice), but it does not exist yet: `breakglassd migrate` (or the first `serve`) creates it")
            return report
        }
        let databases: Runtime.Databases
        do {
            databases = try await runtime.databases()
        } catch {
            report.fail("database", "\(runtime.databaseChoice): \(CheckReport.message(error))")
            return report
        }
        let settings = sendTest ? try? runtime.settings() : nil
        do {
            report.append(try await Database.withDatabase(databases.runtime, logger: runtime.logger) { database in
                try await databaseFindings(database, runtime: runtime, databases: databases, migrator: migrator, testPages: settings)
            })
        } catch {
            report.fail("database", "\(runtime.databaseChoice): \(databases.runtime.redacted) does not answer: \(CheckReport.message(error))")
        }
        await databases.stopEmbeddedIfOwned()
        return report
    }

    /// Everything that needs the database; `testPages` (the settings) queues a test page per channel.
    static func databaseFindings(_ database: Database, runtime: Runtime, databases: Runtime.Databases, migrator: Migrator,
                                 testPages settings: Broker.Settings?) async throws -> CheckReport {
        var report = CheckReport()
        let status = try await database.read { try await migrator.status($0) }
        report.pass("database", "\(runtime.databaseChoice): \(databases.runtime.redacted) answers")
        report.migrations(status)
        await report.run("runtime role") { try await checkRole(database, runtime: runtime) }
        let box: SecretBox
        do {
            box = try await checkMasterKey(database, runtime: runtime, embedded: databases.embedded != nil)
            report.pass("master key", "present, mode 0600, decrypts the stored signing keys")
        } catch {
            report.fail("master key", CheckReport.message(error))
            return report
        }
        await report.channels(database: database, box: box)
        if let settings {
            await report.run("test pages") { try await queueTestPages(database, box: box, settings: settings, runtime: runtime) }
        }
        return report
    }

    static func checkRole(_ database: Database, runtime: Runtime) async throws -> String {
        let findings = try await database.read { try await RuntimeRoleFindings.examine($0) }
        if findings.isUnprivileged { return "'\(findings.role)' can read and append the audit log, not rewrite it" }
        let problem = "'\(findings.role)' \(findings.problems.joined(separator: ", ")), so the server could rewrite the audit log"
        if try PrivilegedRolePolicy.from(flag: false, environment: runtime.environment) == .allow {
            return problem + " (accepted by BREAKGLASS_ALLOW_PRIVILEGED_ROLE=1)"
        }
        throw ValidationError(problem + "; serve as a separate login role granted breakglass_app and give BREAKGLASS_MIGRATION_DATABASE_URL as the schema owner")
    }

    /// The key file's presence and mode (as `serve` reads it), then that it opens every stored signing key.
    static func checkMasterKey(_ database: Database, runtime: Runtime, embedded: Bool) async throws -> SecretBox {
        let box = try runtime.masterKey(embedded: embedded, create: false)
        let keys = try await database.read { try await $0.signingKeys.unretired() }
        for key in keys {
            do {
                _ = try box.open(key.privateKeyEnc, context: key.encryptionContext)
            } catch {
                throw ValidationError("the master key does not decrypt signing key \(key.kid): this is not the key this database was set up with; restore the right BREAKGLASS_MASTER_KEY_FILE from your backup")
            }
        }
        return box
    }

    static func queueTestPages(_ database: Database, box: SecretBox, settings: Broker.Settings, runtime: Runtime) async throws -> String {
        let broker = try await Broker.start(database: database, clock: SystemClock(), box: box, settings: settings, logger: runtime.logger)
        var queued: [String] = []
        for channel in try await Broker.channelEndpoints(database: database, box: box) where channel.enabled {
            do {
                try await broker.testChannel(name: channel.name, actor: nil, origin: .server)
                queued.append(channel.name)
            } catch let error as BreakglassError where error.code == "test_pending" {
                queued.append("\(channel.name) (one already waiting)")
            }
        }
        return queued.isEmpty ? "no enabled channel to test" : "queued notify.test for \(queued.joined(separator: ", ")); a running broker sends them: breakglass notify log"
    }
}

extension CheckReport {
    mutating func migrations(_ status: MigrationStatus) {
        if !status.changed.isEmpty {
            fail("migrations", "changed after they were applied: \(status.changed.joined(separator: ", ")); restore the original files and add a new migration instead")
        } else if !status.unknown.isEmpty {
            fail("migrations", "the database has \(status.unknown.joined(separator: ", ")), unknown to this build; run a newer breakglassd")
        } else if !status.pending.isEmpty {
            fail("migrations", "pending: \(status.pending.joined(separator: ", ")); apply them with `breakglassd migrate` (as the schema owner)")
        } else {
            pass("migrations", "\(status.applied.count) applied, none pending, checksums match")
        }
    }

    /// Each channel's server must answer; nothing is sent to the channel's own path.
    mutating func channels(database: Database, box: SecretBox) async {
        let endpoints: [ChannelEndpoint]
        do {
            endpoints = try await Broker.channelEndpoints(database: database, box: box)
        } catch {
            fail("channels", CheckReport.message(error))
            return
        }
        if endpoints.isEmpty {
            fail("channels", "no notification channel: activations would page nobody; add one with `breakglass notify set-channel`")
            return
        }
        let client = ChannelSender.makeClient()
        for channel in endpoints {
            let name = "channel \(channel.name)"
            guard channel.enabled else {
                fail(name, "\(channel.kind.rawValue) to \(channel.host) is disabled (\(channel.disabledReason ?? "no reason recorded")); fix it and run `breakglass notify enable \(channel.name)`")
                continue
            }
            let probe = await ChannelProbe.probe(url: channel.url, client: client)
            if probe.reachable {
                pass(name, "\(channel.kind.rawValue) to \(channel.host) answers (\(probe.detail), \(probe.latencyMs) ms)")
            } else {
                fail(name, "\(channel.kind.rawValue) to \(channel.host) is unreachable (\(probe.detail)); check DNS, firewall and proxy settings from this host")
            }
        }
        try? await client.shutdown()
    }
}
