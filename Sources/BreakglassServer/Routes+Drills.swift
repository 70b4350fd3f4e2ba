import BreakglassCore
import Hummingbird

extension Routes {
    static func addDrillRoutes(_ api: RouterGroup<BreakglassRequestContext>, broker: Broker) {
        // The request body of a session: a drill is requested exactly as glass is broken.
        api.post("/drills") { request, context in
            let body = try await APICoding.decode(SessionRequestBody.self, from: request)
            let grant = try await broker.drill(
                SessionRequest(target: body.target, reason: body.reason, incident: body.incident,
                               ttl: try parseDuration(body.ttl, field: "ttl"), totp: body.totp),
                actor: try context.requireUser(), origin: origin(request, context))
            return try APICoding.response(grant, status: .created)
        }
        api.get("/drills/:id/report") { request, context in
            try APICoding.response(try await broker.drillReport(sessionId: try context.parameters.require("id"), actor: try context.requireUser(),
                                                                origin: origin(request, context)))
        }
    }
}
