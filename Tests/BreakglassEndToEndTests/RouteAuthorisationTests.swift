import BreakglassAPI
import BreakglassCore
import BreakglassServer
import BreakglassStore
import BreakglassTestSupport
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import XCTest

/// Every operation of the contract, in process through the real router and a real Broker on a test database:
/// who may reach it. The rows are checked against the contract's own list, so an operation added to the document
/// without a decision here fails this test.
final class RouteAuthorisationTests: XCTestCase {
    /// Who an operation admits.
    enum Admits {
        /// Anyone, with no token at all.
        case anyone
        /// Any enrolled user with a token.
        case anyUser
        /// A token of this role; an engineer's token is refused with 403.
        case role(Role)
        /// GitHub's signature, not a token: refused without one (401, or 503 while no hook secret is configured).
        case signature
    }

    static let expected: [String: Admits] = [
        "checkHealth": .anyone, "checkReadiness": .anyone, "getOpenAPIDocument": .anyone, "getJSONWebKeySet": .anyone,
        "listRevokedTokens": .anyone, "startEnrollment": .anyone, "confirmEnrollment": .anyone, "login": .anyone,
        "receiveGitHubWebhook": .signature,
        "getCurrentUser": .anyUser, "listTargets": .anyUser, "listSessions": .anyUser, "requestSession": .anyUser, "requestDrill": .anyUser,
        "getSession": .anyUser, "listSessionStatements": .anyUser, "extendSession": .anyUser, "endSession": .anyUser,
        "revokeSession": .anyUser, "getAuditHead": .anyUser, "listAPITokens": .anyUser, "revokeAPIToken": .anyUser,
        "listRetroObligations": .anyUser, "linkRetroPullRequest": .anyUser, "exportDrillReport": .anyUser,
        "listUsers": .role(.admin), "createUser": .role(.admin), "issueEnrollmentCode": .role(.admin), "unlockUser": .role(.admin),
        "setGitHubLogin": .role(.admin), "saveTarget": .role(.admin), "saveChannel": .role(.admin), "listChannels": .role(.admin),
        "testChannel": .role(.admin), "enableChannel": .role(.admin), "listDeliveries": .role(.admin), "retryDelivery": .role(.admin),
        "verifyAudit": .role(.compliance), "verifyAuditAgainstHeads": .role(.compliance), "exportAuditEvents": .role(.compliance),
        "getComplianceQueue": .role(.compliance), "getSessionStory": .role(.compliance), "approveRetro": .role(.compliance),
        "rejectRetro": .role(.compliance), "waiveRetro": .role(.compliance), "acceptRetroCandidate": .role(.compliance),
        "exportEvidencePack": .role(.compliance), "getComplianceMetrics": .role(.compliance), "issueWebTicket": .role(.compliance),
    ]

    /// Bodies that pass the checks some operations make before the caller's role (an empty body would be refused
    /// as bad input first, which says nothing about who may call them).
    static let bodies: [String: String] = [
        "createUser": #"{"name":"mallory","roles":["admin"]}"#, "saveTarget": #"{"max_ttl":"1h"}"#,
        "saveChannel": #"{"kind":"slack","url":"https://hooks.slack.com/services/x"}"#,
        "approveRetro": #"{"note":"fine"}"#, "rejectRetro": #"{"note":"no"}"#, "waiveRetro": #"{"reason":"nothing changed"}"#,
        "acceptRetroCandidate": #"{"url":"https://github.com/acme/payments/pull/1"}"#,
    ]

    func testEveryOperationOfTheContractAdmitsOnlyWhomItShould() async throws {
        let operations = OpenAPIDocument.operations
        XCTAssertGreaterThan(operations.count, 40, "the contract's operations are read from the compiled-in document")
        XCTAssertEqual(Set(operations.map(\.operationId)), Set(Self.expected.keys), "every operation of the contract has a row, and no row is stale")

        try await InProcessBroker.with { broker in
            let engineer = try await broker.enrol("erin", roles: [.engineer])
            try await Application(router: broker.router).test(.router) { client in
                for operation in operations {
                    let admits = try XCTUnwrap(Self.expected[operation.operationId])
                    let uri = operation.path.replacingOccurrences(of: "/deliveries/{id}", with: "/deliveries/\(UUID())")
                        .replacingOccurrences(of: "{", with: "x").replacingOccurrences(of: "}", with: "")
                    let method = HTTPRequest.Method(operation.method)!
                    let body = operation.takesBody ? ByteBuffer(string: Self.bodies[operation.operationId] ?? "{}") : nil
                    let json: HTTPFields = operation.takesBody ? [.contentType: "application/json"] : [:]
                    let anonymous = try await client.execute(uri: uri, method: method, headers: json, body: body)
                    var signed = json
                    signed[.authorization] = "Bearer \(engineer)"
                    let withEngineer = try await client.execute(uri: uri, method: method, headers: signed, body: body)
                    let name = "\(operation.method) \(operation.path)"
                    switch admits {
                    case .anyone:
                        XCTAssertNotEqual(anonymous.status, .unauthorized, "\(name) is open")
                        XCTAssertLessThan(anonymous.status.code, 500, name)
                    case .signature:
                        XCTAssertTrue([.unauthorized, .serviceUnavailable].contains(anonymous.status), "\(name) needs GitHub's signature")
                    case .anyUser:
                        XCTAssertEqual(anonymous.status, .unauthorized, "\(name) needs a token")
                        XCTAssertFalse([.unauthorized, .forbidden].contains(withEngineer.status), "\(name) admits an engineer: \(withEngineer.status)")
                        XCTAssertLessThan(withEngineer.status.code, 500, name)
                    case .role(let role):
                        XCTAssertEqual(anonymous.status, .unauthorized, "\(name) needs a token")
                        XCTAssertEqual(withEngineer.status, .forbidden, "\(name) is for the \(role.rawValue) role: \(String(buffer: withEngineer.body))")
                    }
                    if anonymous.status == .unauthorized {
                        XCTAssertTrue(String(buffer: anonymous.body).contains(#""code":"unauthenticated""#) || admits == .signature, name)
                    }
                }
            }
        }
    }
}

extension RouteAuthorisationTests.Admits: Equatable {}
