/// What the client's sidecar counts per route and `podlab mesh top` reads back: one definition
/// of the metric names and of the route a request counts under, for both sides.
public enum RouteMetrics {
    /// Outbound HTTP requests by Service, Route, rule and status code (a counter).
    public static let requests = "podlab_proxy_route_requests_total"
    /// Their time from the first byte to the response's last (a histogram).
    public static let duration = "podlab_proxy_route_request_duration_seconds"

    /// An outbound HTTP request's route: the Service it went to (`namespace/name`, or the address
    /// of a destination that is no Service), and the Route and rule that shaped it (`-` for none).
    public struct Key: Hashable, Sendable, Comparable {
        public var service: String
        public var route: String
        public var rule: String

        public init(service: String, route: String = "-", rule: String = "-") {
            self.service = service
            self.route = route
            self.rule = rule
        }

        /// The key of a sample's `service`, `route` and `rule` labels; nil without `service`.
        public init?(labels: [String: String]) {
            guard let service = labels["service"] else { return nil }
            self.init(service: service, route: labels["route"] ?? "-", rule: labels["rule"] ?? "-")
        }

        public static func < (a: Key, b: Key) -> Bool { (a.service, a.route, a.rule) < (b.service, b.route, b.rule) }
    }
}
