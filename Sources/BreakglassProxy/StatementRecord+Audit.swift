import BreakglassCore
import Foundation

extension StatementRecord {
    /// The record as an audit event of the session, in the session's shard of the chain: an intent is
    /// `session.statement` (SQL text and parameters), an outcome `session.statement_result`.
    /// `connection` tells apart the statements of a session's several connections (each numbers from 0).
    public func auditEvent(session: String, connection: String, target: String, actor: String, at: Date) -> AuditEvent {
        var details: [String: String] = ["connection": connection, "sequence": String(sequence)]
        switch origin {
        case .simpleQuery:
            details["protocol"] = "simple"
            details["result_index"] = String(resultIndex)
        case .parse(let statement):
            details["protocol"] = "parse"
            if !statement.isEmpty { details["prepared_statement"] = statement }
        case .extended(let statement, let portal):
            details["protocol"] = "extended"
            if !statement.isEmpty { details["prepared_statement"] = statement }
            if !portal.isEmpty { details["portal"] = portal }
        case .functionCall(let oid):
            details["protocol"] = "function_call"
            details["function_oid"] = String(oid)
        }
        // The intent carries what ran; an outcome refers to it by connection and sequence, so a query
        // string with many results is not copied into every one of them.
        if outcome == nil {
            if let text { details["sql"] = text }
            if !parameters.isEmpty { details["parameters"] = Self.json(parameters.map(\.display)) }
        }
        if let outcome {
            switch outcome {
            case .completed(let tag, let rows):
                details["result"] = "completed"
                details["command_tag"] = tag
                details["rows"] = String(rows)
            case .empty:
                details["result"] = "empty"
            case .suspended(let rows):
                details["result"] = "suspended"
                details["rows"] = String(rows)
            case .returned(let value):
                details["result"] = "returned"
                details["value"] = value.display
            case .failed(let sqlState, let message, let rows):
                details["result"] = "failed"
                details["sqlstate"] = sqlState
                details["error"] = message
                details["rows"] = String(rows)
            case .skipped:
                details["result"] = "skipped"
            case .omitted(let results, let failed):
                details["result"] = "omitted"
                details["omitted_results"] = String(results)
                details["omitted_failed"] = String(failed)
            }
        }
        let failed: Bool = if case .failed? = outcome { true } else { false }
        return AuditEvent(type: outcome == nil ? .sessionStatement : .sessionStatementResult, outcome: failed ? .failure : .success, at: at,
                          actor: actor, target: target, sessionId: session, details: details)
    }

    private static func json(_ values: [String?]) -> String {
        let data = (try? JSONSerialization.data(withJSONObject: values.map { $0 as Any? ?? NSNull() }, options: [.sortedKeys])) ?? Data("[]".utf8)
        return String(decoding: data, as: UTF8.self)
    }
}

extension RecordedParameter {
    /// nil is SQL NULL; binary values as `\x…` like PostgreSQL prints bytea; redacted values as a marker.
    public var display: String? {
        switch self {
        case .null: nil
        case .text(let value): value
        case .binary(let hex): "\\x" + hex
        case .redacted(let count): "<redacted \(count) bytes>"
        }
    }
}
