import BreakglassCore
import BreakglassSystem
import Foundation

/// Runs PostgreSQL's own tools for the embedded cluster, through `ChildProcess`. PostgreSQL refuses to run as root,
/// so as root they run as an unprivileged account through `runuser`.
struct ProcessRunner: Sendable {
    let runAs: String?

    /// Standard error is merged into the output, so a failure's message shows what the tool said, in order.
    @discardableResult
    func run(_ executable: String, _ arguments: [String], allowFailure: Bool = false) async throws -> (status: Int32, output: String) {
        let argv = runAs.map { ["/usr/sbin/runuser", "-u", $0, "--", executable] + arguments } ?? [executable] + arguments
        let outcome: ChildProcess.Outcome
        do {
            outcome = try await ChildProcess(argv[0], Array(argv.dropFirst())).run(mergingErrorIntoOutput: true)
        } catch {
            throw BreakglassError(.internalFailure, "embedded_postgres", "\(error)")
        }
        if outcome.status != 0 && !allowFailure {
            let name = (executable as NSString).lastPathComponent
            throw BreakglassError(.internalFailure, "embedded_postgres", "\(name) failed (exit \(outcome.status)): \(outcome.stdout.suffix(600))")
        }
        return (outcome.status, outcome.stdout)
    }
}
