import BreakglassCore
import BreakglassStore
import BreakglassTestSupport
import Foundation
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// Real `breakglassd` processes, killed with SIGKILL: a page committed with its activation is delivered
/// by the next instance, never lost.
final class KillTests: BrokerTestCase {
    override var serverDelivers: Bool { false }

    func testPageCommittedBeforeASIGKILLIsDeliveredAfterRestart() async throws {
        let receiver = LoopbackReceiver()
        try await receiver.start()
        addTeardownBlock { await receiver.stop() }
        // The first delivery hangs, so an instance that got as far as sending dies mid-request.
        await receiver.script("/hook", [.init(status: 200, delay: .seconds(5))])
        let alice = try await enrolledUser("alice", roles: [.admin, .engineer])
        try await makeTarget("payments-db", admin: alice)
        let hook = try await adminSend(.PUT, "/v1/notify/channels/hook", as: alice, json: ["kind": "webhook", "url": receiver.url("/hook"), "events": ["session.activated"]])
        XCTAssertEqual(hook.status, 200, hook.text)

        let keyFile = try server.writeMasterKeyFile(in: scratch)
        let env = ["DATABASE_URL": database.runtime.urlWithPassword, "BREAKGLASS_MIGRATION_DATABASE_URL": database.owner.urlWithPassword,
                   "BREAKGLASS_MASTER_KEY_FILE": keyFile, "BREAKGLASS_DELIVERY_CLAIM": "2s", "BREAKGLASS_LOG_LEVEL": "critical"]
        let first = try await BrokerProcess.start(env)
        // Break glass on the real process, with the code for the real time.
        let otp = OneTimePassword(secret: Base32.decode(alice.secret)!)
        let activation = try await HTTPTestClient(baseURL: first.url).send(.POST, "/v1/sessions", token: alice.token, json: [
            "target": "payments-db", "reason": "INC-7 restore the payments ledger", "incident": "INC-7", "totp": otp.code(at: Date()),
        ])
        first.process.signal(SIGKILL)
        _ = try await first.process.finish()
        XCTAssertEqual(activation.status, 201, activation.text)
        let sessionId = (activation.json["session"] as! [String: Any])["id"] as! String
        let undelivered = try await database.count("SELECT count(*)::bigint FROM deliveries WHERE state = 'delivered'")
        XCTAssertEqual(undelivered, 0, "killed before any delivery completed")

        let second = try await BrokerProcess.start(env)
        defer { second.process.stop(SIGTERM) }
        for _ in 0..<200 {
            if try await database.count("SELECT count(*)::bigint FROM deliveries WHERE state = 'delivered'") == 1 { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        let delivered = try await database.count("SELECT count(*)::bigint FROM deliveries WHERE state = 'delivered'")
        XCTAssertEqual(delivered, 1)
        let pages = await receiver.received("/hook")
        XCTAssertGreaterThanOrEqual(pages.count, 1)
        XCTAssertEqual(Set(pages.compactMap { $0.headers["webhook-id"] }).count, 1, "retries reuse the message id, so receivers can deduplicate")
        XCTAssertTrue(pages.allSatisfy { ($0.json["data"] as? [String: Any])?["session_id"] as? String == sessionId })
    }
}
