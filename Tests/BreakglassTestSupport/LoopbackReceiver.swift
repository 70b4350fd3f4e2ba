import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle

/// A real HTTP server on loopback standing in for Slack, PagerDuty or a webhook consumer. Records every
/// request as it arrives and answers from a script (then from the default answer).
public final class LoopbackReceiver: @unchecked Sendable {
    // @unchecked: the mutable fields are set in `start` before the receiver is shared; the rest is the actor.
    public struct Received: Sendable {
        public let path: String
        public let headers: [String: String]
        public let body: Data
        public let arrivedAt: ContinuousClock.Instant
        public var json: [String: Any] { (try? JSONSerialization.jsonObject(with: body)) as? [String: Any] ?? [:] }
    }

    public struct Answer: Sendable {
        public var status: Int
        public var headers: [String: String]
        public var body: String
        public var delay: Duration?
        /// Runs while the request is held, before the answer (e.g. moving a test's manual clock: a slow receiver).
        public var whileHolding: (@Sendable () async -> Void)?

        public init(status: Int, headers: [String: String] = [:], body: String = "", delay: Duration? = nil,
                    whileHolding: (@Sendable () async -> Void)? = nil) {
            self.status = status
            self.headers = headers
            self.body = body
            self.delay = delay
            self.whileHolding = whileHolding
        }
    }

    actor State {
        var received: [Received] = []
        var scripts: [String: [Answer]] = [:]
        var defaults: [String: Answer] = [:]

        func record(_ r: Received) -> Answer {
            received.append(r)
            if var queue = scripts[r.path], !queue.isEmpty {
                let answer = queue.removeFirst()
                scripts[r.path] = queue
                return answer
            }
            return defaults[r.path] ?? Answer(status: 200, body: "ok")
        }
        func script(_ path: String, _ answers: [Answer]) { scripts[path, default: []] += answers }
        func setDefault(_ path: String, _ answer: Answer) { defaults[path] = answer }
        func all() -> [Received] { received }
    }

    let state = State()
    public private(set) var port = 0
    private var group: ServiceGroup?
    private var task: Task<Void, any Error>?

    public init() {}

    public func url(_ path: String) -> String { "http://127.0.0.1:\(port)\(path)" }

    public func start(port requested: Int = 0) async throws {
        let router = Router()
        let state = state
        router.post("**") { request, _ -> Response in
            var request = request
            let body = try await request.collectBody(upTo: 1 << 20)
            var headers: [String: String] = [:]
            for field in request.headers { headers[field.name.canonicalName] = field.value }
            let answer = await state.record(Received(path: request.uri.path, headers: headers, body: Data(body.readableBytesView),
                                                              arrivedAt: .now))
            if let delay = answer.delay { try await Task.sleep(for: delay) }
            await answer.whileHolding?()
            var fields = HTTPFields()
            for (name, value) in answer.headers { if let key = HTTPField.Name(name) { fields[key] = value } }
            return Response(status: .init(code: answer.status), headers: fields, body: .init(byteBuffer: ByteBuffer(string: answer.body)))
        }
        var logger = Logger(label: "loopback-receiver")
        logger.logLevel = .critical
        let (stream, continuation) = AsyncStream.makeStream(of: Int.self)
        let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: requested)),
                              onServerRunning: { channel in continuation.yield(channel.localAddress?.port ?? requested) }, logger: logger)
        let group = ServiceGroup(configuration: .init(services: [app], gracefulShutdownSignals: [], logger: logger))
        self.group = group
        task = Task { try await group.run() }
        for await bound in stream {
            port = bound
            return
        }
    }

    /// A loopback port with nothing listening on it (a receiver that is down).
    public static func unusedPort() async throws -> Int {
        let probe = LoopbackReceiver()
        try await probe.start()
        await probe.stop()
        return probe.port
    }

    public func stop() async {
        await group?.triggerGracefulShutdown()
        _ = try? await task?.value
    }

    public func script(_ path: String, _ answers: [Answer]) async { await state.script(path, answers) }
    public func setDefault(_ path: String, _ answer: Answer) async { await state.setDefault(path, answer) }
    public func received(_ path: String? = nil) async -> [Received] {
        await state.all().filter { path == nil || $0.path == path }
    }

    /// Waits (real time) until at least `count` requests reached `path`.
    public func waitFor(_ count: Int, at path: String, timeout: Duration = .seconds(10)) async throws -> [Received] {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            let got = await received(path)
            if got.count >= count { return got }
            try await Task.sleep(for: .milliseconds(20))
        }
        return await received(path)
    }
}
