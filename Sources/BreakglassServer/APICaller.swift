import BreakglassCore
import Hummingbird

/// Who is calling the operation being served: set by `APICallerMiddleware` around the route handler, read by
/// `BrokerAPI`. The generated handler runs in the route handler's own task, so a task-local carries what the
/// `RequestContext` knows (the user `AuthMiddleware` resolved, the client address) across the generated layer,
/// which sees only the HTTP request.
struct APICaller: Sendable {
    @TaskLocal static var current: APICaller?

    var user: AuthUser?
    /// The bearer token as sent: activation authenticates with it inside its own first statement.
    var bearer: String?
    var origin: RequestOrigin

    static func require() throws -> APICaller {
        // Only reachable if an operation were registered without the middleware: fail closed.
        guard let current else { throw BreakglassError.unauthenticated }
        return current
    }

    static func requireUser() throws -> AuthUser {
        guard let user = try require().user else { throw BreakglassError.unauthenticated }
        return user
    }

    static var origin: RequestOrigin { current?.origin ?? RequestOrigin(address: nil, userAgent: nil) }
}

/// Innermost on every group the generated handlers are registered on.
struct APICallerMiddleware: RouterMiddleware {
    typealias Context = BreakglassRequestContext

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let caller = APICaller(user: context.user, bearer: AuthMiddleware.bearerToken(request), origin: Routes.origin(request, context))
        return try await APICaller.$current.withValue(caller) { try await next(request, context) }
    }
}
