import BreakglassCore
import Foundation
import XCTest

/// What becomes of a page after one attempt: retried, delivered, or a dead letter with its consequences.
final class DeliveryDecisionTests: XCTestCase {
    let queued = Date(timeIntervalSince1970: 1_800_000_000)
    let day: TimeInterval = 24 * 3600

    /// `status` nil: no answer, for the reason `errorClass` gives.
    func decide(_ status: Int?, errorClass: String? = nil, on kind: ChannelKind = .webhook, type: String = "session.activated", attempt: Int = 1,
                after elapsed: TimeInterval = 5, snapshot: Bool = false) -> DeliveryDecision {
        DeliveryPolicy.decide(kind: kind, status: status, body: "", retryAfter: nil, errorClass: errorClass, messageType: type, attempt: attempt,
                              queuedAt: queued, answeredAt: queued + elapsed, maxAge: day, usesSnapshot: snapshot, random: 1)
    }

    /// The attempt's outcome, the delivery's state, and the consequences that apply, in one line.
    func summary(_ d: DeliveryDecision) -> String {
        ([d.outcome.rawValue, d.state.rawValue] + (d.disablesChannel ? ["disables channel"] : []) + (d.alertsOtherChannels ? ["alerts"] : []))
            .joined(separator: ", ")
    }

    func testADeliveredPageIsFinishedWithNothingElseToDo() {
        let decision = decide(204)
        XCTAssertEqual(summary(decision), "delivered, delivered")
        XCTAssertNil(decision.nextAttemptAt)
        XCTAssertNil(decision.detail)
        XCTAssertFalse(decision.isDeadLetter)
    }

    func testAFailureIsRetriedWithBackoffCountedFromTheAnswer() {
        let decision = decide(503, attempt: 3, after: 40)
        XCTAssertEqual(summary(decision), "retry, pending")
        XCTAssertEqual(decision.nextAttemptAt, queued + 40 + 4, "third attempt: 4 s after the answer, full jitter at 1")
        XCTAssertEqual(decision.detail, "receiver answered 503")
    }

    func testNoAnswerIsRetriedAndSaysWhy() {
        let decision = decide(nil, errorClass: "timeout")
        XCTAssertEqual(decision.outcome, .retry)
        XCTAssertEqual(decision.detail, "no answer (timeout)")
    }

    func testARetryPastTheMaximumAgeIsADeadLetterThatAlertsTheOtherChannels() {
        let decision = decide(500, attempt: 40, after: day - 10)
        XCTAssertEqual(summary(decision), "dead, dead, alerts")
        XCTAssertNil(decision.nextAttemptAt)
        XCTAssertEqual(decision.detail, "receiver answered 500; gave up after 40 attempts over 23h59m50s")
    }

    func testAnInvalidChannelConfigurationIsDeadAtOnce() {
        let decision = decide(nil, errorClass: "config: bad url", on: .slack)
        XCTAssertEqual(decision.state, .dead)
        XCTAssertEqual(decision.detail, "the channel configuration is invalid")
    }

    func testGoneDisablesTheChannelOnlyWhenSentWithItsCurrentConfiguration() {
        XCTAssertEqual(summary(decide(410)), "gone, dead, disables channel, alerts")
        XCTAssertEqual(summary(decide(410, snapshot: true)), "gone, dead, alerts",
                       "the channel was changed since the page was queued; its new endpoint is not gone")
    }

    func testADeadAlertIsNeverAlertedAbout() {
        XCTAssertEqual(summary(decide(404, type: DeliveryPolicy.failureAlertType)), "dead, dead")
    }
}
