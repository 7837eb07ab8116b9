/// The agent's answer to `GET /podlab/v1/mesh/metrics[?namespace=NS]`: each meshed pod's
/// sidecar metrics, read by the agent inside the pod's network namespace (as port-forward
/// connects), so the CLI never connects to a lab address.
public struct MeshMetricsScrape: Codable, Hashable, Sendable {
    public struct Pod: Codable, Hashable, Sendable {
        public var namespace: String
        public var name: String
        /// The exposition text of `:15090/metrics`; nil when it could not be read.
        public var metrics: String?
        /// Why it could not be read.
        public var error: String?

        public init(namespace: String, name: String, metrics: String? = nil, error: String? = nil) {
            self.namespace = namespace
            self.name = name
            self.metrics = metrics
            self.error = error
        }
    }

    public var pods: [Pod]

    public init(pods: [Pod]) { self.pods = pods }

    public static let path = "/podlab/v1/mesh/metrics"
}

/// `podlab mesh top`: per route — a Service, or a rule of the Route that shapes it — the success
/// rate, requests per second and p50/p99 latency of the requests the meshed clients sent, from
/// the difference between two scrapes of their sidecars' counters and histograms (what Prometheus'
/// `rate()` and `histogram_quantile()` would compute over that window).
public enum MeshTop {
    /// The sidecars' per-route families (outbound HTTP, by the client's sidecar).
    public static let requestsMetric = RouteMetrics.requests
    public static let durationMetric = RouteMetrics.duration

    /// A route: the Service (`namespace/name`, or the address for a destination that is none)
    /// and the Route and rule that shaped its requests (`-` for none).
    public typealias Key = RouteMetrics.Key

    /// One sidecar's counts per route: requests by status code and the latency histogram.
    public struct Counts: Hashable, Sendable {
        public var requests: [Int: Double] = [:]
        /// Cumulative bucket counts by upper bound (`+Inf` included).
        public var buckets: [Double: Double] = [:]

        public init(requests: [Int: Double] = [:], buckets: [Double: Double] = [:]) {
            self.requests = requests
            self.buckets = buckets
        }

        var total: Double { requests.values.reduce(0, +) }
    }

    /// One sidecar's metrics text as counts per route.
    public static func counts(_ text: String) throws(PrometheusText.ParseError) -> [Key: Counts] {
        var result: [Key: Counts] = [:]
        for sample in try PrometheusText.parse(text) {
            guard let key = Key(labels: sample.labels) else { continue }
            if sample.name == requestsMetric, let code = sample.labels["code"].flatMap({ Int($0) }) {
                result[key, default: Counts()].requests[code, default: 0] += sample.value
            } else if sample.name == durationMetric + "_bucket", let le = sample.labels["le"] {
                let bound = le == "+Inf" ? Double.infinity : Double(le)
                if let bound { result[key, default: Counts()].buckets[bound, default: 0] += sample.value }
            }
        }
        return result
    }

    /// What happened between two scrapes of one sidecar: `current - previous` per series; a
    /// series that went down (the sidecar restarted) counts from zero, as `rate()` treats a reset.
    public static func difference(_ current: [Key: Counts], _ previous: [Key: Counts]) -> [Key: Counts] {
        var result: [Key: Counts] = [:]
        for (key, now) in current {
            let before = previous[key] ?? Counts()
            let reset = now.requests.contains { code, count in count < before.requests[code] ?? 0 }
                || now.buckets.contains { bound, count in count < before.buckets[bound] ?? 0 }
            var delta = Counts()
            for (code, count) in now.requests { delta.requests[code] = reset ? count : count - (before.requests[code] ?? 0) }
            for (bound, count) in now.buckets { delta.buckets[bound] = reset ? count : count - (before.buckets[bound] ?? 0) }
            result[key] = delta
        }
        return result
    }

    /// One line of the table.
    public struct Row: Hashable, Sendable {
        public var key: Key
        public var requests: Double
        public var successful: Double
        public var seconds: Double
        public var p50: Double?
        public var p99: Double?

        /// Non-5xx answers of all, in percent (Istio's and Linkerd's success rate); nil without requests.
        public var successRate: Double? { requests > 0 ? successful * 100 / requests : nil }
        public var requestsPerSecond: Double { seconds > 0 ? requests / seconds : 0 }
    }

