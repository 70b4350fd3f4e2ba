import BreakglassCore
import Hummingbird
import NIOCore

/// Per-request context: the authenticated user (set by `AuthMiddleware`) and where the request came from.
public struct BreakglassRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    public var user: AuthUser?
    public let remoteAddress: String?

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        remoteAddress = source.channel.remoteAddress?.ipAddress
    }

    public func requireUser() throws -> AuthUser {
        guard let user else { throw BreakglassError.unauthenticated }
        return user
    }
}
