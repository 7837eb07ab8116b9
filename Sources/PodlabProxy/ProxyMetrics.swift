import MeshRouting
import Synchronization

/// Which listener a connection came through.
public enum TrafficDirection: String, Sendable, Hashable {
    /// From the pod's application, captured on its way out (:15001).
    case outbound
    /// To the pod's application, captured on its way in (:15006).
    case inbound
}

/// What the proxy counts, served on :15090/metrics in the Prometheus text format (version
/// 0.0.4): requests by direction, source, destination and status code; their latency as a
/// histogram; the TCP connections forwarded and those open now.
public final class ProxyMetrics: Sendable {
    /// The histogram's upper bounds in seconds (Envoy's and Istio's buckets start at 0.5 ms).
    public static let latencyBuckets: [Double] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]

    public struct RequestKey: Hashable, Sendable {
        public var direction: TrafficDirection
        public var source: String
        public var destination: String
        public var code: Int

        public init(direction: TrafficDirection, source: String, destination: String, code: Int) {
            self.direction = direction
            self.source = source
            self.destination = destination
            self.code = code
        }
    }

    /// An outbound HTTP request's route, for `podlab mesh top` (`RouteMetrics.Key`).
    public typealias RouteKey = RouteMetrics.Key

    struct Histogram {
        var counts = [UInt64](repeating: 0, count: ProxyMetrics.latencyBuckets.count)
        var sum = 0.0
        var count: UInt64 = 0
    }

    struct State {
        var requests: [RequestKey: UInt64] = [:]
        var latency: [TrafficDirection: Histogram] = [:]
        var connections: [TrafficDirection: UInt64] = [:]
        var active: [TrafficDirection: Int] = [:]
        /// mTLS handshakes by direction and whether they succeeded.
        var handshakes: [TrafficDirection: (succeeded: UInt64, failed: UInt64)] = [:]
        var plainTextRefused: UInt64 = 0
        /// Requests (HTTP) and connections (other TCP) a MeshPolicy refused.
        var denied: (http: UInt64, tcp: UInt64) = (0, 0)
        /// Retries by route (`namespace/name`).
        var retries: [String: UInt64] = [:]
        /// Retries the budget refused.
        var retryOverflow: UInt64 = 0
        /// Requests not retried because their body passed the retry buffer.
        var retryBodyTooLarge: UInt64 = 0
        /// Injected faults by route and kind (`delay`, `abort`).
        var faults: [String: [String: UInt64]] = [:]
        /// Outbound HTTP requests by route and status code, and their latency by route.
        var routeRequests: [RouteKey: [Int: UInt64]] = [:]
        var routeLatency: [RouteKey: Histogram] = [:]
    }

    private let state = Mutex(State())

    public init() {}

    public func requestFinished(_ key: RequestKey, seconds: Double) {
        state.withLock { state in
            state.requests[key, default: 0] += 1
            var histogram = state.latency[key.direction] ?? Histogram()
            for (index, bound) in ProxyMetrics.latencyBuckets.enumerated() where seconds <= bound { histogram.counts[index] += 1 }
            histogram.sum += seconds
            histogram.count += 1
            state.latency[key.direction] = histogram
        }
    }

    /// An outbound HTTP request ended, counted by its route as well (`requestFinished` counts it
    /// by source and destination).
    public func routeRequestFinished(_ key: RouteKey, code: Int, seconds: Double) {
        state.withLock { state in
            state.routeRequests[key, default: [:]][code, default: 0] += 1
            var histogram = state.routeLatency[key] ?? Histogram()
            for (index, bound) in ProxyMetrics.latencyBuckets.enumerated() where seconds <= bound { histogram.counts[index] += 1 }
            histogram.sum += seconds
            histogram.count += 1
            state.routeLatency[key] = histogram
        }
    }

    public func connectionOpened(_ direction: TrafficDirection) {
        state.withLock { state in
            state.connections[direction, default: 0] += 1
            state.active[direction, default: 0] += 1
        }
    }

    public func tlsHandshake(_ direction: TrafficDirection, succeeded: Bool) {
        state.withLock { state in
            var counts = state.handshakes[direction] ?? (0, 0)
            if succeeded { counts.succeeded += 1 } else { counts.failed += 1 }
            state.handshakes[direction] = counts
        }
    }

    /// A plain-text client refused by a STRICT sidecar.
    public func plainTextRefused() { state.withLock { $0.plainTextRefused += 1 } }

    /// A request (HTTP: answered 403) or a connection (other TCP: reset) no MeshPolicy rule allowed.
    public func denied(http: Bool) {
        state.withLock { if http { $0.denied.http += 1 } else { $0.denied.tcp += 1 } }
    }

    /// A request sent again after a failed try (a Route's retries).
    public func retried(route: String) { state.withLock { $0.retries[route, default: 0] += 1 } }

    /// A retry the retry budget refused.
    public func retryOverflow() { state.withLock { $0.retryOverflow += 1 } }

    /// A request not retried because its body passed the retry buffer.
    public func retryBodyTooLarge() { state.withLock { $0.retryBodyTooLarge += 1 } }

    /// A Route's fault applied to a request.
    public func faultInjected(route: String, kind: String) { state.withLock { $0.faults[route, default: [:]][kind, default: 0] += 1 } }

    public func connectionClosed(_ direction: TrafficDirection) {
        state.withLock { $0.active[direction, default: 0] -= 1 }
    }

    /// Captured connections closed so far, both directions.
    public var connectionsClosed: UInt64 {
        state.withLock { state in
            state.connections.reduce(0) { sum, opened in sum + opened.value - UInt64(max(state.active[opened.key] ?? 0, 0)) }
        }
    }

    /// The exposition text. Every family is declared with HELP and TYPE even when empty, and
    /// series are sorted, so two scrapes of the same counts are the same text.
    public func exposition() -> String {
        let state = state.withLock { $0 }
        var lines: [String] = []
        lines.append("# HELP podlab_proxy_requests_total HTTP requests forwarded, by direction, source, destination and status code.")
        lines.append("# TYPE podlab_proxy_requests_total counter")
        let requests = state.requests.sorted { a, b in
            (a.key.direction.rawValue, a.key.source, a.key.destination, a.key.code) < (b.key.direction.rawValue, b.key.source, b.key.destination, b.key.code)
        }
        for (key, count) in requests {
            lines.append("podlab_proxy_requests_total{direction=\"\(key.direction.rawValue)\",source=\"\(Self.escaped(key.source))\","
                         + "destination=\"\(Self.escaped(key.destination))\",code=\"\(key.code)\"} \(count)")
        }
        lines.append("# HELP podlab_proxy_request_duration_seconds Time from a request's first byte to its response's last, by direction.")
        lines.append("# TYPE podlab_proxy_request_duration_seconds histogram")
        for direction in [TrafficDirection.inbound, .outbound] {
            guard let histogram = state.latency[direction] else { continue }
            let label = "direction=\"\(direction.rawValue)\""
            for (index, bound) in ProxyMetrics.latencyBuckets.enumerated() {
                lines.append("podlab_proxy_request_duration_seconds_bucket{\(label),le=\"\(Self.number(bound))\"} \(histogram.counts[index])")
            }
            lines.append("podlab_proxy_request_duration_seconds_bucket{\(label),le=\"+Inf\"} \(histogram.count)")
            lines.append("podlab_proxy_request_duration_seconds_sum{\(label)} \(Self.number(histogram.sum))")
            lines.append("podlab_proxy_request_duration_seconds_count{\(label)} \(histogram.count)")
        }
        lines.append("# HELP podlab_proxy_connections_total TCP connections accepted, by direction.")
        lines.append("# TYPE podlab_proxy_connections_total counter")
        for direction in [TrafficDirection.inbound, .outbound] {
            lines.append("podlab_proxy_connections_total{direction=\"\(direction.rawValue)\"} \(state.connections[direction] ?? 0)")
        }
        lines.append("# HELP podlab_proxy_active_connections TCP connections open now, by direction.")
        lines.append("# TYPE podlab_proxy_active_connections gauge")
        for direction in [TrafficDirection.inbound, .outbound] {
            lines.append("podlab_proxy_active_connections{direction=\"\(direction.rawValue)\"} \(state.active[direction] ?? 0)")
        }
        lines.append("# HELP podlab_proxy_tls_handshakes_total mTLS handshakes with other sidecars, by direction and result.")
        lines.append("# TYPE podlab_proxy_tls_handshakes_total counter")
        for direction in [TrafficDirection.inbound, .outbound] {
            let counts = state.handshakes[direction] ?? (0, 0)
            lines.append("podlab_proxy_tls_handshakes_total{direction=\"\(direction.rawValue)\",result=\"failed\"} \(counts.failed)")
            lines.append("podlab_proxy_tls_handshakes_total{direction=\"\(direction.rawValue)\",result=\"succeeded\"} \(counts.succeeded)")
        }
        lines.append("# HELP podlab_proxy_plaintext_refused_total Plain-text connections closed because the pod's mTLS mode is STRICT.")
        lines.append("# TYPE podlab_proxy_plaintext_refused_total counter")
        lines.append("podlab_proxy_plaintext_refused_total \(state.plainTextRefused)")
        lines.append("# HELP podlab_proxy_requests_denied_total Inbound HTTP requests (answered 403) and TCP connections (reset) no MeshPolicy rule allowed.")
        lines.append("# TYPE podlab_proxy_requests_denied_total counter")
        lines.append("podlab_proxy_requests_denied_total{protocol=\"http\"} \(state.denied.http)")
        lines.append("podlab_proxy_requests_denied_total{protocol=\"tcp\"} \(state.denied.tcp)")
        lines.append("# HELP podlab_proxy_retries_total Outbound HTTP requests sent again after a failed try, by Route.")
        lines.append("# TYPE podlab_proxy_retries_total counter")
        for (route, count) in state.retries.sorted(by: { $0.key < $1.key }) {
            lines.append("podlab_proxy_retries_total{route=\"\(Self.escaped(route))\"} \(count)")
        }
        lines.append("# HELP podlab_proxy_retry_overflow_total Retries not made because the retry budget (20 % of the requests in flight, at least 3) was spent.")
        lines.append("# TYPE podlab_proxy_retry_overflow_total counter")
        lines.append("podlab_proxy_retry_overflow_total \(state.retryOverflow)")
        lines.append("# HELP podlab_proxy_retry_body_too_large_total Outbound HTTP requests not retried because their body passed the 64 KiB retry buffer.")
        lines.append("# TYPE podlab_proxy_retry_body_too_large_total counter")
        lines.append("podlab_proxy_retry_body_too_large_total \(state.retryBodyTooLarge)")
        lines.append("# HELP podlab_proxy_faults_injected_total Delays and aborts a Route injected, by Route and kind.")
        lines.append("# TYPE podlab_proxy_faults_injected_total counter")
        for (route, kinds) in state.faults.sorted(by: { $0.key < $1.key }) {
            for (kind, count) in kinds.sorted(by: { $0.key < $1.key }) {
                lines.append("podlab_proxy_faults_injected_total{route=\"\(Self.escaped(route))\",fault=\"\(kind)\"} \(count)")
            }
        }
        lines.append("# HELP \(RouteMetrics.requests) Outbound HTTP requests by Service, Route, rule and status code.")
        lines.append("# TYPE \(RouteMetrics.requests) counter")
        for (key, codes) in state.routeRequests.sorted(by: { $0.key < $1.key }) {
            for (code, count) in codes.sorted(by: { $0.key < $1.key }) {
                lines.append("\(RouteMetrics.requests){\(key.labels),code=\"\(code)\"} \(count)")
            }
        }
        lines.append("# HELP \(RouteMetrics.duration) Outbound HTTP requests' time from the first byte to the response's last, by Service, Route and rule.")
        lines.append("# TYPE \(RouteMetrics.duration) histogram")
        for (key, histogram) in state.routeLatency.sorted(by: { $0.key < $1.key }) {
            for (index, bound) in ProxyMetrics.latencyBuckets.enumerated() {
                lines.append("\(RouteMetrics.duration)_bucket{\(key.labels),le=\"\(Self.number(bound))\"} \(histogram.counts[index])")
            }
            lines.append("\(RouteMetrics.duration)_bucket{\(key.labels),le=\"+Inf\"} \(histogram.count)")
            lines.append("\(RouteMetrics.duration)_sum{\(key.labels)} \(Self.number(histogram.sum))")
            lines.append("\(RouteMetrics.duration)_count{\(key.labels)} \(histogram.count)")
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// A label value with `\`, `"` and newlines escaped, as the text format asks.
    static func escaped(_ value: String) -> String {
        var output = ""
        for character in value {
            switch character {
            case "\\": output += "\\\\"
            case "\"": output += "\\\""
            case "\n": output += "\\n"
            default: output.append(character)
            }
        }
        return output
    }

    /// `0.0005`, `1`, `2.5`: Go's shortest form, which Prometheus prints bounds in.
    static func number(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : "\(value)"
    }
}

extension RouteMetrics.Key {
    /// The sample's labels for this route.
    var labels: String { "service=\"\(ProxyMetrics.escaped(service))\",route=\"\(ProxyMetrics.escaped(route))\",rule=\"\(ProxyMetrics.escaped(rule))\"" }
}
