import BreakglassCore
import BreakglassServer
import BreakglassTestSupport
import Foundation
import NIOHTTP1
import XCTest

/// An attacker holds an admin's API token (a lost laptop) but not the authenticator.
final class AdminStepUpTests: BrokerTestCase {
    var receiver: LoopbackReceiver!

    override func setUp() async throws {
        try await super.setUp()
        receiver = LoopbackReceiver()
        try await receiver.start()
    }

    override func tearDown() async throws {
        await receiver?.stop()
        try await super.tearDown()
    }

    func testAStolenAdminTokenAloneChangesNothing() async throws {
        let alice = try await enrolledUser("alice", roles: [.admin, .engineer])
        _ = try await enrolledUser("bob", roles: [.engineer])
        try await makeTarget("payments-db", admin: alice)
        let saved = try await adminSend(.PUT, "/v1/notify/channels/compliance", as: alice,
                                        json: ["kind": "webhook", "url": receiver.url("/compliance"), "events": ["*"]])
        XCTAssertEqual(saved.status, 200, saved.text)

        // Every admin change with the token alone: refused before anything is written.
        let attempts: [(HTTPMethod, String, [String: Any])] = [
            (.PUT, "/v1/notify/channels/compliance", ["kind": "webhook", "url": "http://127.0.0.1:9/attacker", "events": ["*"]]),
            (.POST, "/v1/users", ["name": "mallory", "roles": ["admin"]]),
            (.POST, "/v1/users/bob/enrollment", [:]),
            (.POST, "/v1/users/bob/unlock", [:]),
            (.PUT, "/v1/users/bob/github", ["login": "mallory"]),
            (.PUT, "/v1/targets/payments-db", ["max_ttl": "24h", "requesters": ["user:mallory"]]),
            (.POST, "/v1/notify/channels/compliance/enable", [:]),
            (.POST, "/v1/notify/deliveries/\(UUID().uuidString)/retry", [:]),
        ]
        for (method, path, body) in attempts {
            let reply = try await http.send(method, path, token: alice.token, json: body)
            XCTAssertEqual(reply.status, 400, "\(method) \(path): \(reply.text)")
            XCTAssertEqual(reply.errorCode, "totp_required", "\(method) \(path)")
        }
        let users = try await database.count("SELECT count(*)::bigint FROM users")
        XCTAssertEqual(users, 2)
        let enrolmentCodes = try await database.count("SELECT count(*)::bigint FROM enrollment_codes WHERE used_at IS NULL")
        XCTAssertEqual(enrolmentCodes, 0)

        // A guessed code is refused, audited, counted and paged on the existing channel.
        let guess = try await http.send(.PUT, "/v1/notify/channels/compliance", token: alice.token,
                                        json: ["kind": "webhook", "url": "http://127.0.0.1:9/attacker", "events": ["*"], "totp": "000000"])
        XCTAssertEqual(guess.status, 403, guess.text)
        let denied = try await receiver.waitFor(1, at: "/compliance").last
        XCTAssertEqual(denied?.json["type"] as? String, "admin.step_up_denied")
        let deniedEvents = try await database.count("SELECT count(*)::bigint FROM audit_events WHERE event_type = 'admin.step_up_denied'")
        XCTAssertEqual(deniedEvents, 1)
        let failures = try await database.count("SELECT count(*)::bigint FROM totp_failures")
        XCTAssertEqual(failures, 1)
        let host = try await server.broker.database.read { try await $0.channels.find(named: "compliance")?.host }
        XCTAssertEqual(host, "127.0.0.1", "the channel still points where it did")
    }

    func testRepointingAChannelAnnouncesItselfOnTheOldEndpoint() async throws {
        let alice = try await enrolledUser("alice", roles: [.admin, .engineer])
        try await makeTarget("payments-db", admin: alice)
        let first = try await adminSend(.PUT, "/v1/notify/channels/compliance", as: alice,
                                        json: ["kind": "webhook", "url": receiver.url("/old"), "events": ["*"]])
        XCTAssertEqual(first.status, 200, first.text)

        let code = try await code(alice.secret)
        let repoint = try await http.send(.PUT, "/v1/notify/channels/compliance", token: alice.token,
                                          json: ["kind": "webhook", "url": receiver.url("/new"), "events": ["session.*"], "totp": code])
        XCTAssertEqual(repoint.status, 200, repoint.text)
        // The change is paged where the channel pointed before it, with what changed.
        let pages = try await receiver.waitFor(1, at: "/old")
        let announcement = try XCTUnwrap(pages.first { $0.json["type"] as? String == "admin.channel_saved" && (($0.json["data"] as? [String: Any])?["events"] as? String) == "session.*" })
        let data = announcement.json["data"] as? [String: Any] ?? [:]
        XCTAssertEqual(data["actor"] as? String, "alice")
        XCTAssertEqual(data["mfa"] as? String, "totp")
        XCTAssertEqual(data["previous_events"] as? String, "*")
        let atNew = await receiver.received("/new")
        XCTAssertTrue(atNew.isEmpty, "the new endpoint does not hear of its own installation first")

        // The same code cannot make a second change.
        let replay = try await http.send(.PUT, "/v1/notify/channels/compliance", token: alice.token,
                                         json: ["kind": "webhook", "url": receiver.url("/other"), "totp": code])
        XCTAssertEqual(replay.errorCode, "totp_reused", replay.text)
        nextStep()

        // After the change, pages go to the new endpoint.
        let session = try await requestSession(target: "payments-db", token: alice.token, secret: alice.secret)
        XCTAssertEqual(session.status, 201, session.text)
        let activated = try await receiver.waitFor(1, at: "/new")
        XCTAssertEqual(activated.first?.json["type"] as? String, "session.activated")
    }

