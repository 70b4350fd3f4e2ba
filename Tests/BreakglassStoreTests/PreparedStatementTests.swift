@testable import BreakglassStore
import BreakglassCore
import BreakglassTestSupport
import Foundation
import PostgresNIO
import Testing

/// The activation's statements are prepared once per connection. A migration that changes what one returns makes
/// PostgreSQL refuse it on that connection for good; the connection must go, not every activation after it.
@Suite(.timeLimit(.minutes(1))) struct PreparedStatementTests {
    let now = Date(timeIntervalSince1970: 1_800_000_000)

    @Test func aStatementAMigrationInvalidatedClosesItsConnectionAndTheNextOnePreparesAfresh() async throws {
        try await withStore { database, test in
            let seeded = try await Seeded.seed(database, now: now)
            let tokenHash = try await seeded.apiToken(database, test, now: now)
            let target = seeded.target.name
            try await database.client.withConnection { connection in
                let tx = Tx(connection: connection, logger: TestDatabase.logger, pages: PagesQueued())
                #expect(try await tx.activations.subject(apiTokenHash: tokenHash, target: target, auditShard: 0)?.user.name == "erin")
                // What an upgrade run by a newer broker could do under this one: a selected column changes type.
                try await test.asSuperuser("ALTER TABLE users ALTER COLUMN created_by TYPE varchar(200)")
                let error = await #expect(throws: PSQLError.self) {
                    try await tx.activations.subject(apiTokenHash: tokenHash, target: target, auditShard: 0)
                }
                #expect(error?.serverInfo?[.sqlState] == "0A000", "\(String(describing: error))")
                #expect(connection.isClosed)
            }
            let name = try await database.transaction {
                try await $0.activations.subject(apiTokenHash: tokenHash, target: target, auditShard: 0)?.user.name
            }
            #expect(name == "erin")
        }
    }
}
