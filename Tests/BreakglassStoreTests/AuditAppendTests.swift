import BreakglassCore
import BreakglassStore
import BreakglassTestSupport
import Foundation
import Testing

/// The chain as the store writes it: concurrent writers on one shard and on many, and rolled-back work.
@Suite(.timeLimit(.minutes(1))) struct AuditAppendTests {
    let now = Date(timeIntervalSince1970: 1_800_000_000)

    func event(_ n: Int, session: String) -> AuditEvent {
        AuditEvent(type: .sessionActivated, at: now + Double(n), actor: "erin", actorRoles: [.engineer], target: "payments-db",
                   sessionId: session, reason: "store test \(n)")
    }

    func verify(_ database: Database) async throws -> AuditVerification {
        try await database.transaction { try await $0.audit.verify() }
    }

    @Test(arguments: [1, 40])
    func concurrentAppendsChainWithoutGapsOrForks(sessions: Int) async throws {
        try await withStore { database in
            let writers = 48
            try await withThrowingTaskGroup(of: Void.self) { group in
                for n in 0..<writers {
                    group.addTask {
                        _ = try await database.transaction { tx in
                            try await tx.audit.append(event(n, session: "bg_s\(n % sessions)"))
                        }
                    }
                }
                try await group.waitForAll()
            }
            let verdict = try await verify(database)
            #expect(verdict.intact, "\(String(describing: verdict.firstBroken))")
            #expect(verdict.eventsChecked == writers)
            #expect(verdict.heads.map(\.seq).reduce(0, +) == Int64(writers), "every append moved its head by exactly one")
        }
    }

    @Test func aRolledBackAppendLeavesNeitherARowNorAMovedHead() async throws {
        try await withStore { database in
            _ = try await database.transaction { try await $0.audit.append(event(0, session: "bg_kept")) }
            let before = try await database.read { try await $0.audit.heads() }
            // The body gives up after writing: a refusal the use case raises, as the broker's own are.
            let abandoned = BreakglassError(.conflict, "abandoned", "the test gives up after appending")
            await #expect(throws: abandoned) {
                try await database.transaction { tx in
                    try await tx.audit.append(event(1, session: "bg_kept"))
                    try await tx.audit.append(batch: (2..<6).map { event($0, session: "bg_other\($0)") })
                    throw abandoned
                }
            }
            let after = try await database.read { try await $0.audit.heads() }
            #expect(after == before)
            _ = try await database.transaction { try await $0.audit.append(event(7, session: "bg_kept")) }
            let verdict = try await verify(database)
            #expect(verdict.intact, "\(String(describing: verdict.firstBroken))")
            #expect(verdict.eventsChecked == 2)
        }
    }

    /// What a graceful shutdown waits for before the pool closes: every record only queued (a statement's result) committed.
    @Test func drainingTheJournalReturnsOnlyOnceEverythingQueuedIsCommitted() async throws {
        try await withStore { database in
            let journal = AuditBatcher(database: database)
            for n in 0..<20 { await journal.submit([event(n, session: "bg_j\(n % 3)")]) }
            await journal.drained()
            let rows = try await database.read { try await $0.audit.rows() }
            #expect(rows.count == 20)
            await journal.drained()   // nothing queued: returns at once
        }
    }

    @Test func aBatchIsChainedInItsOrderAcrossShards() async throws {
        try await withStore { database in
            let events = (0..<30).map { event($0, session: "bg_b\($0 % 7)") }
            try await database.transaction { try await $0.audit.append(batch: events) }
            let rows = try await database.read { try await $0.audit.rows() }
            #expect(rows.count == 30)
            // Within each shard, ids and sequence numbers follow the order the events were given.
            for shard in Set(rows.map(\.shard)) {
                let chained = rows.filter { $0.shard == shard }.sorted { $0.id < $1.id }
                #expect(chained.map(\.seq) == Array(1...Int64(chained.count)))
                #expect(chained.map { AuditChain.decode(body: $0.body)?.reason }
                    == events.filter { AuditChain.shard(for: $0.shardKey) == shard }.map(\.reason))
            }
            let verdict = try await verify(database)
            #expect(verdict.intact)
        }
    }
}
