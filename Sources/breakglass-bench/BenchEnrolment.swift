import BreakglassCore
import BreakglassServer
import BreakglassStore
import Foundation

/// Creates and enrols many engineers at once, the way `breakglassd admin create` and `breakglass enroll`
/// would one by one (the host bootstrap path: no admin step-up, which allows one change per TOTP step).
/// Writes one line per engineer, "API-TOKEN TOTP-SECRET", for `activate`.
enum BenchEnrolment {
    static func enroll(users count: Int, to path: String, environment: [String: String]) async throws {
        let lines = try await BenchDatabase.with(environment, for: "enroll-many") { database in
            let broker = try await BenchDatabase.broker(database, environment: environment, for: "enroll-many")
            return try await withThrowingTaskGroup(of: String.self) { group in
                var lines: [String] = []
                var next = 0
                func launch() {
                    let index = next
                    next += 1
                    group.addTask { try await enrollOne(name: "bench\(index)", broker: broker) }
                }
                for _ in 0..<min(8, count) { launch() }
                while let line = try await group.next() {
                    lines.append(line)
                    if next < count { launch() }
                }
                return lines
            }
        }
        try Data((lines.joined(separator: "\n") + "\n").utf8).write(to: URL(fileURLWithPath: path))
    }

    private static func enrollOne(name: String, broker: Broker) async throws -> String {
        let grant = try await broker.createUser(name: name, roles: [.engineer], actor: nil, origin: .server)
        let challenge = try await broker.startEnrollment(code: grant.enrollmentCode, origin: .server)
        guard let seed = Base32.decode(challenge.secret) else { throw BenchFailure("the enrolment secret of \(name) is not base32") }
        let result = try await broker.confirmEnrollment(code: grant.enrollmentCode, totp: OneTimePassword(secret: seed).code(at: Date()),
                                                        origin: .server)
        return "\(result.apiToken) \(challenge.secret)"
    }
}
