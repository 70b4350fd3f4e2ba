import BreakglassAPI
import BreakglassCore
import BreakglassStore
import Foundation
import Hummingbird
import OpenAPIRuntime

/// The broker's side of the contract: each generated operation translates its input into a use case of `Broker`
/// and the result into the generated answer. Who is calling comes from `APICaller` (the router's middleware
/// resolved it); errors are thrown as `BreakglassError`, which renders itself as HTTP (`HTTPResponseError`).
struct BrokerAPI: APIProtocol {
    let broker: Broker
    let migrator: Migrator
    let guardian: AuthFailureGuard
    /// Public, unauthenticated and backed by the database: served from a short cache so a flood of them
    /// does not take pooled connections from activations.
    let readiness = ResponseCache<Bool>(maxAge: .seconds(1))
    let revocations = ResponseCache<[RevokedToken]>(maxAge: .seconds(2))

    var origin: RequestOrigin { APICaller.origin }
    func actor() throws -> AuthUser { try APICaller.requireUser() }

    func checkHealth(_ input: Operations.CheckHealth.Input) async throws -> Operations.CheckHealth.Output {
        .ok(.init(body: .json(.init(status: "ok"))))
    }

    func checkReadiness(_ input: Operations.CheckReadiness.Input) async throws -> Operations.CheckReadiness.Output {
        _ = try await readiness.value { [broker, migrator] in
            let pending = try await broker.database.read { try await migrator.pending($0) }
            guard pending.isEmpty else {
                throw BreakglassError(.unavailable, "migrations_pending", "migrations not applied yet: \(pending.joined(separator: ", "))")
            }
            return true
        }
        return .ok(.init(body: .json(.init(status: "ready"))))
    }

    func getOpenAPIDocument(_ input: Operations.GetOpenAPIDocument.Input) async throws -> Operations.GetOpenAPIDocument.Output {
        // Served by a hand-written route, byte for byte (OperationAccess.table): decoding and re-encoding the
        // document here would reorder it.
        throw BreakglassError(.internalFailure, "internal_error", "the contract is served by its own route")
    }

    func getJSONWebKeySet(_ input: Operations.GetJSONWebKeySet.Input) async throws -> Operations.GetJSONWebKeySet.Output {
        .ok(.init(headers: .init(cacheControl: "public, max-age=300"), body: .json(.init(broker.jwks))))
    }

    /// Public like the JWKS: ended or revoked sessions whose tokens have not expired yet, so downstream services
    /// can refuse them before `exp`. Holds session ids and times only.
    func listRevokedTokens(_ input: Operations.ListRevokedTokens.Input) async throws -> Operations.ListRevokedTokens.Output {
        let revoked = try await revocations.value { [broker] in try await broker.revokedTokens() }
        return .ok(.init(headers: .init(cacheControl: "public, max-age=15"),
                         body: .json(.init(revoked: revoked.map { .init($0) }))))
    }

    func receiveGitHubWebhook(_ input: Operations.ReceiveGitHubWebhook.Input) async throws -> Operations.ReceiveGitHubWebhook.Output {
        // Served by `Routes.addGitHubHook`: the signature covers the raw body, which the generated handler does not keep.
        throw BreakglassError(.internalFailure, "internal_error", "GitHub deliveries are served by their own route")
    }
}
