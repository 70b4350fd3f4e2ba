import BreakglassCore
import Foundation
import XCTest

final class NotificationTests: XCTestCase {
    /// The example from the Standard Webhooks specification.
    func testStandardWebhookSignatureMatchesTheSpecificationExample() throws {
        let signature = try StandardWebhook.signature(id: "msg_p5jXN8AQM9LWM0D4loKWxJek", timestamp: 1614265330,
                                                      body: Array(#"{"test": 2432232314}"#.utf8),
                                                      secrets: ["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"])
        XCTAssertEqual(signature, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")
    }

    func testRotationSignsWithEverySecret() throws {
        let old = StandardWebhook.generateSecret(), new = StandardWebhook.generateSecret()
        let both = try StandardWebhook.signature(id: "m", timestamp: 1, body: [1], secrets: [new, old])
        XCTAssertEqual(both.split(separator: " ").count, 2)
        XCTAssertTrue(both.hasSuffix(try StandardWebhook.signature(id: "m", timestamp: 1, body: [1], secrets: [old])))
        XCTAssertThrowsError(try StandardWebhook.secretBytes("whsec_short"))
    }

    func testResponsesAreClassifiedPerChannel() {
        XCTAssertEqual(DeliveryPolicy.classify(kind: .slack, status: 200, body: "ok", retryAfter: nil), .delivered)
        XCTAssertEqual(DeliveryPolicy.classify(kind: .slack, status: 429, body: "", retryAfter: "30"), .retry(after: 30, reason: "rate limited (429)"))
        for status in [400, 403, 404, 410] {
            guard case .dead = DeliveryPolicy.classify(kind: .slack, status: status, body: "", retryAfter: nil) else { return XCTFail("\(status)") }
        }
        guard case .dead = DeliveryPolicy.classify(kind: .slack, status: 500, body: "channel_not_found", retryAfter: nil) else { return XCTFail() }
        XCTAssertEqual(DeliveryPolicy.classify(kind: .pagerduty, status: 202, body: "", retryAfter: nil), .delivered)
        guard case .dead = DeliveryPolicy.classify(kind: .pagerduty, status: 400, body: "", retryAfter: nil) else { return XCTFail() }
        guard case .retry = DeliveryPolicy.classify(kind: .pagerduty, status: 503, body: "", retryAfter: nil) else { return XCTFail() }
        guard case .gone = DeliveryPolicy.classify(kind: .webhook, status: 410, body: "", retryAfter: nil) else { return XCTFail() }
        guard case .retry = DeliveryPolicy.classify(kind: .webhook, status: 502, body: "", retryAfter: nil) else { return XCTFail() }
    }

    func testBackoffGrowsIsCappedAndHonoursRetryAfter() {
        XCTAssertEqual(DeliveryPolicy.delay(afterAttempt: 1, retryAfter: nil, random: 1), 1)
        XCTAssertEqual(DeliveryPolicy.delay(afterAttempt: 4, retryAfter: nil, random: 1), 8)
        XCTAssertEqual(DeliveryPolicy.delay(afterAttempt: 40, retryAfter: nil, random: 1), 300)
        XCTAssertEqual(DeliveryPolicy.delay(afterAttempt: 4, retryAfter: nil, random: 0.5), 4)
        XCTAssertEqual(DeliveryPolicy.delay(afterAttempt: 1, retryAfter: 120, random: 0.3), 120)
    }

    func testRoutingMatchesPatternsAndTargets() {
        let routing = ChannelRouting(events: ["session.*", "user.locked"], targets: ["payments-db"])
        XCTAssertTrue(routing.matches(eventType: "session.activated", target: "payments-db"))
        XCTAssertFalse(routing.matches(eventType: "session.activated", target: "other"))
        XCTAssertTrue(routing.matches(eventType: "user.locked", target: nil))
        XCTAssertFalse(routing.matches(eventType: "target.saved", target: "payments-db"))
        XCTAssertTrue(ChannelRouting.everything.matches(eventType: "delivery.failed", target: nil))
    }

    func testPagerDutyTriggerAndResolveShareOneDedupKeyAndSummaryIsCapped() {
        let payload = ["user": "alice", "target": "payments-db", "reason": String(repeating: "é", count: 3000)]
        let trigger = wireJSON(NotificationMessage(id: "1", type: "session.activated", sessionId: "bg_X", payload: payload, createdAt: Date())
            .pagerDutyBody(routingKey: "R0UTINGKEY", source: "breakglass"))
        let resolve = wireJSON(NotificationMessage(id: "2", type: "session.ended", sessionId: "bg_X", payload: payload, createdAt: Date())
            .pagerDutyBody(routingKey: "R0UTINGKEY", source: "breakglass"))
        XCTAssertEqual(trigger["event_action"] as? String, "trigger")
        XCTAssertEqual(resolve["event_action"] as? String, "resolve")
        XCTAssertEqual(trigger["dedup_key"] as? String, resolve["dedup_key"] as? String)
        let summary = (trigger["payload"] as! [String: Any])["summary"] as! String
        XCTAssertEqual(summary.count, 1024)
        XCTAssertTrue(summary.hasSuffix("…"))
        XCTAssertNil(resolve["payload"])
    }

    func testSlackMessageHasHeaderFieldsAndFallbackText() {
        let message = NotificationMessage(id: "m1", type: "session.activated", sessionId: "bg_X",
                                          payload: ["user": "alice", "target": "db", "reason": "a <b>", "incident": "INC-1",
                                                    "expires_at": "t", "retro_due_at": "r", "session_id": "bg_X"], createdAt: Date())
        let body = wireJSON(message.slackBody())
        XCTAssertTrue((body["text"] as! String).contains("Reason: a &lt;b&gt;"))
        let blocks = body["blocks"] as! [[String: Any]]
        XCTAssertEqual(blocks[0]["type"] as? String, "header")
        let fields = blocks[1]["fields"] as! [[String: String]]
        XCTAssertTrue(fields.contains { $0["text"] == "*Reason:*\na &lt;b&gt;" })
        XCTAssertEqual(fields.count, 7)
    }

    func testEveryStringOfASlackMessageIsEscaped() throws {
        let hostile = "<!channel> & <@U123> <https://evil.example|click>"
        let message = NotificationMessage(id: "m<1>", type: "session.activated", sessionId: "bg_X",
                                          payload: ["user": "<!here>", "target": "db&co", "reason": hostile, "incident": "<!subteam^S1>"],
                                          createdAt: Date())
        let body = wireJSON(message.slackBody())
        var strings: [String] = []
        func collect(_ value: Any) {
            if let text = value as? String { strings.append(text) }
            if let dictionary = value as? [String: Any] { dictionary.values.forEach(collect) }
            if let array = value as? [Any] { array.forEach(collect) }
        }
        collect(body)
        for text in strings {
            XCTAssertFalse(text.contains("<") || text.contains(">"), "unescaped in \(text)")
            XCTAssertNil(text.range(of: "&(?!amp;|lt;|gt;)", options: .regularExpression), "bare & in \(text)")
        }
        XCTAssertTrue((body["text"] as! String).contains("Reason: &lt;!channel&gt; &amp; &lt;@U123&gt;"), "\(body)")
        let header = try XCTUnwrap(((body["blocks"] as? [[String: Any]])?.first?["text"] as? [String: Any])?["text"] as? String)
        XCTAssertTrue(header.contains("&lt;!here&gt; activated emergency access to db&amp;co"), header)
    }

    func testALongSlackHeaderIsCutOutsideAnEntity() {
        let message = NotificationMessage(id: "m1", type: "session.activated", sessionId: "bg_X",
                                          payload: ["user": String(repeating: "<", count: 200), "target": "db"], createdAt: Date())
        let header = ((wireJSON(message.slackBody())["blocks"] as! [[String: Any]])[0]["text"] as! [String: Any])["text"] as! String
        XCTAssertLessThanOrEqual(header.count, 150)
        XCTAssertTrue(header.hasSuffix("&lt;…"), header)
    }
}
