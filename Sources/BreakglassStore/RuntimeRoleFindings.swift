import BreakglassCore
import Foundation
import PostgresNIO

/// What makes the role the server connects as more powerful than `breakglass_app`. A role that owns the
/// tables (or may act as their owner) can disable the audit log's append-only triggers, rewrite the log and
/// drop it; the log is meant to be tamper-evident against the server itself, so the server must not be
/// able to do that.
public struct RuntimeRoleFindings: Sendable, Equatable {
    public var role: String
    public var superuser: Bool
    /// Tables of the broker's schema that the role owns, or whose owning role it is a member of.
    public var ownedTables: [String]
    /// Those of UPDATE, DELETE and TRUNCATE the role holds on `audit_events`.
    public var auditPrivileges: [String]
    /// CREATEROLE (PostgreSQL 15 and earlier let such a role grant itself membership in any non-superuser
    /// role, the owner included) or ADMIN option on a role that owns tables: one `GRANT … TO self` away.
    public var canBecomeOwner: Bool

    public init(role: String, superuser: Bool, ownedTables: [String], auditPrivileges: [String], canBecomeOwner: Bool = false) {
        self.role = role
        self.superuser = superuser
        self.ownedTables = ownedTables
        self.auditPrivileges = auditPrivileges
        self.canBecomeOwner = canBecomeOwner
    }

    public var isUnprivileged: Bool { problems.isEmpty }

    /// One phrase per finding, for a one-line message.
    public var problems: [String] {
        var out: [String] = []
        if superuser { out.append("is a superuser") }
        if !ownedTables.isEmpty {
            let shown = ownedTables.prefix(3).joined(separator: ", ")
            let more = ownedTables.count > 3 ? " and \(ownedTables.count - 3) more" : ""
            out.append("owns (or is a member of the owner of) tables \(shown)\(more)")
        }
        if !auditPrivileges.isEmpty { out.append("may \(auditPrivileges.joined(separator: ", ")) audit_events") }
        if canBecomeOwner { out.append("has CREATEROLE or ADMIN on the owner's role, so it can make itself the owner") }
        return out
    }
}

extension RuntimeRoleFindings {
    /// Examines the role of `tx`'s connection. Membership counts as ownership: a member can `SET ROLE` to the
    /// owner (PostgreSQL's MEMBER, which also covers NOINHERIT grants that USAGE would miss).
    public static func examine(_ tx: Tx) async throws -> RuntimeRoleFindings {
        var role = "", superuser = false
        for try await (name, isSuper) in try await tx.query(
            "SELECT current_user::text, rolsuper FROM pg_roles WHERE rolname = current_user").decode((String, Bool).self) {
            role = name
            superuser = isSuper
        }
        // The schema the server's unqualified names resolve to: where audit_events is.
        var owned: [String] = []
        for try await table in try await tx.query("""
            SELECT c.relname::text FROM pg_class c
            WHERE c.relnamespace = coalesce((SELECT relnamespace FROM pg_class WHERE oid = to_regclass('audit_events')),
                                            (SELECT oid FROM pg_namespace WHERE nspname = current_schema()))
              AND c.relkind IN ('r', 'p') AND pg_has_role(current_user, c.relowner, 'MEMBER')
            ORDER BY c.relname
            """).decode(String.self) {
            owned.append(table)
        }
        var audit: [String] = []
        for try await privilege in try await tx.query("""
            SELECT p FROM unnest(ARRAY['UPDATE', 'DELETE', 'TRUNCATE']) WITH ORDINALITY AS t(p, n)
            WHERE CASE WHEN to_regclass('audit_events') IS NULL THEN false ELSE has_table_privilege('audit_events', p) END ORDER BY n
            """).decode(String.self) {
            audit.append(privilege)
        }
        var escalates = false
        for try await value in try await tx.query("""
            SELECT rolcreaterole OR EXISTS (
                SELECT 1 FROM pg_class c
                WHERE c.oid = to_regclass('audit_events') AND pg_has_role(current_user, c.relowner, 'USAGE WITH ADMIN OPTION'))
            FROM pg_roles WHERE rolname = current_user
            """).decode(Bool.self) {
            escalates = value
        }
        return RuntimeRoleFindings(role: role, superuser: superuser, ownedTables: owned, auditPrivileges: audit, canBecomeOwner: escalates)
    }
}
