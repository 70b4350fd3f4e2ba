import ArgumentParser
import BreakglassCore
import BreakglassStore

/// Whether `serve` runs on a database role that could rewrite the audit log.
enum PrivilegedRolePolicy: Sendable {
    case refuse
    /// The operator accepted the risk (`--allow-privileged-role`, `BREAKGLASS_ALLOW_PRIVILEGED_ROLE=1`).
    case allow

    static func from(flag: Bool, environment: [String: String]) throws -> PrivilegedRolePolicy {
        switch environment["BREAKGLASS_ALLOW_PRIVILEGED_ROLE"] ?? "" {
        case "1", "true": return .allow
        case "", "0", "false": return flag ? .allow : .refuse
        case let other: throw ValidationError("BREAKGLASS_ALLOW_PRIVILEGED_ROLE '\(other)' must be 1 or 0")
        }
    }
}

extension Runtime {
    /// The audit log is tamper-evident against the server only if the server's role cannot alter it. One
    /// database URL for both migrations and serving makes the server the tables' owner; refuse that.
    func checkRuntimeRole(_ database: Database, policy: PrivilegedRolePolicy) async throws {
        let findings = try await database.read { try await RuntimeRoleFindings.examine($0) }
        guard !findings.isUnprivileged else { return }
        let problem = "the database role '\(findings.role)' the server connects as \(findings.problems.joined(separator: ", ")), "
            + "so the server could rewrite the audit log"
        switch policy {
        case .allow:
            logger.warning("serving with a privileged database role (BREAKGLASS_ALLOW_PRIVILEGED_ROLE)",
                           metadata: ["db.role": "\(findings.role)", "db.problems": "\(findings.problems.joined(separator: "; "))"])
        case .refuse:
            throw BreakglassError(.invalidInput, "privileged_runtime_role", """
                refusing to serve: \(problem); give BREAKGLASS_MIGRATION_DATABASE_URL as the schema owner and DATABASE_URL as a \
                separate unprivileged login role granted breakglass_app (or set BREAKGLASS_ALLOW_PRIVILEGED_ROLE=1 to run anyway)
                """)
        }
    }
}
