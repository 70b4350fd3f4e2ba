import BreakglassCore
import BreakglassStore
import BreakglassTestSupport
import Foundation
import Testing

/// Several broker instances run expiry at once: what one has claimed, the others skip, until it commits.
@Suite(.timeLimit(.minutes(1))) struct SessionClaimTests {
    let now = Date(timeIntervalSince1970: 1_800_000_000)

    @Test func concurrentExpiryClaimsAreDisjointAndReleasedAtCommit() async throws {
        try await withStore { database in
            let seeded = try await Seeded.seed(database, now: now)
            for n in 0..<10 {
                try await seeded.insert(seeded.session("bg_expired_\(n)", now: now, ago: 7200 + Double(n), ttl: 3600), into: database)
            }
            try await seeded.insert(seeded.session("bg_current", now: now, ago: 60, ttl: 3600), into: database)

            let gate = Gate()
            async let first = database.transaction { tx in
                let claimed = try await tx.sessions.claimExpired(now: now, limit: 4)
                await gate.hold()
                return claimed.map(\.id)
            }
            await gate.reached()
            let second = try await database.transaction { try await $0.sessions.claimExpired(now: now, limit: 100).map(\.id) }
            gate.release()
            let firstIds = try await first

            #expect(firstIds.count == 4)
            #expect(second.count == 6, "the other instance takes only what is not claimed")
            #expect(Set(firstIds).isDisjoint(with: second))
            #expect(Set(firstIds + second) == Set((0..<10).map { "bg_expired_\($0)" }), "a session not yet due is never claimed")
            // The first instance committed without recording anything: its claims are free again.
            let again = try await database.transaction { try await $0.sessions.claimExpired(now: now, limit: 100) }
            #expect(again.count == 10)
        }
    }

    @Test func aSecondTransitionFromActiveIsANoOpTheCallerCanSee() async throws {
        try await withStore { database in
            let seeded = try await Seeded.seed(database, now: now)
            let session = seeded.session("bg_race", now: now, ago: 60, ttl: 3600)
            try await seeded.insert(session, into: database)
            let ended = try session.end(by: "erin", now: now)
            let revoked = try session.revoke(by: "alice", reason: "INC-1 access no longer needed", now: now)

            let endedApplied = try await database.transaction { try await $0.sessions.update(ended, from: .active) }
            let revokedApplied = try await database.transaction { try await $0.sessions.update(revoked, from: .active) }
            #expect(endedApplied)
            #expect(!revokedApplied, "a session already ended cannot also be revoked")
            let stored = try await database.read { try await $0.sessions.find(id: "bg_race") }
            #expect(stored?.session.state == .ended)
            #expect(stored?.session.closedBy == "erin")
        }
    }

    /// One unreadable credential reference makes that session's own reads an internal error naming the column, and
    /// never stops expiry, which does not need the reference.
    @Test func anUnreadableCredentialReferenceIsACorruptRowButStillExpires() async throws {
        try await withStore { database, test in
            let seeded = try await Seeded.seed(database, now: now)
            try await seeded.insert(seeded.session("bg_odd", now: now, ago: 7200, ttl: 3600), into: database)
            try await test.asSuperuser("UPDATE sessions SET credential_ref = '{\"kind\": \"quantum\"}' WHERE id = 'bg_odd'")

            let error = await #expect(throws: BreakglassError.self) {
                try await database.read { try await $0.sessions.find(id: "bg_odd") }
            }
            #expect(error?.code == "corrupt_row")
            #expect(error?.message.contains("sessions.credential_ref") == true, "\(String(describing: error))")
            let claimed = try await database.transaction { try await $0.sessions.claimExpired(now: now, limit: 10) }
            #expect(claimed.map(\.id) == ["bg_odd"])
        }
    }
}
