import BreakglassAPI
import BreakglassCore
import Foundation
import OpenAPIRuntime

/// The audit chain: its heads, verification and export.
extension BrokerAPI {
    func getAuditHead(_ input: Operations.GetAuditHead.Input) async throws -> Operations.GetAuditHead.Output {
        let heads = try await broker.auditHeads()
        return .ok(.init(body: .json(.init(digest: AuditChain.digest(heads), events: heads.reduce(0) { $0 + $1.seq },
                                           heads: heads.map { .init($0) }))))
    }

    func verifyAudit(_ input: Operations.VerifyAudit.Input) async throws -> Operations.VerifyAudit.Output {
        .ok(.init(body: .json(.init(try await broker.verifyAudit(actor: try actor(), expectedHeads: [], origin: origin)))))
    }

    func verifyAuditAgainstHeads(_ input: Operations.VerifyAuditAgainstHeads.Input) async throws -> Operations.VerifyAuditAgainstHeads.Output {
        let body = input.body.map { switch $0 { case .json(let value): value } }
        let expected = body?.expectedHeads?.map { ChainHead($0) } ?? []
        return .ok(.init(body: .json(.init(try await broker.verifyAudit(actor: try actor(), expectedHeads: expected, origin: origin)))))
    }

    /// Raw chain rows as JSON lines, in id order, a page at a time (`after_id` continues).
    func exportAuditEvents(_ input: Operations.ExportAuditEvents.Input) async throws -> Operations.ExportAuditEvents.Output {
        let query = input.query
        let rows = try await broker.exportAudit(actor: try actor(), from: query.from, until: query.until, afterId: query.afterId ?? 0,
                                                limit: query.limit ?? 1000, origin: origin)
        var out = Data()
        for row in rows {
            out += AuditExportLine.encode(row)
            out.append(0x0A)
        }
        return .ok(.init(body: .applicationXNdjson(HTTPBody(out))))
    }
}
