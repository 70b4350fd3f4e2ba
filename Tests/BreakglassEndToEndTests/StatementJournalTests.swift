import BreakglassCore
import BreakglassProxy
import BreakglassStore
import BreakglassTestSupport
import Foundation
import XCTest

/// Statements recorded by the proxy are audit events of their session, committed in groups: the chain
/// stays intact, and a superuser's edit of a recorded statement is named by verification.
final class StatementJournalTests: BrokerTestCase {
    func verify() async throws -> AuditVerification {
        try await server.broker.database.transaction { tx in
            AuditChain.verify(rows: try await tx.audit.rows(), recordedHeads: try await tx.audit.heads())
        }
    }

    func testConcurrentStatementsShareCommitsAndEachWaiterReturnsCommitted() async throws {
        let batcher = AuditBatcher(database: server.broker.database)
        let now = clock.now()
        let database: TestDatabase = self.database
        try await withThrowingTaskGroup(of: Void.self) { group in
            for connection in 0..<40 {
                group.addTask { [database] in
                    let record = StatementRecord(sequence: 0, origin: .extended(statement: "", portal: ""), text: "SELECT $1::int",
                                                 parameters: [.text(String(connection))])
                    try await batcher.append([record.auditEvent(session: "bg_JOURNAL", connection: String(connection), target: "payments-db",
                                                                actor: "bob", at: now)])
                    // Returned means committed: the row is visible to anyone.
                    let rows = try await database.count("""
                        SELECT count(*)::bigint FROM audit_events
                        WHERE event_type = 'session.statement' AND (body::jsonb) -> 'event' -> 'details' ->> 'connection' = '\(connection)'
                        """)
                    XCTAssertEqual(rows, 1)
                }
            }
            try await group.waitForAll()
        }
        let batches = await batcher.batches
        XCTAssertLessThan(batches, 40, "statements arriving together share a transaction")
        let recorded = try await database.lines("""
            SELECT (body::jsonb) -> 'event' -> 'details' ->> 'parameters' FROM audit_events WHERE session_id = 'bg_JOURNAL' ORDER BY id
            """)
        XCTAssertEqual(Set(recorded), Set((0..<40).map { "[\"\($0)\"]" }))
        let intact = try await verify()
        XCTAssertTrue(intact.intact)
    }

    func testASuperuserEditOfARecordedStatementIsNamedByVerify() async throws {
        let batcher = AuditBatcher(database: server.broker.database)
        let record = StatementRecord(sequence: 0, origin: .simpleQuery, text: "DELETE FROM payments WHERE id = 1")
        try await batcher.append([record.auditEvent(session: "bg_JOURNAL", connection: "1", target: "payments-db", actor: "bob",
                                                    at: clock.now())])
        try await database.asSuperuser("""
            DO $$ BEGIN
                SET LOCAL session_replication_role = replica;
                UPDATE audit_events SET body = replace(body, 'DELETE FROM payments', 'SELECT * FROM payments') WHERE session_id = 'bg_JOURNAL';
            END $$
            """)
        let result = try await verify()
        XCTAssertFalse(result.intact)
        let edited = try await database.lines("SELECT id::text FROM audit_events WHERE session_id = 'bg_JOURNAL'")
        XCTAssertEqual(result.firstBroken?.eventId.map { String($0) }, edited.first)
    }
}
