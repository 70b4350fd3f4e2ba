import BreakglassCore
import BreakglassTestSupport
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A real `breakglassd serve` process on a free loopback port.
enum BrokerProcess {
    case serving(process: Subprocess, url: String)
    case exited(CommandResult)

    /// Starts it and waits until it is ready or has exited (a refusal at start).
    static func run(_ env: [String: String], arguments: [String] = []) async throws -> BrokerProcess {
        let port = try await LoopbackReceiver.unusedPort()
        let process = try Subprocess.start(Tools.binDirectory.appendingPathComponent("breakglassd").path,
                                           ["serve", "--port", String(port)] + arguments, environment: env)
        let url = "http://127.0.0.1:\(port)"
        for _ in 0..<200 {
            if let result = process.exited() { return .exited(result) }
            // A short deadline: the HTTP client keeps retrying a refused connection until the deadline passes.
            if let ready = try? await HTTPTestClient(baseURL: url).send(.GET, "/readyz", timeout: .milliseconds(500)), ready.status == 200 {
                return .serving(process: process, url: url)
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        process.kill(SIGKILL)
        let output = process.finish()
        throw BreakglassError(.unavailable, "broker_start", "breakglassd neither served nor exited: \(output.stderr.suffix(500))")
    }

    /// Starts one that must serve.
    static func start(_ env: [String: String], arguments: [String] = []) async throws -> (process: Subprocess, url: String) {
        switch try await run(env, arguments: arguments) {
        case .serving(let process, let url): return (process, url)
        case .exited(let result):
            throw BreakglassError(.unavailable, "broker_start", "breakglassd exited with \(result.status): \(result.stderr.suffix(500))")
        }
    }
}
