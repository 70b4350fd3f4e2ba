import BreakglassCore
import BreakglassStore
import Foundation
import HTTPTypes
import Hummingbird
import Prometheus

extension Routes {
    static let webCookie = "bg_compliance"

    /// GitHub authenticates with the HMAC signature of the raw body, not a bearer token. The route is rate
    /// limited per address and the body capped before the signature is checked.
    static func addGitHubHook(_ group: RouterGroup<BreakglassRequestContext>, broker: Broker) {
        group.post("/v1/hooks/github") { request, context in
            var request = request
            let limit = 1024 * 1024
            let buffer: ByteBuffer
            do {
                buffer = try await request.collectBody(upTo: limit)
            } catch {
                throw BreakglassError(.tooLarge, "body_too_large", "the GitHub payload is larger than 1 MiB")
            }
            // GitHub's "application/json" content type; the form-encoded variant is not accepted.
            try APICoding.requireJSON(request.headers[.contentType], bodyEmpty: false)
            let outcome = try await broker.receiveGitHub(GitHubDelivery(
                event: request.headers[HTTPField.Name("X-GitHub-Event")!], deliveryId: request.headers[HTTPField.Name("X-GitHub-Delivery")!],
                signature: request.headers[HTTPField.Name("X-Hub-Signature-256")!], body: Array(buffer.readableBytesView)),
                origin: origin(request, context))
            return try APICoding.response(outcome)
        }
    }

