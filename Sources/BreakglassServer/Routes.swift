import BreakglassAPI
import BreakglassCore
import BreakglassStore
import Foundation
import Hummingbird
import Prometheus

/// The HTTP JSON API. Handlers only translate between HTTP and the broker's use cases.
enum Routes {
    static let openAPIDocument = ByteBuffer(bytes: OpenAPIDocument.bytes)

    static func build(broker: Broker, migrator: Migrator, pages: CompliancePages, secureCookies: Bool = false,
                      processMetrics: PrometheusCollectorRegistry? = nil) throws -> Router<BreakglassRequestContext> {
        let router = Router(context: BreakglassRequestContext.self)
        // Request count and duration by route template (never the raw path), through swift-metrics: the
        // executable chooses the backend (Prometheus into `processMetrics`); outermost, so errors count too.
        router.add(middleware: MetricsMiddleware())
        // Over TLS, browsers must never fall back to plain HTTP for the compliance pages (outermost, so error
        // answers carry it too).
        if secureCookies { router.add(middleware: StrictTransportSecurityMiddleware()) }
        router.add(middleware: ErrorMiddleware())
        router.add(middleware: ClientAddressMiddleware(trustedProxies: Set(broker.settings.trustedProxies)))
        let limiter = RateLimiter(), counters = ServerCounters()
        func limited(_ name: String, _ budget: RateLimits.Budget) -> RouterGroup<BreakglassRequestContext> {
            router.group().add(middleware: RateLimitMiddleware(limiter: limiter, counters: counters, name: name, budget: budget))
        }
        let signIn = limited("sign_in", broker.settings.rateLimits.signIn)
        let guardian = AuthFailureGuard(limiter: limiter, counters: counters, budget: broker.settings.rateLimits.authFailures)
        // The contract the API is generated from, as compiled in: the repository's file, byte for byte.
        router.get("/openapi.json") { _, _ in APICoding.response(json: openAPIDocument) }

        addGitHubHook(limited("github_hook", broker.settings.rateLimits.hook), broker: broker)
        addMetrics(router, broker: broker, counters: counters, processMetrics: processMetrics)
        addCompliancePages(router, signIn: signIn, guardian: guardian, broker: broker, pages: pages, secureCookies: secureCookies)

        // Every JSON operation of the contract, served by the generated handlers on the group its access needs.
        let groups: [OperationAccess: RouterGroup<BreakglassRequestContext>] = [
            .open: router.group().add(middleware: APICallerMiddleware()),
            .signIn: signIn.add(middleware: APICallerMiddleware()),
            .activation: router.group().add(middleware: APICallerMiddleware()),
            .token: router.group().add(middleware: AuthMiddleware(broker: broker, guardian: guardian)).add(middleware: APICallerMiddleware()),
        ]
        let api = BrokerAPI(broker: broker, migrator: migrator, guardian: guardian)
        // Throws for an operation the access table cannot place: a build that adds one without a decision does not serve.
        try api.registerHandlers(on: OperationRoutes(groups: groups, guardian: guardian, broker: broker), configuration: .broker)
        return router
    }

    static func origin(_ request: Request, _ context: BreakglassRequestContext) -> RequestOrigin {
        RequestOrigin(address: context.clientAddress, userAgent: request.headers[.userAgent])
    }
}
