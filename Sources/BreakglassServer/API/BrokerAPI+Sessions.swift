import BreakglassAPI
import BreakglassCore
import Foundation
import OpenAPIRuntime

/// Breaking glass, drills and the life of a session.
extension BrokerAPI {
    func requestSession(_ input: Operations.RequestSession.Input) async throws -> Operations.RequestSession.Output {
        let body = switch input.body { case .json(let value): value }
        return .created(.init(body: .json(try await activate(body, drill: false))))
    }

    /// A drill is requested exactly as glass is broken, on a path of its own: no field of a request body can turn
    /// a real activation into a drill (out of the queue and metrics) or back.
    func requestDrill(_ input: Operations.RequestDrill.Input) async throws -> Operations.RequestDrill.Output {
        let body = switch input.body { case .json(let value): value }
        return .created(.init(body: .json(try await activate(body, drill: true))))
    }

    /// Authenticates in the activation's own first statement (`OperationRoutes` read the bearer token, and
    /// answers a bad body from a caller without a valid token with 401), counting refusals toward the same budget.
    private func activate(_ body: Components.Schemas.SessionRequest, drill: Bool) async throws -> Components.Schemas.SessionGrant {
        let caller = try APICaller.require()
        guard let bearer = caller.bearer else { throw BreakglassError.unauthenticated }
        let asked = SessionRequest(target: body.target, reason: body.reason, incident: body.incident,
                                   ttl: try parseDuration(body.ttl, field: "ttl"), totp: body.totp, drill: drill)
        let grant = try await guardian.authenticate(address: caller.origin.address) {
            try await broker.request(asked, bearer: bearer, origin: caller.origin)
        }
        return .init(grant)
    }

    func listSessions(_ input: Operations.ListSessions.Input) async throws -> Operations.ListSessions.Output {
        .ok(.init(body: .json(try await broker.sessions(actor: try actor(), everyone: input.query.all ?? false).map { .init($0) })))
    }

    func getSession(_ input: Operations.GetSession.Input) async throws -> Operations.GetSession.Output {
        .ok(.init(body: .json(.init(try await broker.session(id: input.path.id, actor: try actor())))))
    }

    func listSessionStatements(_ input: Operations.ListSessionStatements.Input) async throws -> Operations.ListSessionStatements.Output {
        .ok(.init(body: .json(try await broker.statementLog(sessionId: input.path.id, actor: try actor(), origin: origin).map { .init($0) })))
    }

    func extendSession(_ input: Operations.ExtendSession.Input) async throws -> Operations.ExtendSession.Output {
        let body = switch input.body { case .json(let value): value }
        let grant = try await broker.extend(sessionId: input.path.id, ttl: try parseDuration(body.ttl, field: "ttl")!, totp: body.totp,
                                            actor: try actor(), origin: origin)
        return .ok(.init(body: .json(.init(grant))))
    }

    func endSession(_ input: Operations.EndSession.Input) async throws -> Operations.EndSession.Output {
        .ok(.init(body: .json(.init(try await broker.end(sessionId: input.path.id, actor: try actor(), origin: origin)))))
    }

    func revokeSession(_ input: Operations.RevokeSession.Input) async throws -> Operations.RevokeSession.Output {
        let body = switch input.body { case .json(let value): value }
        let session = try await broker.revoke(sessionId: input.path.id, reason: body.reason, actor: try actor(), origin: origin)
        return .ok(.init(body: .json(.init(session))))
    }

    func exportDrillReport(_ input: Operations.ExportDrillReport.Input) async throws -> Operations.ExportDrillReport.Output {
        .ok(.init(body: .json(.init(try await broker.drillReport(sessionId: input.path.id, actor: try actor(), origin: origin)))))
    }
}
