import BreakglassCore
import BreakglassTestSupport
import Crypto
import Foundation
import XCTest

/// Pages delivered to real HTTP receivers on loopback standing in for Slack, PagerDuty and a webhook consumer.
final class DeliveryTests: BrokerTestCase {
    var receiver: LoopbackReceiver!
    var admin: (secret: String, token: String)!

    override func setUp() async throws {
        try await super.setUp()
        receiver = LoopbackReceiver()
        try await receiver.start()
        admin = try await enrolledUser("alice", roles: [.admin, .engineer])
        try await makeTarget("payments-db", admin: admin)
    }

    override func tearDown() async throws {
        await receiver?.stop()
        try await super.tearDown()
    }

    @discardableResult
    func channel(_ name: String, _ body: [String: Any]) async throws -> [String: Any] {
        let reply = try await adminSend(.PUT, "/v1/notify/channels/\(name)", as: admin, json: body)
        XCTAssertEqual(reply.status, 200, reply.text)
        return reply.json
    }

    func activate() async throws -> String {
        let reply = try await requestSession(target: "payments-db", token: admin.token, secret: admin.secret)
        XCTAssertEqual(reply.status, 201, reply.text)
        nextStep()
        return (reply.json["session"] as! [String: Any])["id"] as! String
    }

    func testEachChannelReceivesItsOwnWireFormat() async throws {
        await receiver.setDefault("/pd/v2/enqueue", .init(status: 202, body: #"{"status":"success"}"#))
        try await channel("slack", ["kind": "slack", "url": receiver.url("/slack"), "events": ["session.activated"]])
        let hook = try await channel("hook", ["kind": "webhook", "url": receiver.url("/hook"), "events": ["session.*"]])
        // Last, so no admin.* page about the other channels reaches it.
        try await channel("pagerduty", ["kind": "pagerduty", "url": receiver.url("/pd"), "routing_key": "R0123456789abcdef0123456789abcdef"])
        let secret = try XCTUnwrap(hook["generated_secret"] as? String)
        let id = try await activate()

        let slack = try await firstRequest(at: "/slack").json
        XCTAssertTrue((slack["text"] as? String)?.contains("alice activated emergency access to payments-db") == true, "\(slack)")
        let blocks = try XCTUnwrap(slack["blocks"] as? [[String: Any]])
        XCTAssertEqual(blocks.first?["type"] as? String, "header")
        let fields = (blocks.dropFirst().first?["fields"] as? [[String: Any]])?.compactMap { $0["text"] as? String } ?? []
        for label in ["*Who:*\nalice", "*Target:*\npayments-db", "*Incident:*\nINC-4521", "*Session:*\n\(id)"] {
            XCTAssertTrue(fields.contains(label), "\(label) in \(fields)")
        }
        XCTAssertTrue(fields.contains { $0.hasPrefix("*Retro PR due:*") } && fields.contains { $0.hasPrefix("*Expires:*") })

        let trigger = try await firstRequest(at: "/pd/v2/enqueue").json
        XCTAssertEqual(trigger["routing_key"] as? String, "R0123456789abcdef0123456789abcdef")
        XCTAssertEqual(trigger["event_action"] as? String, "trigger")
        let payload = try XCTUnwrap(trigger["payload"] as? [String: Any])
        XCTAssertEqual(payload["source"] as? String, "breakglass")
        XCTAssertEqual(payload["severity"] as? String, "warning")
        XCTAssertLessThanOrEqual((payload["summary"] as? String)?.count ?? 2000, 1024)

        let delivered = try await firstRequest(at: "/hook")
        let webhookId = try XCTUnwrap(delivered.headers["webhook-id"])
        let timestamp = try XCTUnwrap(delivered.headers["webhook-timestamp"])
        let signature = try XCTUnwrap(delivered.headers["webhook-signature"])
        // Verified the way a receiver would, from the secret the admin was given.
        let key = SymmetricKey(data: Data(base64Encoded: String(secret.dropFirst(6)))!)
        let expected = HMAC<SHA256>.authenticationCode(for: Data("\(webhookId).\(timestamp).".utf8) + delivered.body, using: key)
        XCTAssertEqual(signature, "v1," + Data(expected).base64EncodedString())
        XCTAssertEqual(delivered.json["type"] as? String, "session.activated")
        XCTAssertEqual((delivered.json["data"] as? [String: Any])?["session_id"] as? String, id)

        // Ending the session resolves the PagerDuty incident with the same dedup key.
        let end = try await http.send(.POST, "/v1/sessions/\(id)/end", token: admin.token)
        XCTAssertEqual(end.status, 200)
        let pd = try await receiver.waitFor(2, at: "/pd/v2/enqueue")
        guard pd.count == 2 else { return XCTFail("PagerDuty got \(pd.count) events") }
        XCTAssertEqual(pd[1].json["event_action"] as? String, "resolve")
        XCTAssertEqual(pd[0].json["dedup_key"] as? String, pd[1].json["dedup_key"] as? String)
        XCTAssertEqual(pd[0].json["dedup_key"] as? String, "breakglass/session/\(id)")

        let log = try await adminCLI(["notify", "log", id])
        XCTAssertEqual(log.status, 0, log.stderr)
        XCTAssertTrue(log.stdout.contains("delivered") && log.stdout.contains("(127.0.0.1)"), log.stdout)
        XCTAssertFalse(log.stdout.contains("/hook") || log.stdout.contains("/slack"), "the log never shows a URL path")
        let reply = try await http.send(.GET, "/v1/notify/log?session=\(id)", token: admin.token)
        XCTAssertFalse(reply.text.contains("/hook"), "hosts only: \(reply.text)")
        XCTAssertTrue(reply.text.contains("\"host\":\"127.0.0.1\""), reply.text)
    }

    func testOnlyOneTestPagePerChannelWaitsSoTestsCannotCrowdOutRealPages() async throws {
        // A slow Slack: the first test page is still in flight when the next tests are asked for.
        await receiver.setDefault("/slack", .init(status: 200, body: "ok", delay: .seconds(2)))
        try await channel("slack", ["kind": "slack", "url": receiver.url("/slack")])
        let first = try await http.send(.POST, "/v1/notify/channels/slack/test", token: admin.token)
        XCTAssertEqual(first.status, 202, first.text)
        for _ in 0..<20 {
            let more = try await http.send(.POST, "/v1/notify/channels/slack/test", token: admin.token)
            XCTAssertEqual(more.errorCode, "test_pending", more.text)
        }
        let queued = try await database.count("SELECT count(*)::bigint FROM outbox WHERE event_type = 'notify.test'")
        XCTAssertEqual(queued, 1)
        let audited = try await database.count("SELECT count(*)::bigint FROM audit_events WHERE event_type = 'notify.channel_tested'")
        XCTAssertEqual(audited, 1)
    }

    func testTestPageReachesOnlyTheChannelUnderTest() async throws {
        try await channel("slack", ["kind": "slack", "url": receiver.url("/slack"), "events": ["session.activated"]])
        try await channel("hook", ["kind": "webhook", "url": receiver.url("/hook")])
        let test = try await adminCLI(["notify", "test", "slack"])
        XCTAssertEqual(test.status, 0, test.stderr)
        let page = try await firstRequest(at: "/slack").json
        XCTAssertTrue((page["text"] as? String)?.contains("test message for slack") == true, "\(page)")
        try await settle(.delivery)
        let others = await receiver.received("/hook").count
        XCTAssertEqual(others, 0)
        let unknown = try await adminCLI(["notify", "test", "nope"])
        XCTAssertEqual(unknown.status, 77)
        XCTAssertEqual(unknown.stderr, "breakglass: no notification channel named 'nope'\n")
        let bad = try await adminSend(.PUT, "/v1/notify/channels/pd", as: admin, json: ["kind": "pagerduty", "url": receiver.url("/pd")])
        XCTAssertEqual(bad.status, 400)
        XCTAssertEqual(bad.errorCode, "invalid_routing_key")
        let wrongSecret = try await adminSend(.PUT, "/v1/notify/channels/h2", as: admin, json: ["kind": "webhook", "url": receiver.url("/h2"), "secrets": ["whsec_short"]])
        XCTAssertEqual(wrongSecret.errorCode, "invalid_secret")
        let stored = try await database.count("SELECT count(*)::bigint FROM channels WHERE position(convert_to('/slack', 'UTF8') in config_enc) > 0 OR position(convert_to('127.0.0.1:', 'UTF8') in config_enc) > 0")
        XCTAssertEqual(stored, 0, "channel URLs are stored encrypted")
    }

    func testSlackRateLimitRetryAfterIsHonoured() async throws {
        try await channel("slack", ["kind": "slack", "url": receiver.url("/slack"), "events": ["session.activated"]])
        await receiver.script("/slack", [.init(status: 429, headers: ["Retry-After": "120"], body: "rate_limited")])
        _ = try await activate()
        _ = try await receiver.waitFor(1, at: "/slack")
        try await assertNotRetried(at: "/slack", afterAdvancing: 60, "not retried before Retry-After")
        try await assertRetriedAndDelivered(at: "/slack", afterAdvancing: 61)
    }

    func testSlackSendsAtMostOneMessagePerSecond() async throws {
        try await channel("slack", ["kind": "slack", "url": receiver.url("/slack"), "events": ["session.activated"]])
        var engineers: [(secret: String, token: String)] = []
        for name in ["bob", "carol", "dave"] { engineers.append(try await enrolledUser(name, roles: [.engineer])) }
        // Three activations at the same broker instant.
        for engineer in engineers {
            let reply = try await requestSession(target: "payments-db", token: engineer.token, secret: engineer.secret)
            XCTAssertEqual(reply.status, 201, reply.text)
        }
        _ = try await receiver.waitFor(1, at: "/slack")
        try await settle(.delivery)
        let frozen = await receiver.received("/slack").count
        XCTAssertEqual(frozen, 1, "no burst: one message per second of broker time")
        clock.advance(by: 1.01)
        _ = try await receiver.waitFor(2, at: "/slack")
        try await settle(.delivery)
        let second = await receiver.received("/slack").count
        XCTAssertEqual(second, 2)
        clock.advance(by: 1.01)
        let all = try await receiver.waitFor(3, at: "/slack")
        XCTAssertEqual(all.count, 3)
    }

    func testNonRetryableAnswerGoesToDeadLetterAlertsElsewhereAndCanBeRedriven() async throws {
        try await channel("slack", ["kind": "slack", "url": receiver.url("/slack"), "events": ["session.activated"]])
        try await channel("hook", ["kind": "webhook", "url": receiver.url("/hook"), "events": ["delivery.failed"]])
        await receiver.script("/slack", [.init(status: 404, body: "channel_not_found")])
        let id = try await activate()
        let alert = try await firstRequest(at: "/hook").json
        XCTAssertEqual(alert["type"] as? String, "delivery.failed")
        let data = try XCTUnwrap(alert["data"] as? [String: Any])
        XCTAssertEqual(data["channel"] as? String, "slack")
        XCTAssertEqual(data["session_id"] as? String, id)
        let slackAttempts = await receiver.received("/slack").count
        XCTAssertEqual(slackAttempts, 1, "never retried")

        let dead = try await adminCLI(["notify", "log", "--dead", "--json"])
        let entries = try JSONSerialization.jsonObject(with: Data(dead.stdout.utf8)) as? [[String: Any]] ?? []
        XCTAssertEqual(entries.count, 1, dead.stdout + dead.stderr)
        let deliveryId = try XCTUnwrap(entries.first?["delivery_id"] as? String)
        let retry = try await adminCLI(["notify", "retry", deliveryId, "--totp", try code(admin.secret)])
        XCTAssertEqual(retry.status, 0, retry.stderr)
        clock.advance(by: 2)  // past the Slack channel's one-per-second slot taken by the failed send
        _ = try await receiver.waitFor(2, at: "/slack")
        try await waitForDeliveries(state: "delivered", count: 2)
    }

    func testGoneEndpointIsDisabledAndAlerted() async throws {
        try await channel("hook", ["kind": "webhook", "url": receiver.url("/hook"), "events": ["session.activated"]])
        try await channel("slack", ["kind": "slack", "url": receiver.url("/slack"), "events": ["delivery.failed"]])
        await receiver.script("/hook", [.init(status: 410)])
        _ = try await activate()
        _ = try await receiver.waitFor(1, at: "/slack")
        let channels = try await http.send(.GET, "/v1/notify/channels", token: admin.token)
        let hook = (try JSONSerialization.jsonObject(with: channels.body) as! [[String: Any]]).first { $0["name"] as? String == "hook" }
        XCTAssertEqual(hook?["enabled"] as? Bool, false)
        let disabled = try await database.count("SELECT count(*)::bigint FROM audit_events WHERE event_type = 'notify.channel_disabled'")
        XCTAssertEqual(disabled, 1)
        _ = try await activate()
        try await settle(.delivery)
        let sent = await receiver.received("/hook").count
        XCTAssertEqual(sent, 1, "a disabled endpoint gets nothing more")
    }

    func testReceiverDownForAWhileGetsEverythingOnceItIsBack() async throws {
        let port = try await LoopbackReceiver.unusedPort()
        try await channel("hook", ["kind": "webhook", "url": "http://127.0.0.1:\(port)/hook", "events": ["session.activated"]])
        for _ in 0..<3 { _ = try await activate() }
        try await waitUntil { try await self.database.count("SELECT count(*)::bigint FROM delivery_attempts WHERE outcome = 'retry'") >= 3 }
        let back = LoopbackReceiver()
        try await back.start(port: port)
        addTeardownBlock { await back.stop() }
        // An attempt still in flight when the clock jumps would schedule its retry from the new time, after the wait below.
        try await settle(.delivery)
        clock.advance(by: 600)
        let got = try await back.waitFor(3, at: "/hook")
        XCTAssertEqual(Set(got.compactMap { $0.headers["webhook-id"] }).count, 3)
        try await waitForDeliveries(state: "delivered", count: 3)
    }

    func testPageUndeliverableForLongerThanTheMaximumAgeIsDeadLettered() async throws {
        let port = try await LoopbackReceiver.unusedPort()
        try await channel("hook", ["kind": "webhook", "url": "http://127.0.0.1:\(port)/hook", "events": ["session.activated"]])
        _ = try await activate()
        try await waitUntil { try await self.database.count("SELECT count(*)::bigint FROM delivery_attempts") >= 1 }
        try await settle(.delivery)
        clock.advance(by: 25 * 3600)
        try await waitForDeliveries(state: "dead", count: 1)
        let log = try await adminCLI(["notify", "log", "--dead"])
        XCTAssertTrue(log.stdout.contains("gave up after"), log.stdout)
        XCTAssertTrue(log.stdout.contains("connect"), log.stdout)
    }

    func testTwoInstancesDeliverEachPageExactlyOnce() async throws {
        let second = TestServer(database: database, clock: clock, masterKey: server.masterKey)
        try await second.start()
        addTeardownBlock { await second.stop() }
        try await channel("hook", ["kind": "webhook", "url": receiver.url("/hook"), "events": ["session.activated"]])
        let count = 200
        for _ in 0..<count { _ = try await activate() }
        let got = try await receiver.waitFor(count, at: "/hook", timeout: .seconds(60))
        try await settle(.delivery, servers: [server, second])
        let all = await receiver.received("/hook")
        XCTAssertEqual(got.count, count)
        XCTAssertEqual(all.count, count, "no page sent twice")
        XCTAssertEqual(Set(all.compactMap { $0.headers["webhook-id"] }).count, count)
        let instances = try await database.count("SELECT count(DISTINCT instance)::bigint FROM delivery_attempts")
        XCTAssertEqual(instances, 2, "both instances took part")
    }

    func testRetryAfterCountsFromTheAnswerOfASlowReceiver() async throws {
        try await channel("hook", ["kind": "webhook", "url": receiver.url("/hook"), "events": ["session.activated"]])
        let clock = clock!
        // The receiver takes 10 s of broker time to answer, then asks for 2 s more.
        await receiver.script("/hook", [.init(status: 429, headers: ["Retry-After": "2"], whileHolding: { clock.advance(by: 10) })])
        let reply = try await requestSession(target: "payments-db", token: admin.token, secret: admin.secret)
        XCTAssertEqual(reply.status, 201, reply.text)
        try await waitUntil { try await self.database.count("SELECT count(*)::bigint FROM delivery_attempts") == 1 }
        try await assertNotRetried(at: "/hook", afterAdvancing: 0, "not retried at once")
        try await assertNotRetried(at: "/hook", afterAdvancing: 1.5, "not retried until 2 s after the answer")
        try await assertRetriedAndDelivered(at: "/hook", afterAdvancing: 0.6)
    }

    func testASlowEndpointDoesNotHoldBackAnotherChannelsPages() async throws {
        let slow = LoopbackReceiver()
        try await slow.start()
        await slow.setDefault("/slow", .init(status: 200, delay: .seconds(5)))
        try await channel("slow", ["kind": "webhook", "url": slow.url("/slow"), "events": ["session.activated"]])
        try await channel("fast", ["kind": "webhook", "url": receiver.url("/fast"), "events": ["session.ended"]])
        let id = try await activate()
        _ = try await slow.waitFor(1, at: "/slow")
        let ended = ContinuousClock.now
        let end = try await http.send(.POST, "/v1/sessions/\(id)/end", token: admin.token)
        XCTAssertEqual(end.status, 200, end.text)
        let fast = try await receiver.waitFor(1, at: "/fast", timeout: .seconds(4))
        let latency = fast.first.map { $0.arrivedAt - ended }
        XCTAssertNotNil(latency, "the other channel's page never arrived")
        XCTAssertLessThan(latency ?? .seconds(99), .milliseconds(1500), "waited behind the slow endpoint")
        await server.stop()  // finishes the slow send in flight before the receiver goes
        await slow.stop()
    }

    func testAChannelGetsASessionsPagesInOrderWhileOneIsSlow() async throws {
        try await channel("hook", ["kind": "webhook", "url": receiver.url("/hook"), "events": ["session.activated", "session.ended"]])
        await receiver.script("/hook", [.init(status: 200, delay: .seconds(2))])
        let id = try await activate()
        _ = try await receiver.waitFor(1, at: "/hook")
        let end = try await http.send(.POST, "/v1/sessions/\(id)/end", token: admin.token)
        XCTAssertEqual(end.status, 200, end.text)
        let pages = try await receiver.waitFor(2, at: "/hook")
        XCTAssertEqual(pages.map { $0.json["type"] as? String }, ["session.activated", "session.ended"])
        if pages.count == 2 {
            XCTAssertGreaterThanOrEqual(pages[1].arrivedAt - pages[0].arrivedAt, .seconds(2), "the end was sent only after the activation's answer")
        }
    }

    func testSlackReceivesUserTextEscaped() async throws {
        try await channel("slack", ["kind": "slack", "url": receiver.url("/slack"), "events": ["session.activated"]])
        let reply = try await http.send(.POST, "/v1/sessions", token: admin.token, json: [
            "target": "payments-db", "reason": "INC-9 <!channel> & <@U123> look here", "incident": "INC-9", "totp": try code(admin.secret),
        ])
        XCTAssertEqual(reply.status, 201, reply.text)
        let page = try await firstRequest(at: "/slack")
        let raw = String(decoding: page.body, as: UTF8.self)
        XCTAssertFalse(raw.contains("<!channel>") || raw.contains("<@U123>"), raw)
        XCTAssertTrue((page.json["text"] as? String)?.contains("Reason: INC-9 &lt;!channel&gt; &amp; &lt;@U123&gt; look here") == true, raw)
        let fields = ((page.json["blocks"] as? [[String: Any]])?.dropFirst().first?["fields"] as? [[String: Any]])?.compactMap { $0["text"] as? String }
        XCTAssertTrue(fields?.contains("*Reason:*\nINC-9 &lt;!channel&gt; &amp; &lt;@U123&gt; look here") == true, "\(fields ?? [])")
    }

    /// Moves broker time on, then checks (after a moment of real time) that `path` still has only its first request.
    func assertNotRetried(at path: String, afterAdvancing seconds: TimeInterval, _ message: String, line: UInt = #line) async throws {
        clock.advance(by: seconds)
        try await settle(.delivery)
        let count = await receiver.received(path).count
        XCTAssertEqual(count, 1, message, line: line)
    }

    func assertRetriedAndDelivered(at path: String, afterAdvancing seconds: TimeInterval, line: UInt = #line) async throws {
        clock.advance(by: seconds)
        let all = try await receiver.waitFor(2, at: path)
        XCTAssertEqual(all.count, 2, line: line)
        try await waitForDeliveries(state: "delivered", count: 1)
    }

    func adminCLI(_ args: [String]) async throws -> CommandResult {
        try await Tools.cli(args, server: server, credentials: credentialsPath("none"), extra: ["BREAKGLASS_TOKEN": admin.token])
    }

    func firstRequest(at path: String) async throws -> LoopbackReceiver.Received {
        let got = try await receiver.waitFor(1, at: path)
        return try XCTUnwrap(got.first, "nothing reached \(path)")
    }

    func waitForDeliveries(state: String, count: Int) async throws {
        try await waitUntil { try await self.database.count("SELECT count(*)::bigint FROM deliveries WHERE state = '\(state)'") >= count }
    }

}
