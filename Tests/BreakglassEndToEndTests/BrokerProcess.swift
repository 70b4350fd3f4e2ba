import BreakglassCore
import BreakglassSystem
import BreakglassTestSupport
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A real `breakglassd serve` process on a free loopback port.
enum BrokerProcess {
    case serving(process: RunningProcess, url: String)
    case exited(CommandResult)

    /// Starts it and waits until it is ready or has exited (a refusal at start).
    static func run(_ env: [String: String], arguments: [String] = []) async throws -> BrokerProcess {
        let port = try await LoopbackReceiver.unusedPort()
        let process = try await Tools.start(Tools.binDirectory.appendingPathComponent("breakglassd").path,
                                            ["serve", "--port", String(port)] + arguments, environment: env)
        let url = "http://127.0.0.1:\(port)"
        for _ in 0..<200 {
            if let result = try await process.exited() { return .exited(result) }
            // A short deadline: the HTTP client keeps retrying a refused connection until the deadline passes.
            if let ready = try? await HTTPTestClient(baseURL: url).send(.GET, "/readyz", timeout: .milliseconds(500)), ready.status == 200 {
                return .serving(process: process, url: url)
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        process.signal(SIGKILL)
        let output = try await process.finish()
        throw BreakglassError(.unavailable, "broker_start", "breakglassd neither served nor exited: \(output.stderr.suffix(500))")
    }

    /// Starts one that must serve.
    static func start(_ env: [String: String], arguments: [String] = []) async throws -> (process: RunningProcess, url: String) {
        switch try await run(env, arguments: arguments) {
        case .serving(let process, let url): return (process, url)
        case .exited(let result):
            throw BreakglassError(.unavailable, "broker_start", "breakglassd exited with \(result.status): \(result.stderr.suffix(500))")
        }
    }
}
