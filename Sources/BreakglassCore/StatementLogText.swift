/// How a statement the recording proxy recorded, and what the target answered, read to a reviewer: one
/// wording, from the audit details the proxy writes, for the CLI's session log and the compliance page.
public enum StatementLogText {
    /// A `session.statement` event's details: the SQL, or what stood in for it.
    public static func statement(_ d: [String: String]) -> String {
        if d["protocol"] == "parse" {
            return "prepare \(d["prepared_statement"].map { "\"\($0)\"" } ?? "(unnamed)"): \(d["sql"] ?? "-")"
        }
        return d["sql"] ?? d["function_oid"].map { "(function call \($0))" } ?? "(portal \(d["portal"] ?? "-"), opened by an earlier statement)"
    }

    /// A `session.statement_result` event's details.
    public static func result(_ d: [String: String]) -> String {
        switch d["result"] {
        case "completed": "\(d["command_tag"] ?? "-")" + (d["rows"].map { $0 == "0" ? "" : " (\($0) rows)" } ?? "")
        case "failed": "ERROR \(d["sqlstate"] ?? "-"): \(d["error"] ?? "-")"
        case "omitted": "\(d["omitted_results"] ?? "-") more results not kept one by one (\(d["omitted_failed"] ?? "0") failed)"
        case let other?: other
        case nil: "-"
        }
    }
}
