import BreakglassCore
import BreakglassStore
import BreakglassTestSupport
import Foundation
import Testing

/// An activation locks its requester and the audit head its event will extend in one statement. Every other use case
/// locks a user first and a head after (an extension, a lockout, a login): the activation must take them in that
/// order too, or the two wait on each other and PostgreSQL aborts one.
@Suite(.timeLimit(.minutes(1))) struct ActivationLockTests {
    let now = Date(timeIntervalSince1970: 1_800_000_000)

    @Test func anActivationWaitingForItsRequesterHoldsNoAuditHead() async throws {
        try await withStore { database, test in
            let seeded = try await Seeded.seed(database, now: now)
            let tokenHash = try await seeded.apiToken(database, test, now: now)
            let sessionId = "bg_lockorder"
            let shard = AuditChain.shard(for: sessionId)

            // Another use case holds the engineer's row, as an extension or a lockout does before it appends.
            let gate = Gate()
            async let other: Void = database.transaction { tx in
                _ = try await tx.users.find(id: seeded.userId, forUpdate: true)
                await gate.hold()
                // ...and then appends to the very head the activation will extend.
                try await tx.audit.append(AuditEvent(type: .sessionExtended, at: now, actor: "erin", sessionId: sessionId))
            }
            await gate.reached()
            async let activation = database.transaction { tx in
                try await tx.activations.subject(apiTokenHash: tokenHash, target: seeded.target.name, auditShard: shard)?.user.name
            }
            try await waitFor("the activation waiting on a lock") {
                try await test.count("SELECT count(*)::bigint FROM pg_stat_activity WHERE datname = '\(test.name)' AND wait_event_type = 'Lock'") >= 1
            }
            gate.release()
            try await other
            #expect(try await activation == "erin", "neither side was aborted as a deadlock victim")
        }
    }
}
