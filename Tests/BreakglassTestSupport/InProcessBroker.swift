import BreakglassCore
import BreakglassServer
import BreakglassStore
import Foundation
import Hummingbird

/// A real `Broker` on a fresh test database, with the router `breakglassd` serves, for tests that drive routes in
/// process (HummingbirdTesting's `.router`): no port, no child process, the real middleware stacks.
public struct InProcessBroker {
    public let broker: Broker
    public let clock: ManualClock
    public let router: Router<BreakglassRequestContext>

    /// Runs `body` against a broker whose clock stands still at 2027-01-15 08:00 UTC; the database is dropped after.
    public static func with(_ body: @Sendable (InProcessBroker) async throws -> Void) async throws {
        let database = try await TestDatabase.create()
        do {
            let clock = ManualClock(Date(timeIntervalSince1970: 1_800_000_000))
            let migrator = try Migrator.load(directory: TestDatabase.sqlDirectory)
            try await Database.withDatabase(database.runtime, logger: TestDatabase.logger) { db in
                let broker = try await Broker.start(database: db, clock: clock, box: try SecretBox(keyBytes: SecretBox.generateKey()),
                                                    settings: .init(), logger: TestDatabase.logger)
                try await body(InProcessBroker(broker: broker, clock: clock, router: try BrokerServer.makeRouter(broker: broker, migrator: migrator)))
            }
        } catch {
            await database.drop()
            throw error
        }
        await database.drop()
    }

    /// An enrolled user's API token, through the broker's own enrolment.
    public func enrol(_ name: String, roles: [Role]) async throws -> String {
        let grant = try await broker.createUser(name: name, roles: roles, actor: nil, origin: .server)
        let challenge = try await broker.startEnrollment(code: grant.enrollmentCode, origin: .server)
        let result = try await broker.confirmEnrollment(code: grant.enrollmentCode, totp: try Tools.oathtool(secret: challenge.secret, at: clock.now()),
                                                        origin: .server)
        return result.apiToken
    }
}
