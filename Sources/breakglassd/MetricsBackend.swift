import Metrics
import Prometheus

/// The executable's metrics backend: swift-metrics into a Prometheus registry that `/metrics` renders.
/// Libraries record through swift-metrics and never choose a backend (STYLE: the executable does).
enum MetricsBackend {
    /// Bootstraps swift-metrics once per process and returns the registry to render.
    static func bootstrap() -> PrometheusCollectorRegistry {
        let registry = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.nameAndLabelSanitizer = { name, labels in (prometheusName(name), labels.map { (prometheusLabel($0.0), $0.1) }) }
        MetricsSystem.bootstrap(factory)
        return registry
    }

    /// Hummingbird's `MetricsMiddleware` records OpenTelemetry-style dotted names; Prometheus names may not
    /// contain dots, and ours share the `breakglass_` prefix.
    static func prometheusName(_ name: String) -> String {
        switch name {
        case "http.server.request.duration": return "breakglass_http_request_duration_seconds"
        case "hb.requests": return "breakglass_http_requests_total"
        case "hb.request.errors": return "breakglass_http_request_errors_total"
        case "http.server.active_requests": return "breakglass_http_active_requests"
        default: return name.replacingOccurrences(of: ".", with: "_")
        }
    }

    static func prometheusLabel(_ label: String) -> String {
        switch label {
        case "http.route": return "route"
        case "http.request.method": return "method"
        case "http.response.status_code", "error.type": return "status"
        default: return label.replacingOccurrences(of: ".", with: "_")
        }
    }
}
