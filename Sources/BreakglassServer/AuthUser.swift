import BreakglassCore
import Foundation

/// The caller of an API request, resolved from its bearer token.
public struct AuthUser: Sendable, Equatable {
    public var id: UUID
    public var name: String
    public var roles: [Role]

    public func has(_ role: Role) -> Bool { roles.contains(role) }

    public func require(_ role: Role, to action: String) throws {
        guard has(role) else { throw BreakglassError.forbidden("only the \(role.rawValue) role may \(action)") }
    }

    /// Admins and compliance see every session; engineers their own.
    public var seesEverything: Bool { has(.admin) || has(.compliance) }
}
