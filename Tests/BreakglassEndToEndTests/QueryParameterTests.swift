import BreakglassTestSupport
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import XCTest

/// A time or a number in the query is read whole or refused with a 400 that names the parameter: a bound with
/// junk after it must not quietly become another bound. In process, through the real router and a real Broker.
final class QueryParameterTests: XCTestCase {
    func testTimesAndNumbersInTheQueryAreReadWholeOrRefusedByName() async throws {
        try await InProcessBroker.with { broker in
            let auditor = try await broker.enrol("carol", roles: [.compliance])
            try await Application(router: broker.router).test(.router) { client in
                let token: HTTPFields = [.authorization: "Bearer \(auditor)"]
                let refused = [
                    ("from=2026-01-01T00:00:00Z%00", "from"), ("until=2026-01-01T00:00:00.000Zjunk", "until"),
                    ("from=%202026-01-01T00:00:00Z", "from"), ("until=2026-02-29T00:00:00Z", "until"),
                    ("from=2026-01-01T24:00:00Z", "from"), ("from=2026-1-01T00:00:00Z", "from"), ("from=", "from"),
                    // A `+` in a query is a space: an offset must be sent as %2B.
                    ("from=2026-01-01T00:00:00+02:00", "from"), ("after_id=5%00", "after_id"), ("after_id=0x10", "after_id"),
                    ("limit=10x", "limit"), ("limit=", "limit"), ("limit=1&from=2026-01-01T00:00:00Z&until=soon", "until"),
                ]
                for (query, parameter) in refused {
                    let answer = try await client.execute(uri: "/v1/audit/events?\(query)", method: .get, headers: token)
                    let body = String(buffer: answer.body)
                    XCTAssertEqual(answer.status, .badRequest, "\(query): \(body)")
                    XCTAssertTrue(body.contains(#""code":"invalid_\#(parameter)""#), "\(query): \(body)")
                    XCTAssertTrue(body.contains("'\(parameter)'"), "the message names the parameter: \(body)")
                }
                let read = ["from=2026-01-01T00:00:00Z", "from=2026-01-01T00:00:00.000Z&until=2027-01-02T00:00:00.5%2B02:00",
                            "after_id=1&limit=5", "from=2026-01-01T00:00:00Z&from=junk"]
                for query in read {
                    let answer = try await client.execute(uri: "/v1/audit/events?\(query)", method: .get, headers: token)
                    XCTAssertEqual(answer.status, .ok, "\(query): \(String(buffer: answer.body))")
                }
            }
        }
    }
}