    /// The rows over a window of `seconds`: per route, the sum over every sidecar (by pod) that
    /// was in both scrapes. A sidecar seen only in the second counts from the next window on
    /// (as `rate()` needs two samples of a series).
    public static func rows(previous: [String: [Key: Counts]], current: [String: [Key: Counts]], seconds: Double) -> [Row] {
        var summed: [Key: Counts] = [:]
        for (pod, now) in current {
            guard let before = previous[pod] else { continue }
            for (key, delta) in difference(now, before) {
                var total = summed[key] ?? Counts()
                for (code, count) in delta.requests { total.requests[code, default: 0] += count }
                for (bound, count) in delta.buckets { total.buckets[bound, default: 0] += count }
                summed[key] = total
            }
        }
        return summed.keys.sorted().map { key in
            let counts = summed[key]!
            let buckets = counts.buckets.map { (upperBound: $0.key, count: $0.value) }
            let requests = counts.total
            return Row(key: key, requests: requests, successful: counts.requests.filter { !(500...599).contains($0.key) }.values.reduce(0, +),
                       seconds: seconds,
                       p50: requests > 0 ? HistogramQuantile.quantile(0.5, buckets: buckets) : nil,
                       p99: requests > 0 ? HistogramQuantile.quantile(0.99, buckets: buckets) : nil)
        }
    }

    /// `NAMESPACE SERVICE ROUTE RULE SUCCESS RPS P50 P99 REQUESTS` (NAMESPACE only with every
    /// namespace), as `kubectl top` prints: `-` where there is nothing to show.
    public static func table(_ rows: [Row], allNamespaces: Bool) -> TextTable {
        TextTable(headers: (allNamespaces ? ["NAMESPACE"] : []) + ["SERVICE", "ROUTE", "RULE", "SUCCESS", "RPS", "P50", "P99", "REQUESTS"],
                  rows: rows.map { row in
                      let (namespace, name) = row.key.namespaceAndName
                      let route = row.key.route == "-" ? "-" : String(row.key.route.split(separator: "/").last ?? "-")
                      return (allNamespaces ? [namespace] : []) + [
                          name, route, row.key.rule,
                          row.successRate.map { formatPercent($0) } ?? "-",
                          formatRate(row.requestsPerSecond),
                          row.p50.map(formatLatency) ?? "-", row.p99.map(formatLatency) ?? "-",
                          String(Int(row.requests.rounded())),
                      ]
                  })
    }

    /// `100.00%`, `99.50%`.
    public static func formatPercent(_ value: Double) -> String {
        let hundredths = Int((value * 100).rounded())
        let fraction = hundredths % 100
        return "\(hundredths / 100).\(fraction < 10 ? "0" : "")\(fraction)%"
    }

    /// `0.0`, `12.5`, `1234.0` requests per second.
    public static func formatRate(_ value: Double) -> String {
        let tenths = Int((value * 10).rounded())
        return "\(tenths / 10).\(tenths % 10)"
    }

    /// Milliseconds with two decimals below 10 ms, one below 100 ms, none above; seconds from 10 s.
    public static func formatLatency(_ seconds: Double) -> String {
        let milliseconds = seconds * 1000
        if seconds.isInfinite { return "+Inf" }
        if milliseconds >= 10_000 { return "\(Int(seconds.rounded()))s" }
        if milliseconds >= 100 { return "\(Int(milliseconds.rounded()))ms" }
        if milliseconds >= 10 {
            let tenths = Int((milliseconds * 10).rounded())
            return "\(tenths / 10).\(tenths % 10)ms"
        }
        let hundredths = Int((milliseconds * 100).rounded())
        let fraction = hundredths % 100
        return "\(hundredths / 100).\(fraction < 10 ? "0" : "")\(fraction)ms"
    }
}

extension RouteMetrics.Key {
    /// The Service's namespace and name (an address has no namespace: `-`).
    public var namespaceAndName: (namespace: String, name: String) {
        guard let slash = service.firstIndex(of: "/") else { return ("-", service) }
        return (String(service[..<slash]), String(service[service.index(after: slash)...]))
    }
}
