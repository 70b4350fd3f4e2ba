import BreakglassCore
import Hummingbird

extension Routes {
    /// Drills are started with `POST /v1/drills` (see `addSessionRoutes`); their reports are read here.
    static func addDrillRoutes(_ api: RouterGroup<BreakglassRequestContext>, broker: Broker) {
        api.get("/drills/:id/report") { request, context in
            try APICoding.response(try await broker.drillReport(sessionId: try context.parameters.require("id"), actor: try context.requireUser(),
                                                                origin: origin(request, context)))
        }
    }
}
