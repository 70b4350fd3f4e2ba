import BreakglassCore
import Hummingbird
import NIOCore

/// Per-request context: the authenticated user (set by `AuthMiddleware`) and where the request came from.
public struct BreakglassRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    public var user: AuthUser?
    /// The peer of the TCP connection.
    public let remoteAddress: String?
    /// The client as far as the broker can tell: the peer, or behind a trusted proxy the address it forwarded
    /// (set by `ClientAddressMiddleware`). Audit rows and rate limits use this.
    public var clientAddress: String?

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        remoteAddress = source.channel.remoteAddress?.ipAddress
        clientAddress = remoteAddress
    }

    public func requireUser() throws -> AuthUser {
        guard let user else { throw BreakglassError.unauthenticated }
        return user
    }
}
