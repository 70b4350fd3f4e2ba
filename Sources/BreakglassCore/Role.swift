import Foundation

public enum Role: String, Codable, Sendable, CaseIterable, Comparable {
    case engineer, compliance, admin

    public static func < (a: Role, b: Role) -> Bool { a.rawValue < b.rawValue }

    public static func parseList(_ text: [String]) throws -> [Role] {
        guard !text.isEmpty else { throw BreakglassError.invalid("roles", "at least one role is required (engineer, compliance, admin)") }
        var roles = Set<Role>()
        for name in text.flatMap({ $0.split(separator: ",") }) {
            let trimmed = name.trimmingCharacters(in: .whitespaces).lowercased()
            guard let role = Role(rawValue: trimmed) else {
                throw BreakglassError.invalid("roles", "unknown role '\(trimmed)'; roles are engineer, compliance, admin")
            }
            roles.insert(role)
        }
        return roles.sorted()
    }

    /// One account may not both administer the broker and sign off its emergency changes: an admin could
    /// otherwise create a target, break glass through a second account and approve the evidence. Operators
    /// may opt out (small teams) explicitly.
    public static func checkSeparation(_ roles: [Role], allowAdminCompliance: Bool) throws {
        guard roles.contains(.admin), roles.contains(.compliance), !allowAdminCompliance else { return }
        throw BreakglassError(.invalidInput, "roles_conflict",
                              "one account may not hold both admin and compliance (separation of duties); create two accounts, or set BREAKGLASS_ALLOW_ADMIN_COMPLIANCE=1")
    }

    /// The same rule when an account acts: one created with both roles before the rule (or while the operator
    /// had opted in) administers and reviews nothing until it is split or the operator opts in again.
    public static func requireSeparated(_ roles: [Role], allowAdminCompliance: Bool) throws {
        guard roles.contains(.admin), roles.contains(.compliance), !allowAdminCompliance else { return }
        throw BreakglassError(.forbidden, "roles_conflict",
                              "this account holds both admin and compliance (separation of duties): it may not change settings or review until the roles are split, or the operator sets BREAKGLASS_ALLOW_ADMIN_COMPLIANCE=1")
    }
}
