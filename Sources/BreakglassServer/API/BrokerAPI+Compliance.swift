import BreakglassAPI
import BreakglassCore
import Foundation
import OpenAPIRuntime

/// Retro pull requests and their review.
extension BrokerAPI {
    func listRetroObligations(_ input: Operations.ListRetroObligations.Input) async throws -> Operations.ListRetroObligations.Output {
        .ok(.init(body: .json(try await broker.retroObligations(actor: try actor(), everyone: input.query.all ?? false).map { .init($0) })))
    }

    func linkRetroPullRequest(_ input: Operations.LinkRetroPullRequest.Input) async throws -> Operations.LinkRetroPullRequest.Output {
        let body = switch input.body { case .json(let value): value }
        let view = try await broker.linkRetro(sessionId: input.path.id, url: body.url, actor: try actor(), totp: body.totp, origin: origin)
        return .ok(.init(body: .json(.init(view))))
    }

    func getComplianceQueue(_ input: Operations.GetComplianceQueue.Input) async throws -> Operations.GetComplianceQueue.Output {
        let queue = try await broker.complianceQueue(actor: try actor(), drills: input.query.drills ?? false)
        if input.query.format == .csv {
            return .ok(.init(body: .csv(HTTPBody(CompliancePages.csv(queue, now: broker.clock.now())))))
        }
        return .ok(.init(body: .json(queue.map { .init($0) })))
    }

    func getSessionStory(_ input: Operations.GetSessionStory.Input) async throws -> Operations.GetSessionStory.Output {
        .ok(.init(body: .json(.init(try await broker.sessionStory(sessionId: input.path.id, actor: try actor(), origin: origin)))))
    }

    func approveRetro(_ input: Operations.ApproveRetro.Input) async throws -> Operations.ApproveRetro.Output {
        let body = switch input.body { case .json(let value): value }
        return .ok(.init(body: .json(try await review(input.path.id, .approve, body))))
    }

    func rejectRetro(_ input: Operations.RejectRetro.Input) async throws -> Operations.RejectRetro.Output {
        let body = switch input.body { case .json(let value): value }
        return .ok(.init(body: .json(try await review(input.path.id, .reject, body))))
    }

    func waiveRetro(_ input: Operations.WaiveRetro.Input) async throws -> Operations.WaiveRetro.Output {
        let body = switch input.body { case .json(let value): value }
        return .ok(.init(body: .json(try await review(input.path.id, .waive, body))))
    }

    private func review(_ sessionId: String, _ decision: RetroDecision, _ body: Components.Schemas.ReviewRequest) async throws
        -> Components.Schemas.RetroView {
        let field = decision == .waive ? "reason" : "note"
        guard let note = body.note ?? body.reason else { throw BreakglassError.invalid(field, "the field '\(field)' is required") }
        return .init(try await broker.reviewRetro(sessionId: sessionId, decision: decision, note: note, actor: try actor(), origin: origin))
    }

    func acceptRetroCandidate(_ input: Operations.AcceptRetroCandidate.Input) async throws -> Operations.AcceptRetroCandidate.Output {
        let body = switch input.body { case .json(let value): value }
        let view = try await broker.acceptCandidate(sessionId: input.path.id, url: body.url, actor: try actor(), origin: origin)
        return .ok(.init(body: .json(.init(view))))
    }

    func exportEvidencePack(_ input: Operations.ExportEvidencePack.Input) async throws -> Operations.ExportEvidencePack.Output {
        .ok(.init(body: .json(.init(try await broker.evidencePack(sessionId: input.path.id, actor: try actor(), origin: origin)))))
    }

    func getComplianceMetrics(_ input: Operations.GetComplianceMetrics.Input) async throws -> Operations.GetComplianceMetrics.Output {
        try actor().require(.compliance, to: "read compliance metrics")
        return .ok(.init(body: .json(.init(try await broker.retroMetrics()))))
    }

    func issueWebTicket(_ input: Operations.IssueWebTicket.Input) async throws -> Operations.IssueWebTicket.Output {
        let ticket = try await broker.issueWebTicket(actor: try actor())
        return .created(.init(body: .json(.init(path: "/compliance/login?ticket=\(ticket)", expiresIn: "2m"))))
    }
}
