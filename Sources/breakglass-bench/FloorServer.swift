import Foundation
import Hummingbird
import Logging
import PostgresNIO

/// The least any broker on this stack could do for an activation, served the way `breakglassd` serves one, so
/// `bench-activation.sh` can tell the cost of the stack on this machine (Hummingbird, postgres-nio, the HTTP load)
/// from the cost of the broker's own work. It answers `POST /v1/sessions` by decoding the same JSON body and running
/// pgbench's same-shape transaction (one row updated, four inserted, one durable commit) as a single prepared statement
/// in one round trip, then answers 201 with a small JSON body. No authentication, TOTP, audit chain, signing or policy:
/// whatever rate it reaches bounds the broker's from above.
struct FloorServer {
    var port: Int
    var engineers: Int
    var environment: [String: String]

    private struct ActivationBody: Decodable {
        var target: String
        var reason: String
        var incident: String
        var ttl: String?
        var totp: String
    }

    private struct Answer: Encodable, ResponseEncodable {
        var id: String
        var target: String
        var expiresAt: Date
    }

    /// pgbench's transaction of `bench-activation.sh`, on its `shape` tables, as one statement.
    private struct ShapeStatement: PostgresPreparedStatement {
        static let sql = """
            WITH spent AS (
                UPDATE engineers SET last_step = last_step + 1 WHERE id = $1
            ), session AS (
                INSERT INTO sessions VALUES ($2, $1, $3, now() + interval '30 minutes')
            ), obligation AS (
                INSERT INTO obligations VALUES ($2, now() + interval '1 day',
                                                '{"rungs": [{"after": 0, "channel": "slack"}, {"after": 3600, "channel": "pagerduty"}]}')
            ), page AS (
                INSERT INTO outbox VALUES (gen_random_uuid(), $2, jsonb_build_object('session_id', $2, 'target', $4, 'reason', $3), now())
            )
            INSERT INTO audit (session_id, body, hash) VALUES ($2, repeat('x', 600), md5(random()::text))
            """
        static let bindingDataTypes: [PostgresDataType] = [.int4, .text, .text, .text]
        typealias Row = ()
        var engineer: Int32
        var session: String
        var reason: String
        var target: String

        func makeBindings() throws -> PostgresBindings {
            var bindings = PostgresBindings(capacity: 4)
            bindings.append(engineer)
            bindings.append(session)
            bindings.append(reason)
            bindings.append(target)
            return bindings
        }

        func decodeRow(_ row: PostgresRow) throws -> Row {}
    }

    func run() async throws {
        var configuration = PostgresClient.Configuration(
            host: environment["PGHOST"] ?? "127.0.0.1", port: Int(environment["PGPORT"] ?? "") ?? 5432,
            username: environment["PGUSER"] ?? "postgres", password: environment["PGPASSWORD"], database: "shape", tls: .disable)
        // As many connections as the broker's pool may open.
        configuration.options.maximumConnections = 40
        let logger = BenchDatabase.logger
        let client = PostgresClient(configuration: configuration, backgroundLogger: logger)
        let engineers = engineers
        let router = Router()
        router.post("/v1/sessions") { request, context -> EditedResponse<Answer> in
            let body = try await request.decode(as: ActivationBody.self, context: context)
            guard request.headers[.authorization]?.hasPrefix("Bearer ") == true else { throw HTTPError(.unauthorized) }
            let id = "bg_" + UUID().uuidString.lowercased()
            _ = try await client.execute(ShapeStatement(engineer: Int32.random(in: 1...Int32(engineers)), session: id, reason: body.reason,
                                                    target: body.target), logger: logger)
            return EditedResponse(status: .created, response: Answer(id: id, target: body.target, expiresAt: Date() + 1800))
        }
        let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: port), serverName: "floor"),
                              services: [client], logger: logger)
        try await app.runService()
    }
}