    func testAnOldEndpointThatIsGoneDoesNotDisableTheRepointedChannel() async throws {
        let alice = try await enrolledUser("alice", roles: [.admin, .engineer])
        try await makeTarget("payments-db", admin: alice)
        await receiver.setDefault("/decommissioned", .init(status: 410))
        let first = try await adminSend(.PUT, "/v1/notify/channels/siem", as: alice,
                                        json: ["kind": "webhook", "url": receiver.url("/decommissioned")])
        XCTAssertEqual(first.status, 200, first.text)
        let repoint = try await adminSend(.PUT, "/v1/notify/channels/siem", as: alice, json: ["kind": "webhook", "url": receiver.url("/new")])
        XCTAssertEqual(repoint.status, 200, repoint.text)
        // The announcement went to the old endpoint, which is gone: a dead letter, not a disabled channel.
        _ = try await receiver.waitFor(1, at: "/decommissioned")
        try await waitUntil { try await self.database.count("SELECT count(*)::bigint FROM deliveries WHERE state = 'dead'") == 1 }
        let enabled = try await server.broker.database.read { try await $0.channels.find(named: "siem")?.enabled }
        XCTAssertEqual(enabled, true)
        let session = try await requestSession(target: "payments-db", token: alice.token, secret: alice.secret)
        XCTAssertEqual(session.status, 201, session.text)
        let page = try await receiver.waitFor(1, at: "/new").first
        XCTAssertEqual(page?.json["type"] as? String, "session.activated")
    }

    func testAnAccountThatAlreadyHoldsBothRolesMayNotActAsEither() async throws {
        let alice = try await enrolledUser("alice", roles: [.admin, .engineer])
        // Created before the rule existed.
        try await database.asSuperuser("UPDATE users SET roles = '{admin,compliance,engineer}' WHERE name = 'alice'")
        let change = try await adminSend(.PUT, "/v1/targets/payments-db", as: alice, json: ["max_ttl": "1h"])
        XCTAssertEqual(change.status, 403, change.text)
        XCTAssertEqual(change.errorCode, "roles_conflict")
    }

    func testOneAccountMayNotBeAdminAndCompliance() async throws {
        let alice = try await enrolledUser("alice", roles: [.admin, .engineer])
        let both = try await adminSend(.POST, "/v1/users", as: alice, json: ["name": "carol", "roles": ["admin", "compliance"]])
        XCTAssertEqual(both.status, 400)
        XCTAssertEqual(both.errorCode, "roles_conflict")
        XCTAssertTrue(both.errorMessage?.contains("BREAKGLASS_ALLOW_ADMIN_COMPLIANCE") ?? false, both.text)
        do {
            _ = try await server.broker.createUser(name: "dave", roles: [.admin, .compliance], actor: nil, origin: .server)
            XCTFail("the host bootstrap must refuse it too")
        } catch let error as BreakglassError {
            XCTAssertEqual(error.code, "roles_conflict")
        }
    }
}

/// With the operator's explicit opt-in, one account may hold admin and compliance, but it still never
/// reviews a session opened by an account it created.
final class CreatorReviewTests: BrokerTestCase {
    override var serverSettings: Broker.Settings { .init(allowAdminCompliance: true) }

    func testNobodyApprovesASessionOfAnAccountTheyCreated() async throws {
        let root = try await enrolledUser("root", roles: [.admin, .compliance, .engineer])
        try await makeTarget("payments-db", admin: root)
        let created = try await adminSend(.POST, "/v1/users", as: root, json: ["name": "eve", "roles": ["engineer"]])
        XCTAssertEqual(created.status, 201, created.text)
        let start = try await http.send(.POST, "/v1/enrollment/start", json: ["code": created.json["enrollment_code"] as! String])
        let secret = start.json["secret"] as! String
        let confirm = try await http.send(.POST, "/v1/enrollment/confirm", json: ["code": created.json["enrollment_code"] as! String,
                                                                              "totp": try code(secret)])
        XCTAssertEqual(confirm.status, 201, confirm.text)
        nextStep()
        let eve = (secret: secret, token: confirm.json["api_token"] as! String)
        let session = try await requestSession(target: "payments-db", token: eve.token, secret: eve.secret)
        XCTAssertEqual(session.status, 201, session.text)
        let id = (session.json["session"] as! [String: Any])["id"] as! String
        let waive = try await http.send(.POST, "/v1/compliance/sessions/\(id)/waive", token: root.token, json: ["reason": "nothing changed in the end"])
        XCTAssertEqual(waive.status, 403, waive.text)
        XCTAssertEqual(waive.errorCode, "creator_review")
        let refused = try await database.count("SELECT count(*)::bigint FROM audit_events WHERE event_type = 'retro.review_refused'")
        XCTAssertEqual(refused, 1)
    }
}
