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
                      processMetrics: PrometheusCollectorRegistry? = nil) -> Router<BreakglassRequestContext> {
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
        // Public, unauthenticated and backed by the database: served from a short cache so a flood of them
        // does not take pooled connections from activations.
        let readiness = ResponseCache(maxAge: .seconds(1)), revocations = ResponseCache(maxAge: .seconds(2))

        router.get("/healthz") { _, _ in try APICoding.response(["status": "ok"]) }
        // The contract the API is generated from, as compiled in: the repository's file, byte for byte.
        router.get("/openapi.json") { _, _ in APICoding.response(json: openAPIDocument) }
        router.get("/readyz") { _, _ in
            let body = try await readiness.value {
                let pending = try await broker.database.read { try await migrator.pending($0) }
                guard pending.isEmpty else {
                    throw BreakglassError(.unavailable, "migrations_pending", "migrations not applied yet: \(pending.joined(separator: ", "))")
                }
                return ByteBuffer(bytes: try APICoding.encoder.encode(["status": "ready"]))
            }
            return APICoding.response(json: body)
        }
        router.get("/.well-known/jwks.json") { _, _ in
            var response = try APICoding.response(broker.jwks)
            response.headers[.cacheControl] = "public, max-age=300"
            return response
        }

        // Public like the JWKS: ended or revoked sessions whose tokens have not expired yet, so downstream
        // services can refuse them before `exp`. Holds session ids and times only.
        router.get("/.well-known/breakglass-revoked.json") { _, _ in
            let body = try await revocations.value { ByteBuffer(bytes: try APICoding.encoder.encode(["revoked": try await broker.revokedTokens()])) }
            var response = APICoding.response(json: body)
            response.headers[.cacheControl] = "public, max-age=15"
            return response
        }

        // Enrolment authenticates with the one-time code itself, login with the user's TOTP code.
        signIn.post("/v1/enrollment/start") { request, context in
            let body = try await APICoding.decode(EnrollmentStartBody.self, from: request)
            return try APICoding.response(try await broker.startEnrollment(code: body.code, origin: origin(request, context)))
        }
        signIn.post("/v1/enrollment/confirm") { request, context in
            let body = try await APICoding.decode(EnrollmentConfirmBody.self, from: request)
            let result = try await broker.confirmEnrollment(code: body.code, totp: body.totp, origin: origin(request, context))
            return try APICoding.response(result, status: .created)
        }
        signIn.post("/v1/login") { request, context in
            let body = try await APICoding.decode(LoginBody.self, from: request)
            return try APICoding.response(try await broker.login(user: body.user, totp: body.totp, origin: origin(request, context)), status: .created)
        }

        addGitHubHook(limited("github_hook", broker.settings.rateLimits.hook), broker: broker)
        addMetrics(router, broker: broker, counters: counters, processMetrics: processMetrics)
        addCompliancePages(router, signIn: signIn, guardian: guardian, broker: broker, pages: pages, secureCookies: secureCookies)

        addActivationRoutes(router, guardian: guardian, broker: broker)
        let api = router.group("/v1").add(middleware: AuthMiddleware(broker: broker, guardian: guardian))
        api.get("/me") { _, context in
            let user = try context.requireUser()
            return try APICoding.response(UserView(name: user.name, roles: user.roles, enrolled: true, lockedUntil: nil))
        }
        addUserRoutes(api, broker: broker)
        addTokenRoutes(api, broker: broker)
        addSessionRoutes(api, broker: broker)
        addAuditRoutes(api, broker: broker)
        addNotifyRoutes(api, broker: broker)
        addRetroRoutes(api, broker: broker)
        addDrillRoutes(api, broker: broker)
        return router
    }

    static func addUserRoutes(_ api: RouterGroup<BreakglassRequestContext>, broker: Broker) {
        api.post("/users") { request, context in
            let body = try await APICoding.decode(CreateUserBody.self, from: request)
            let grant = try await broker.createUser(name: body.name, roles: try Role.parseList(body.roles),
                                                    actor: try context.requireUser(), totp: body.totp, origin: origin(request, context))
            return try APICoding.response(grant, status: .created)
        }
        api.get("/users") { _, context in
            let users = try await broker.users(actor: try context.requireUser())
            return try APICoding.response(users.map { UserView(name: $0.name, roles: $0.roles, enrolled: $0.confirmed, lockedUntil: $0.lockedUntil) })
        }
        api.post("/users/:name/enrollment") { request, context in
            let body = try await APICoding.decode(StepUpBody.self, from: request)
            let grant = try await broker.reissueEnrollment(name: try context.parameters.require("name"), actor: try context.requireUser(),
                                                           totp: body.totp, origin: origin(request, context))
            return try APICoding.response(grant, status: .created)
        }
        api.post("/users/:name/unlock") { request, context in
            let name = try context.parameters.require("name")
            let body = try await APICoding.decode(StepUpBody.self, from: request)
            try await broker.unlock(name: name, actor: try context.requireUser(), totp: body.totp, origin: origin(request, context))
            return try APICoding.response(["user": name, "status": "unlocked"])
        }
        api.put("/users/:name/github") { request, context in
            let body = try await APICoding.decode(GitHubLoginBody.self, from: request)
            let name = try context.parameters.require("name")
            try await broker.setGitHubLogin(user: name, login: body.login, actor: try context.requireUser(), totp: body.totp,
                                            origin: origin(request, context))
            return try APICoding.response(["user": name, "github_login": body.login ?? ""])
        }
        api.put("/targets/:name") { request, context in
            let body = try await APICoding.decode(TargetBody.self, from: request)
            let kind = try body.kind.map { text in
                guard let kind = CredentialKind(rawValue: text) else {
                    throw BreakglassError.invalid("kind", "credential kind '\(text)' is not supported; supported: token, postgres")
                }
                return kind
            }
            let name = try context.parameters.require("name")
            let maxTTL = try parseDuration(body.maxTtl, field: "max_ttl")!
            let retroFrom = try body.retroFrom.map { text in
                guard let basis = RetroDeadlineBasis(rawValue: text) else {
                    throw BreakglassError.invalid("retro_from", "retro_from must be 'activation' or 'end', not '\(text)'")
                }
                return basis
            }
            // What the admin left out, the core fills in (`TargetDefaults`).
            let target = try Target.defaulted(
                name: name, kind: kind, audience: body.audience, maxTTL: maxTTL, maxTotal: try parseDuration(body.maxTotal, field: "max_total"),
                retroDeadline: try parseDuration(body.retroDeadline, field: "retro_deadline"), retroFrom: retroFrom, requesters: body.requesters,
                drillDeadline: try parseDuration(body.drillDeadline, field: "drill_deadline"), postgres: { try postgresSettings(body) })
            let created = try await broker.saveTarget(target, managingPassword: body.managingPassword, actor: try context.requireUser(),
                                                      totp: body.totp, origin: origin(request, context))
            return try APICoding.response(target, status: created ? .created : .ok)
        }
        api.get("/targets") { _, _ in try APICoding.response(try await broker.targets()) }
    }

    /// A `postgres` target's settings from the request, with the fields it cannot do without named.
    static func postgresSettings(_ body: TargetBody) throws -> PostgresTarget {
        let tls = try body.pgTls.map { text in
            guard let mode = PostgresTLSMode(rawValue: text) else {
                throw BreakglassError.invalid("pg_tls", "pg_tls must be one of \(PostgresTLSMode.allCases.map(\.rawValue).joined(separator: ", ")), not '\(text)'")
            }
            return mode
        }
        let access = try body.access.map { text in
            guard let mode = PostgresAccessMode(rawValue: text) else {
                throw BreakglassError.invalid("access", "access must be 'direct' or 'recorded', not '\(text)'")
            }
            return mode
        }
        return try .defaulted(host: body.pgHost, port: body.pgPort, database: body.pgDatabase, tls: tls, managingRole: body.managingRole,
                              grantRole: body.grantRole, connectionLimit: body.connectionLimit,
                              statementTimeout: try parseDuration(body.statementTimeout, field: "statement_timeout"), access: access,
                              redactParameters: body.redactParameters)
    }

    /// Breaking glass authenticates in the activation's own first statement rather than in `AuthMiddleware` (a
    /// round trip and a pooled connection of its own); refusals are the same and count toward the same budget.
    static func addActivationRoutes(_ router: Router<BreakglassRequestContext>, guardian: AuthFailureGuard, broker: Broker) {
        // A drill is requested exactly as glass is broken, on a path of its own: no field of a request body can
        // turn a real activation into a drill (out of the queue and metrics) or back.
        for (path, drill) in [("/v1/sessions", false), ("/v1/drills", true)] {
            router.post(RouterPath(path)) { request, context in
                guard let bearer = AuthMiddleware.bearerToken(request) else { throw BreakglassError.unauthenticated }
                let asked: SessionRequest
                do {
                    let body = try await APICoding.decode(SessionRequestBody.self, from: request)
                    asked = SessionRequest(target: body.target, reason: body.reason, incident: body.incident,
                                           ttl: try parseDuration(body.ttl, field: "ttl"), totp: body.totp, drill: drill)
                } catch {
                    // As on every authenticated route, a caller without a valid token hears that, not what is wrong with the body.
                    _ = try await guardian.authenticate(address: context.clientAddress) { try await broker.authenticate(bearer: bearer) }
                    throw error
                }
                let grant = try await guardian.authenticate(address: context.clientAddress) {
                    try await broker.request(asked, bearer: bearer, origin: origin(request, context))
                }
                return try APICoding.response(grant, status: .created)
            }
        }
    }

    static func addSessionRoutes(_ api: RouterGroup<BreakglassRequestContext>, broker: Broker) {
        api.get("/sessions") { request, context in
            let everyone = request.uri.queryParameters.get("all") == "true"
            return try APICoding.response(try await broker.sessions(actor: try context.requireUser(), everyone: everyone))
        }
        api.get("/sessions/:id") { _, context in
            try APICoding.response(try await broker.session(id: try context.parameters.require("id"), actor: try context.requireUser()))
        }
        api.get("/sessions/:id/statements") { request, context in
            try APICoding.response(try await broker.statementLog(sessionId: try context.parameters.require("id"), actor: try context.requireUser(),
                                                                 origin: origin(request, context)))
        }
        api.post("/sessions/:id/extend") { request, context in
            let body = try await APICoding.decode(ExtendBody.self, from: request)
            let grant = try await broker.extend(sessionId: try context.parameters.require("id"), ttl: try parseDuration(body.ttl, field: "ttl")!,
                                                totp: body.totp, actor: try context.requireUser(), origin: origin(request, context))
            return try APICoding.response(grant)
        }
        api.post("/sessions/:id/end") { request, context in
            try APICoding.response(try await broker.end(sessionId: try context.parameters.require("id"), actor: try context.requireUser(),
                                                        origin: origin(request, context)))
        }
        api.post("/sessions/:id/revoke") { request, context in
            let body = try await APICoding.decode(RevokeBody.self, from: request)
            return try APICoding.response(try await broker.revoke(sessionId: try context.parameters.require("id"), reason: body.reason,
                                                                  actor: try context.requireUser(), origin: origin(request, context)))
        }
    }

    static func addAuditRoutes(_ api: RouterGroup<BreakglassRequestContext>, broker: Broker) {
        api.get("/audit/head") { _, _ in
            let heads = try await broker.auditHeads()
            return try APICoding.response(AuditHeadView(digest: AuditChain.digest(heads), events: heads.reduce(0) { $0 + $1.seq }, heads: heads))
        }
        api.get("/audit/verify") { request, context in
            try APICoding.response(try await broker.verifyAudit(actor: try context.requireUser(), expectedHeads: [], origin: origin(request, context)))
        }
        api.post("/audit/verify") { request, context in
            let body = try await APICoding.decode(VerifyBody.self, from: request)
            return try APICoding.response(try await broker.verifyAudit(actor: try context.requireUser(), expectedHeads: body.expectedHeads ?? [],
                                                                       origin: origin(request, context)))
        }
        // Raw chain rows as JSON lines, in id order, a page at a time (`after_id` continues).
        api.get("/audit/events") { request, context in
            let query = request.uri.queryParameters
            func time(_ key: String) throws -> Date? {
                guard let text = query.get(key) else { return nil }
                guard let date = Timestamp.parse(text) else {
                    throw BreakglassError.invalid(key, "'\(text)' is not an ISO 8601 time such as 2026-11-25T14:00:00Z")
                }
                return date
            }
            guard let afterId = Int64(query.get("after_id") ?? "0"), let limit = Int(query.get("limit") ?? "1000") else {
                throw BreakglassError.invalid("page", "after_id and limit must be integers")
            }
            let rows = try await broker.exportAudit(actor: try context.requireUser(), from: try time("from"), until: try time("until"),
                                                    afterId: afterId, limit: limit, origin: origin(request, context))
            var out = Data()
            for row in rows {
                out += AuditExportLine.encode(row)
                out.append(0x0A)
            }
            var headers = HTTPFields()
            headers[.contentType] = "application/x-ndjson"
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: out)))
        }
    }

    static func addNotifyRoutes(_ api: RouterGroup<BreakglassRequestContext>, broker: Broker) {
        api.put("/notify/channels/:name") { request, context in
            let body = try await APICoding.decode(ChannelBody.self, from: request)
            guard let kind = ChannelKind(rawValue: body.kind) else {
                throw BreakglassError.invalid("kind", "channel kind '\(body.kind)' is not one of slack, pagerduty, webhook")
            }
            let interval: TimeInterval? = try body.minInterval.map { text in
                if text == "0" || text == "0s" { return 0 }
                return try parseDuration(text, field: "min_interval")!
            }
            let channel = try await broker.saveChannel(
                ChannelRequest(name: try context.parameters.require("name"), kind: kind, url: body.url, routingKey: body.routingKey,
                               secrets: body.secrets ?? [], routing: ChannelRouting(events: body.events ?? ["*"], targets: body.targets ?? []),
                               minInterval: interval),
                actor: try context.requireUser(), totp: body.totp, origin: origin(request, context))
            return try APICoding.response(channel)
        }
        api.get("/notify/channels") { _, context in
            try APICoding.response(try await broker.channels(actor: try context.requireUser()))
        }
        api.post("/notify/channels/:name/test") { request, context in
            let name = try context.parameters.require("name")
            try await broker.testChannel(name: name, actor: try context.requireUser(), origin: origin(request, context))
            return try APICoding.response(["channel": name, "status": "queued"], status: .accepted)
        }
        api.post("/notify/channels/:name/enable") { request, context in
            let name = try context.parameters.require("name")
            let body = try await APICoding.decode(StepUpBody.self, from: request)
            try await broker.enableChannel(name: name, actor: try context.requireUser(), totp: body.totp, origin: origin(request, context))
            return try APICoding.response(["channel": name, "status": "enabled"])
        }
        api.get("/notify/log") { request, context in
            let query = request.uri.queryParameters
            return try APICoding.response(try await broker.deliveryLog(actor: try context.requireUser(), sessionId: query.get("session"),
                                                                       deadOnly: query.get("dead") == "true"))
        }
        api.post("/notify/deliveries/:id/retry") { request, context in
            let id = try context.parameters.require("id")
            let body = try await APICoding.decode(StepUpBody.self, from: request)
            try await broker.redrive(deliveryId: id, actor: try context.requireUser(), totp: body.totp, origin: origin(request, context))
            return try APICoding.response(["delivery_id": id, "status": "queued"], status: .accepted)
        }
    }

    static func addTokenRoutes(_ api: RouterGroup<BreakglassRequestContext>, broker: Broker) {
        api.get("/tokens") { request, context in
            let user = request.uri.queryParameters.get("user").map { String($0) }
            return try APICoding.response(try await broker.apiTokens(actor: try context.requireUser(), user: user))
        }
        api.post("/tokens/:id/revoke") { request, context in
            let id = try context.parameters.require("id")
            let body = try await APICoding.decode(StepUpBody.self, from: request)
            try await broker.revokeAPIToken(id: id, actor: try context.requireUser(), totp: body.totp, origin: origin(request, context))
            return try APICoding.response(["token_id": id, "status": "revoked"])
        }
    }

    static func origin(_ request: Request, _ context: BreakglassRequestContext) -> RequestOrigin {
        RequestOrigin(address: context.clientAddress, userAgent: request.headers[.userAgent])
    }
}
