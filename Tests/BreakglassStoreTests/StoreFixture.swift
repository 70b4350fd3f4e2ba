import BreakglassCore
import BreakglassStore
import BreakglassTestSupport
import Foundation

/// A fresh, migrated database per test, reached through the unprivileged runtime role as the server reaches it,
/// and dropped when the test's body returns or throws.
func withStore<T: Sendable>(_ body: @Sendable (Database, TestDatabase) async throws -> T) async throws -> T {
    let test = try await TestDatabase.create()
    do {
        let result = try await Database.withDatabase(test.runtime, logger: TestDatabase.logger) { try await body($0, test) }
        await test.drop()
        return result
    } catch {
        await test.drop()
        throw error
    }
}

func withStore<T: Sendable>(_ body: @Sendable (Database) async throws -> T) async throws -> T {
    try await withStore { database, _ in try await body(database) }
}

/// The rows a session needs before it can be stored: an engineer and a token target.
struct Seeded: Sendable {
    let userId: UUID
    let user = "erin"
    let target = Target(name: "payments-db", kind: .token, audience: "payments", maxTTL: 3600, maxTotal: 4 * 3600, retroDeadline: 86400,
                        requesters: ["erin"])

    static func seed(_ database: Database, now: Date) async throws -> Seeded {
        try await database.transaction { tx in
            let id = try await tx.users.insert(name: "erin", roles: [.engineer], createdBy: "test", now: now)
            let seeded = Seeded(userId: id)
            _ = try await tx.targets.save(seeded.target, by: "test", now: now)
            return seeded
        }
    }

    /// An active session opened `ago` seconds before `now`, lasting `ttl`.
    func session(_ id: String, now: Date, ago: TimeInterval, ttl: TimeInterval) -> EmergencySession {
        let at = Timestamp.truncated(now - ago)
        return EmergencySession(id: id, requester: user, target: target.name, reason: "store test", incident: "INC-1", state: .active,
                                activatedAt: at, expiresAt: at + ttl, hardLimit: at + target.maxTotal, retroDueAt: at + 86400, extensions: 0)
    }

    /// An API token for the engineer, whose TOTP enrolment is then confirmed: what an activation authenticates.
    func apiToken(_ database: Database, _ test: TestDatabase, now: Date) async throws -> [UInt8] {
        let hash = Array(repeating: UInt8(7), count: 32)
        try await database.transaction { tx in
            try await tx.tokens.insert(hash: hash, userId: userId, now: now, expiresAt: now + 3600, via: .login)
        }
        try await test.asSuperuser("UPDATE users SET totp_confirmed = true")
        return hash
    }

    func insert(_ session: EmergencySession, into database: Database) async throws {
        try await database.transaction { tx in
            try await tx.sessions.insert(session, userId: userId, credential: CredentialRef(kind: .token, keyId: "k1", tokenId: session.id,
                                                                                           audience: target.audience, role: nil),
                                       origin: .server)
        }
    }
}

/// Holds a transaction open at a point the test chooses: the transaction signals `reached` and waits for `release`.
final class Gate: Sendable {
    private let reachedStream: AsyncStream<Void>
    private let reachedContinuation: AsyncStream<Void>.Continuation
    private let releaseStream: AsyncStream<Void>
    private let releaseContinuation: AsyncStream<Void>.Continuation

    init() {
        (reachedStream, reachedContinuation) = AsyncStream.makeStream()
        (releaseStream, releaseContinuation) = AsyncStream.makeStream()
    }

    /// Called inside the held transaction.
    func hold() async {
        reachedContinuation.yield()
        for await _ in releaseStream { return }
    }

    func reached() async {
        for await _ in reachedStream { return }
    }

    func release() { releaseContinuation.yield() }
}