    /// Prometheus text format; aggregate figures only, no names or ids.
    static func addMetrics(_ router: Router<BreakglassRequestContext>, broker: Broker, counters: ServerCounters,
                           processMetrics: PrometheusCollectorRegistry?) {
        // Unauthenticated, so a scrape storm must not become a database storm: one rendering serves every
        // request for a couple of seconds.
        let cache = ResponseCache<ByteBuffer>(maxAge: .seconds(2))
        router.get("/metrics") { _, _ in
            var headers = HTTPFields()
            headers[.contentType] = "text/plain; version=0.0.4; charset=utf-8"
            headers[.cacheControl] = "no-store"
            let body = try await cache.value { try await renderMetrics(broker: broker, counters: counters, processMetrics: processMetrics) }
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: body))
        }
    }

    static func renderMetrics(broker: Broker, counters: ServerCounters, processMetrics: PrometheusCollectorRegistry?) async throws -> ByteBuffer {
        let metrics = try await broker.retroMetrics()
        let registry = PrometheusCollectorRegistry()
        register(try await broker.brokerFigures(), in: registry)
        func gauge(_ name: String, unit: String = "", _ help: String, _ labels: [(String, String)] = []) -> Gauge {
            registry.makeGauge(descriptor: MetricNameDescriptor(namespace: "breakglass", subsystem: "retro", metricName: name,
                                                                unitName: unit, helpText: help), labels: labels)
        }
        gauge("overdue", "Retro PRs owed past their deadline now").set(Int64(metrics.overdue))
        for status in RetroStatus.allCases {
            gauge("obligations", "Retro obligations by status", [("status", status.rawValue)]).set(Int64(metrics.byStatus[status.rawValue] ?? 0))
        }
        if let median = metrics.medianTimeToLinkSeconds {
            gauge("time_to_link_median", unit: "seconds", "Median time from the start of the SLA window to the first linked PR").set(median)
        }
        if let ratio = metrics.approvedWithinSLARatio {
            gauge("approved_within_sla", unit: "ratio",
                  "Share of decided or past-deadline retro PRs approved with the PR linked by the deadline").set(ratio)
        }
        for (rung, count) in metrics.escalationsFired.sorted(by: { $0.key < $1.key }) {
            gauge("escalations_paged", "Escalation rungs paged so far", [("rung", rung)]).set(Int64(count))
        }
        // Rehearsals under their own names: an alert on breakglass_retro_* must never fire for a drill.
        func drillGauge(_ name: String, _ help: String, _ labels: [(String, String)] = []) -> Gauge {
            registry.makeGauge(descriptor: MetricNameDescriptor(namespace: "breakglass", subsystem: "drill", metricName: name, unitName: "",
                                                                helpText: help),
                               labels: labels)
        }
        drillGauge("sessions", "Drill sessions run so far (never counted as activations)").set(Int64(metrics.drills))
        for (rung, count) in metrics.drillEscalationsFired.sorted(by: { $0.key < $1.key }) {
            drillGauge("escalations_paged", "Escalation rungs of drills paged so far", [("rung", rung)]).set(Int64(count))
        }
        let rejected = registry.makeCounter(descriptor: MetricNameDescriptor(
            namespace: "breakglass", subsystem: "github", metricName: "deliveries_rejected", unitName: "total",
            helpText: "GitHub webhook deliveries refused for a missing or bad signature since this instance started"))
        rejected.increment(by: Int64(await broker.hookRejections.total))
        for (route, count) in await counters.rateLimited.sorted(by: { $0.key < $1.key }) {
            registry.makeCounter(descriptor: MetricNameDescriptor(
                namespace: "breakglass", subsystem: "http", metricName: "rate_limited", unitName: "total",
                helpText: "Requests answered 429 by the per-address rate limit since this instance started"),
                                 labels: [("route", route)]).increment(by: Int64(count))
        }
        // Per-process figures (request durations) come from the registry the executable's metrics backend fills.
        return ByteBuffer(bytes: registry.emitToBuffer() + (processMetrics?.emitToBuffer() ?? []))
    }

    // MARK: read-only compliance pages

    static func addCompliancePages(_ router: Router<BreakglassRequestContext>, signIn: RouterGroup<BreakglassRequestContext>,
                                   guardian: AuthFailureGuard, broker: Broker, pages: CompliancePages, secureCookies: Bool) {
        signIn.get("/compliance/login") { request, _ in
            guard let ticket = request.uri.queryParameters.get("ticket") else {
                return html(pages.problem(title: "Sign-in link incomplete",
                                          message: "Run `breakglass compliance web` and open the link it prints."), status: .badRequest)
            }
            return html(pages.confirmSignIn(ticket: String(ticket)))
        }
        signIn.post("/compliance/login") { request, context in
            var request = request
            let form = try await request.collectBody(upTo: 4096)
            let fields = URLComponents(string: "?" + String(buffer: form))?.queryItems ?? []
            guard let ticket = fields.first(where: { $0.name == "ticket" })?.value else {
                return html(pages.problem(title: "Sign-in link incomplete",
                                          message: "Run `breakglass compliance web` and open the link it prints."), status: .badRequest)
            }
            let cookie: String
            do {
                cookie = try await broker.redeemWebTicket(ticket, origin: origin(request, context))
            } catch let error as BreakglassError where error.kind == .unauthenticated {
                return html(pages.problem(title: "Sign-in link not valid", message: error.message), status: .unauthorized)
            }
            var headers = HTTPFields()
            headers[.location] = "/compliance"
            headers[.cacheControl] = "no-store"
            var response = Response(status: .seeOther, headers: headers)
            response.setCookie(Cookie(name: webCookie, value: cookie, maxAge: Int(broker.settings.webSessionLifetime), path: "/compliance",
                                      secure: secureCookies, httpOnly: true, sameSite: .strict))
            return response
        }
        router.post("/compliance/logout") { request, context in
            if let cookie = request.cookies[webCookie]?.value {
                // An unknown cookie counts as a failed credential, like on every other route.
                _ = try? await guardian.authenticate(address: context.clientAddress) {
                    try await broker.endWebSession(cookie: cookie, origin: origin(request, context))
                }
            }
            var response = html(pages.problem(title: "Signed out", message: "This browser is signed out of the compliance pages."))
            response.setCookie(Cookie(name: webCookie, value: "", maxAge: 0, path: "/compliance", secure: secureCookies, httpOnly: true,
                                      sameSite: .strict))
            return response
        }
        router.get("/compliance") { request, context in
            try await withReviewer(request, context, broker: broker, guardian: guardian, pages: pages) { user in
                let now = broker.clock.now()
                async let queue = broker.complianceQueue(actor: user)
                async let metrics = broker.retroMetrics()
                return html(pages.queue(try await queue, metrics: try await metrics, user: user.name, now: now))
            }
        }
        router.get("/compliance/queue.csv") { request, context in
            try await withReviewer(request, context, broker: broker, guardian: guardian, pages: pages) { user in
                csvResponse(try await broker.complianceQueue(actor: user), now: broker.clock.now())
            }
        }
        router.get("/compliance/sessions/:id") { request, context in
            let id = try context.parameters.require("id")
            return try await withReviewer(request, context, broker: broker, guardian: guardian, pages: pages) { user in
                html(pages.session(try await broker.sessionStory(sessionId: id, actor: user, origin: origin(request, context)),
                                   user: user.name))
            }
        }
    }

    /// Resolves the reviewer from the browser cookie or a bearer token, answering problems as HTML pages.
    private static func withReviewer(_ request: Request, _ context: BreakglassRequestContext, broker: Broker, guardian: AuthFailureGuard,
                                     pages: CompliancePages, _ body: (AuthUser) async throws -> Response) async throws -> Response {
        do {
            let user: AuthUser = try await guardian.authenticate(address: context.clientAddress) {
                if let bearer = AuthMiddleware.bearerToken(request) { return try await broker.authenticate(bearer: bearer) }
                if let cookie = request.cookies[webCookie]?.value { return try await broker.authenticateWeb(cookie: cookie) }
                throw BreakglassError.unauthenticated
            }
            try user.require(.compliance, to: "use the compliance pages")
            return try await body(user)
        } catch let error as BreakglassError where [.unauthenticated, .forbidden, .notFound, .rateLimited].contains(error.kind) {
            switch error.kind {
            case .rateLimited:
                return html(pages.problem(title: "Too many requests", message: error.message), status: .tooManyRequests)
            case .unauthenticated:
                return html(pages.problem(title: "Sign in required",
                                          message: "Run `breakglass compliance web` and open the one-time link it prints."),
                            status: .unauthorized)
            case .forbidden:
                return html(pages.problem(title: "Not allowed", message: error.message), status: .forbidden)
            default:
                return html(pages.problem(title: "Not found", message: error.message), status: .notFound)
            }
        }
    }

    private static func html(_ text: String, status: HTTPResponse.Status = .ok) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "text/html; charset=utf-8"
        headers[.cacheControl] = "no-store"
        headers[.contentSecurityPolicy] = "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
        headers[HTTPField.Name("X-Content-Type-Options")!] = "nosniff"
        headers[HTTPField.Name("Referrer-Policy")!] = "no-referrer"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    private static func csvResponse(_ queue: [RetroView], now: Date) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "text/csv; charset=utf-8"
        headers[.contentDisposition] = "attachment; filename=\"retro-queue.csv\""
        headers[.cacheControl] = "no-store"
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: CompliancePages.csv(queue, now: now))))
    }
}
