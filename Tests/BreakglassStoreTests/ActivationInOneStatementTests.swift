import BreakglassCore
import BreakglassStore
import BreakglassTestSupport
import Foundation
import Testing

/// The common activation is decided on rows read without locks and written by one statement that links its audit event
/// to the shard's head in the database (`breakglass_activate`). It must write everything or nothing, refuse a glance that
/// any of the three rows has outdated, spend a TOTP step once however many race for it, and chain as `AuditChain` does.
@Suite(.timeLimit(.minutes(1))) struct ActivationInOneStatementTests {
    let now = Date(timeIntervalSince1970: 1_800_000_000)

    private func record(_ seeded: Seeded, sessionId: String, step: Int64) throws -> ActivationRecord {
        let activation = try Activation.decide(id: sessionId, requester: seeded.user, roles: [.engineer], target: seeded.target,
                                               reason: "INC-7 \"quoted\" reason", incident: "INC-7", ttl: 900, drill: false,
                                               ladder: .standard, origin: RequestOrigin(address: "10.0.0.7", userAgent: "store test"), now: now)
        let session = activation.session
        return ActivationRecord(session: session, userId: seeded.userId, step: step,
                                credential: CredentialRef(kind: .token, keyId: "k1", tokenId: sessionId, audience: seeded.target.audience, role: nil),
                                origin: RequestOrigin(address: "10.0.0.7", userAgent: "store test"), obligation: activation.obligation,
                                pageType: Activation.pageType, page: session.pagePayload, event: activation.activated(keyId: "k1"), now: now)
    }

    private func glance(_ database: Database, _ tokenHash: [UInt8], _ seeded: Seeded) async throws -> ActivationGlance {
        try #require(try await database.read { try await $0.activations.glance(apiTokenHash: tokenHash, target: seeded.target.name) })
    }

    private func written(_ test: TestDatabase) async throws -> [Int] {
        [try await test.count("SELECT count(*)::bigint FROM sessions"), try await test.count("SELECT count(*)::bigint FROM retro_obligations"),
         try await test.count("SELECT count(*)::bigint FROM outbox"), try await test.count("SELECT count(*)::bigint FROM audit_events"),
         try await test.count("SELECT coalesce(sum(seq), 0)::bigint FROM audit_chain_heads"),
         try await test.count("SELECT totp_last_step FROM users")]
    }

    /// What an operator might add: a constraint on sessions checked only at commit, which always refuses.
    private func refuseSessionsAtCommit(_ test: TestDatabase) async throws {
        try await test.asSuperuser("""
            CREATE FUNCTION refuse_at_commit() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'refused at commit'; END $$
            """)
        try await test.asSuperuser("""
            CREATE CONSTRAINT TRIGGER sessions_refuse_at_commit AFTER INSERT ON sessions DEFERRABLE INITIALLY DEFERRED
                FOR EACH ROW EXECUTE FUNCTION refuse_at_commit()
            """)
    }

    @Test func anActivationOnAnUnchangedGlanceIsWrittenWholeAndChainsAsTheCoreSealsIt() async throws {
        try await withStore { database, test in
            let seeded = try await Seeded.seed(database, now: now)
            let tokenHash = try await seeded.apiToken(database, test, now: now)
            let seen = try await glance(database, tokenHash, seeded)
            let a = try record(seeded, sessionId: "bg_onestatement", step: 60_000_001)
            let shard = AuditChain.shard(for: a.event.shardKey)
            let head = try await database.read { try await $0.audit.heads() }.first { $0.shard == shard }
            #expect(try await database.autocommit { try await $0.activations.recordIfUnchanged(a, tokenHash: tokenHash, glance: seen) })
            #expect(try await written(test) == [1, 1, 1, 1, 1, 60_000_001])
            let sealed = AuditChain.seal(a.event, shard: shard, seq: (head?.seq ?? 0) + 1, prevHash: head?.hash ?? AuditChain.genesisHash)
            #expect(try await test.count("SELECT count(*)::bigint FROM audit_events WHERE body = '\(sealed.body.replacingOccurrences(of: "'", with: "''"))' AND hash = '\(sealed.hash)'") == 1,
                    "the database wrote the body and link the core seals")
            let verification = try await database.transaction { try await $0.audit.verify() }
            #expect(verification.intact && verification.eventsChecked == 1)
        }
    }

    /// Each of the three rows the decision rests on, changed after the glance: nothing is written, the step stays unspent.
    @Test(arguments: ["UPDATE users SET roles = roles", "UPDATE api_tokens SET revoked_at = now()", "UPDATE targets SET requesters = requesters",
                      "UPDATE users SET locked_until = now() + interval '1 hour'"])
    func aGlanceOutdatedByAChangedRowWritesNothing(change: String) async throws {
        try await withStore { database, test in
            let seeded = try await Seeded.seed(database, now: now)
            let tokenHash = try await seeded.apiToken(database, test, now: now)
            let seen = try await glance(database, tokenHash, seeded)
            try await test.asSuperuser(change)
            let a = try record(seeded, sessionId: "bg_outdated", step: 60_000_001)
            #expect(try await !database.autocommit { try await $0.activations.recordIfUnchanged(a, tokenHash: tokenHash, glance: seen) })
            #expect(try await written(test) == [0, 0, 0, 0, 0, 0])
        }
    }

    @Test func aStepAlreadySpentWritesNothing() async throws {
        try await withStore { database, test in
            let seeded = try await Seeded.seed(database, now: now)
            let tokenHash = try await seeded.apiToken(database, test, now: now)
            try await test.asSuperuser("UPDATE users SET totp_last_step = 60000001")
            let seen = try await glance(database, tokenHash, seeded)
            let a = try record(seeded, sessionId: "bg_spent", step: 60_000_001)
            #expect(try await !database.autocommit { try await $0.activations.recordIfUnchanged(a, tokenHash: tokenHash, glance: seen) })
            #expect(try await written(test) == [0, 0, 0, 0, 0, 60_000_001])
        }
    }

    /// The write commits at the Sync after its result, and postgres-nio reports no error that comes after a result: a
    /// deferred constraint an operator added must fail inside the statement, so the caller sees it and issues nothing.
    @Test func aConstraintDeferredToCommitFailsTheStatementItself() async throws {
        try await withStore { database, test in
            let seeded = try await Seeded.seed(database, now: now)
            let tokenHash = try await seeded.apiToken(database, test, now: now)
            try await refuseSessionsAtCommit(test)
            let seen = try await glance(database, tokenHash, seeded)
            let a = try record(seeded, sessionId: "bg_deferred", step: 60_000_001)
            await #expect(throws: (any Error).self) {
                try await database.autocommit { try await $0.activations.recordIfUnchanged(a, tokenHash: tokenHash, glance: seen) }
            }
            #expect(try await written(test) == [0, 0, 0, 0, 0, 0])
        }
    }

    /// The same failure at commit, with the function's own guard taken out: the broker's check that the connection
    /// answers after the result must still refuse it. With postgres-nio 1.33.2 the connection never answers again after
    /// an error that follows a result, so the refusal is the database deadline's (10 s here): slow, but nothing issued.
    @Test func anAbortAfterTheResultIsCaughtByTheNextStatement() async throws {
        try await withStore { database, test in
            let seeded = try await Seeded.seed(database, now: now)
            let tokenHash = try await seeded.apiToken(database, test, now: now)
            let migration = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../sql/0012_activation_in_one_statement.sql")
            let text = try String(contentsOf: migration, encoding: .utf8)
            let start = try #require(text.range(of: "CREATE FUNCTION")), end = try #require(text.range(of: "$$;", range: start.upperBound..<text.endIndex))
            let unguarded = String(text[start.lowerBound..<end.lowerBound]).replacingOccurrences(of: "SET CONSTRAINTS ALL IMMEDIATE;", with: "") + "$$"
            #expect(unguarded.count < text.count && !unguarded.contains("SET CONSTRAINTS ALL IMMEDIATE"))
            try await test.asSuperuser(unguarded.replacingOccurrences(of: "CREATE FUNCTION", with: "CREATE OR REPLACE FUNCTION"))
            try await refuseSessionsAtCommit(test)
            let seen = try await glance(database, tokenHash, seeded)
            let a = try record(seeded, sessionId: "bg_unguarded", step: 60_000_001)
            await #expect(throws: (any Error).self) {
                try await database.autocommit { try await $0.activations.recordIfUnchanged(a, tokenHash: tokenHash, glance: seen) }
            }
            #expect(try await written(test) == [0, 0, 0, 0, 0, 0])
        }
    }

    /// A SERIALIZABLE commit can fail after the result, so the one statement declines and the locked path writes.
    @Test func underSerializableTheOneStatementDeclines() async throws {
        try await withStore { database, test in
            let seeded = try await Seeded.seed(database, now: now)
            let tokenHash = try await seeded.apiToken(database, test, now: now)
            try await test.asSuperuser("ALTER DATABASE \"\(test.name)\" SET default_transaction_isolation = 'serializable'")
            // New connections take the database's default.
            let declined = try await Database.withDatabase(test.runtime, logger: TestDatabase.logger) { serializable in
                let seen = try await glance(serializable, tokenHash, seeded)
                let a = try record(seeded, sessionId: "bg_serializable", step: 60_000_001)
                return try await !serializable.autocommit { try await $0.activations.recordIfUnchanged(a, tokenHash: tokenHash, glance: seen) }
            }
            #expect(declined)
            #expect(try await written(test) == [0, 0, 0, 0, 0, 0])
        }
    }

    /// A missing head is the locked path's error to report: the one statement declines before spending anything.
    @Test func aMissingHeadDeclinesBeforeSpendingTheStep() async throws {
        try await withStore { database, test in
            let seeded = try await Seeded.seed(database, now: now)
            let tokenHash = try await seeded.apiToken(database, test, now: now)
            let seen = try await glance(database, tokenHash, seeded)
            let a = try record(seeded, sessionId: "bg_headless", step: 60_000_001)
            try await test.asSuperuser("DELETE FROM audit_chain_heads WHERE shard = \(AuditChain.shard(for: a.event.shardKey))")
            #expect(try await !database.autocommit { try await $0.activations.recordIfUnchanged(a, tokenHash: tokenHash, glance: seen) })
            #expect(try await test.count("SELECT totp_last_step FROM users") == 0)
            #expect(try await test.count("SELECT count(*)::bigint FROM sessions") == 0)
        }
    }

    /// Many requests proving the same code from one glance: exactly one is written, the others find the row changed.
    @Test func racingActivationsOfOneStepWriteOnce() async throws {
        try await withStore { database, test in
            let seeded = try await Seeded.seed(database, now: now)
            let tokenHash = try await seeded.apiToken(database, test, now: now)
            let seen = try await glance(database, tokenHash, seeded)
            let outcomes = try await withThrowingTaskGroup(of: Bool.self) { group in
                for i in 0..<12 {
                    let a = try record(seeded, sessionId: "bg_race\(i)", step: 60_000_001)
                    group.addTask { try await database.autocommit { try await $0.activations.recordIfUnchanged(a, tokenHash: tokenHash, glance: seen) } }
                }
                return try await group.reduce(into: [Bool]()) { $0.append($1) }
            }
            #expect(outcomes.filter { $0 }.count == 1)
            #expect(try await written(test) == [1, 1, 1, 1, 1, 60_000_001])
        }
    }

    /// Activations of different engineers on one shard, at once: the links the database makes form one chain.
    @Test func concurrentActivationsOnOneShardChainWithoutForks() async throws {
        try await withStore { database, test in
            let seeded = try await Seeded.seed(database, now: now)
            let tokenHash = try await seeded.apiToken(database, test, now: now)
            // Sessions whose ids all fall on shard 0, each spending a later step of the same engineer would conflict,
            // so each writes its own step from its own glance taken after the previous write: 16 writers queue on the head.
            let ids = (0..<4000).map { "bg_shard\($0)" }.filter { AuditChain.shard(for: $0) == 0 }.prefix(16)
            try await withThrowingTaskGroup(of: Void.self) { group in
                for (i, id) in ids.enumerated() {
                    group.addTask {
                        var step = Int64(60_000_001 + i)
                        // Retried on a changed row (another writer moved the engineer's row first), as the broker falls back.
                        while true {
                            let seen = try await glance(database, tokenHash, seeded)
                            if seen.user.lastStep >= step { step = seen.user.lastStep + 1 }
                            let a = try record(seeded, sessionId: id, step: step)
                            if try await database.autocommit({ try await $0.activations.recordIfUnchanged(a, tokenHash: tokenHash, glance: seen) }) {
                                return
                            }
                        }
                    }
                }
                try await group.waitForAll()
            }
            #expect(try await test.count("SELECT count(*)::bigint FROM audit_events WHERE shard = 0") == ids.count)
            let verification = try await database.transaction { try await $0.audit.verify() }
            #expect(verification.intact && verification.eventsChecked == ids.count)
        }
    }
}
