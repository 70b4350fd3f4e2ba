import BreakglassCore
import Foundation

/// The caller of an API request, resolved from its bearer token.
public struct AuthUser: Sendable, Equatable {
    public var id: UUID
    public var name: String
    public var roles: [Role]
    /// Hash of the API token this request came with (nil for a browser session), so a browser session can be
    /// tied to the token that opened it.
    public var tokenHash: [UInt8]?

    public init(id: UUID, name: String, roles: [Role], tokenHash: [UInt8]? = nil) {
        self.id = id
        self.name = name
        self.roles = roles
        self.tokenHash = tokenHash
    }

    public func has(_ role: Role) -> Bool { roles.contains(role) }

    public func require(_ role: Role, to action: String) throws {
        guard has(role) else { throw BreakglassError.forbidden("only the \(role.rawValue) role may \(action)") }
    }

    /// Admins and compliance see every session; engineers their own.
    public var seesEverything: Bool { has(.admin) || has(.compliance) }
}
