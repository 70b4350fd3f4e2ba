import BreakglassCore
import BreakglassServer
import BreakglassStore
import Foundation
import Logging
import ServiceLifecycle

/// A real breakglassd (same wiring as `breakglassd serve`) on a free loopback port, on a test database,
/// driven by a manual clock so tests move days ahead without sleeping.
public final class TestServer: @unchecked Sendable {
    // @unchecked: the mutable fields are written once in `start` before the instance is shared.
    public let database: TestDatabase
    public let clock: ManualClock
    public let masterKey: [UInt8]
    public private(set) var port = 0
    public private(set) var broker: Broker!
    private var task: Task<Void, any Error>?
    private var services: ServiceGroup?

    public private(set) var tls: (certificate: String, key: String)?

    public var baseURL: String { "\(tls == nil ? "http" : "https")://127.0.0.1:\(port)" }

    public init(database: TestDatabase, clock: ManualClock, masterKey: [UInt8] = SecretBox.generateKey()) {
        self.database = database
        self.clock = clock
        self.masterKey = masterKey
    }

    /// Starts the server and returns once it accepts connections.
    /// The recording proxy's port when started with `proxy: true`.
    public private(set) var proxyPort: Int?

    /// `deliveryPoll` is the delivery loop's fallback poll; pages committed while it listens wake it sooner.
    public func start(settings: Broker.Settings = .init(), tls: (certificate: String, key: String)? = nil, delivers: Bool = true,
                      deliveryPoll: Duration = .milliseconds(20), idleTimeoutSeconds: Int = 30, proxy: Bool = false) async throws {
        self.tls = tls
        let listen = ListenConfig(host: "127.0.0.1", port: 0, tlsCertificatePath: tls?.certificate, tlsKeyPath: tls?.key,
                                  idleTimeoutSeconds: idleTimeoutSeconds)
        let box = try SecretBox(keyBytes: masterKey)
        let migrator = try Migrator.load(directory: TestDatabase.sqlDirectory)
        let (stream, continuation) = AsyncStream.makeStream(of: (Int, Broker, ServiceGroup).self)
        let runtime = database.runtime
        let clock = clock
        task = Task {
            let logger = TestDatabase.logger
            do {
                let broker = try await Broker.startServing(database: runtime, deadline: .seconds(2), clock: clock, box: box, settings: settings,
                                                           logger: logger)
                let box = ServiceGroupBox()
                let proxyService = proxy
                    ? try await ProxyService.bind(ProxyListenConfig(host: "127.0.0.1", port: 0), broker: broker, listen: listen,
                                                 activityCheck: .milliseconds(200), logger: logger)
                    : nil
                let group = try BrokerServer.makeServiceGroup(
                    broker: broker, migrator: migrator, listen: listen, logger: logger,
                    expiryPoll: .milliseconds(50), deliveryPoll: delivers ? deliveryPoll : nil, retroPoll: .milliseconds(50),
                    signals: [], proxy: proxyService
                ) { port in
                    if let group = box.group { continuation.yield((port, broker, group)) }
                }
                box.group = group
                try await group.run()
            } catch {
                continuation.finish()
                throw error
            }
        }
        for await (port, broker, services) in stream {
            self.port = port
            self.proxyPort = broker.recordingProxy.endpoint?.port
            self.broker = broker
            self.services = services
            return
        }
        _ = try await task?.value
        throw BreakglassError(.unavailable, "server_start", "test server did not start")
    }

    public func stop() async {
        await services?.triggerGracefulShutdown()
        _ = try? await task?.value
        task = nil
    }

    /// Writes the master key where `breakglassd` (run as a process) can read it.
    public func writeMasterKeyFile(in directory: URL) throws -> String {
        let path = directory.appendingPathComponent("master.key").path
        _ = FileManager.default.createFile(atPath: path, contents: Data(Data(masterKey).base64EncodedString().utf8),
                                       attributes: [.posixPermissions: 0o600])
        return path
    }
}

/// Hands the group to the running callback, which fires after the group exists.
private final class ServiceGroupBox: @unchecked Sendable {
    // @unchecked: written once before the group runs, read only after the server is listening.
    var group: ServiceGroup?
}
