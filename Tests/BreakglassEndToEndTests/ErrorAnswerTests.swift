import BreakglassCore
@testable import BreakglassServer
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import XCTest

/// Every error the API gives has one shape, `{"error":{"code","message"}}`, JSON and never cached, whoever raised it:
/// a use case, Hummingbird's router, or something nobody expected. In process, through a real router.
final class ErrorAnswerTests: XCTestCase {
    func testABrokerRefusalRendersItselfWithoutTheErrorMiddleware() async throws {
        let router = Router(context: BasicRequestContext.self)
        router.get("/busy") { _, _ -> Response in throw BreakglassError(.rateLimited, "rate_limited", "slow down") }
        router.get("/down") { _, _ -> Response in throw BreakglassError.storeUnavailable }
        try await Application(router: router).test(.router) { client in
            let busy = try await client.execute(uri: "/busy", method: .get)
            XCTAssertEqual(busy.status, .tooManyRequests)
            XCTAssertEqual(busy.headers[.retryAfter], "1", "a refusal to come back later says when")
            XCTAssertEqual(busy.headers[.contentType], "application/json")
            XCTAssertEqual(busy.headers[.cacheControl], "no-store")
            XCTAssertEqual(String(buffer: busy.body), #"{"error":{"code":"rate_limited","message":"slow down"}}"#)
            let down = try await client.execute(uri: "/down", method: .get)
            XCTAssertEqual(down.status, .serviceUnavailable)
            XCTAssertNil(down.headers[.retryAfter])
            XCTAssertEqual(String(buffer: down.body),
                           #"{"error":{"code":"database_unavailable","message":"the audit database is unreachable; nothing was issued"}}"#)
        }
    }

    func testEveryKindOfRefusalHasTheStatusScriptsExpect() {
        let statuses: [BreakglassError.Kind: Int] = [
            .invalidInput: 400, .unauthenticated: 401, .forbidden: 403, .notFound: 404, .conflict: 409, .locked: 423,
            .tooLarge: 413, .unsupportedMediaType: 415, .rateLimited: 429, .unavailable: 503, .internalFailure: 500,
        ]
        for (kind, code) in statuses { XCTAssertEqual(BreakglassError(kind, "x", "y").status.code, code, "\(kind)") }
    }

    func testTheRoutersOwnRefusalsAndUnknownErrorsKeepTheAPIShape() async throws {
        struct DriverFailure: Error { let detail = "password=hunter2" }
        let router = Router(context: BreakglassRequestContext.self)
        router.add(middleware: ErrorMiddleware())
        router.get("/wrong-method") { _, _ -> Response in throw HTTPError(.methodNotAllowed) }
        router.post("/too-big") { _, _ -> Response in throw HTTPError(.contentTooLarge) }
        router.get("/crash") { _, _ -> Response in throw DriverFailure() }
        try await Application(router: router).test(.router) { client in
            let answers: [(String, HTTPRequest.Method, HTTPResponse.Status, String)] = [
                ("/nothing-here", .get, .notFound, #"{"error":{"code":"not_found","message":"no such endpoint: GET /nothing-here"}}"#),
                ("/wrong-method", .get, .methodNotAllowed, #"{"error":{"code":"method_not_allowed","message":"Method Not Allowed"}}"#),
                ("/too-big", .post, .contentTooLarge, #"{"error":{"code":"body_too_large","message":"Content Too Large"}}"#),
                ("/crash", .get, .internalServerError,
                 #"{"error":{"code":"internal_error","message":"the broker hit an unexpected error; nothing was issued"}}"#),
            ]
            for (uri, method, status, body) in answers {
                let answer = try await client.execute(uri: uri, method: method)
                XCTAssertEqual(answer.status, status, uri)
                XCTAssertEqual(String(buffer: answer.body), body, uri)
                XCTAssertEqual(answer.headers[.contentType], "application/json", uri)
                XCTAssertEqual(answer.headers[.cacheControl], "no-store", uri)
            }
        }
    }
}
