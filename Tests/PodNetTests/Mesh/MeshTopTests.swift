import Testing
@testable import PodNet

@Suite("Mesh: mesh top's arithmetic")
struct MeshTopTests {
    @Test("the text format: names, labels with escapes, values with timestamps, Inf and NaN; comments skipped")
    func parse() throws {
        let text = """
            # HELP x_total A counter.
            # TYPE x_total counter
            x_total{a="1",b="q\\"u\\\\o\\nte"} 3 1700000000000
            plain 2.5
              spaced{ a="x" , } +Inf

            nan_value NaN
            empty{} -Inf
            """
        let samples = try PrometheusText.parse(text)
        #expect(samples.count == 5)
        #expect(samples[0] == PrometheusSample(name: "x_total", labels: ["a": "1", "b": "q\"u\\o\nte"], value: 3))
        #expect(samples[1] == PrometheusSample(name: "plain", value: 2.5))
        #expect(samples[2].labels == ["a": "x"] && samples[2].value == .infinity)
        #expect(samples[3].value.isNaN)
        #expect(samples[4].value == -.infinity && samples[4].labels.isEmpty)
    }

    @Test("malformed lines name their line and what is wrong", arguments: [
        ("a{b=\"1\"", "line 1: unterminated label set of a"), ("a{b=\"1", "line 1: unterminated value of label b"), ("ok 1\n{x=\"1\"} 2", "line 2: expected a name at column 1"),
        ("a{b 1", "line 1: expected =\" after label b"), ("a", "line 1: a has no value"), ("a one", "line 1: \"one\" is not a number"),
    ])
    func malformed(text: String, message: String) {
        let error = #expect(throws: PrometheusText.ParseError.self) { try PrometheusText.parse(text) }
        #expect(error?.description == message)
    }

    static let buckets: [(upperBound: Double, count: Double)] = [(0.1, 10), (0.2, 30), (0.5, 40), (.infinity, 40)]

    @Test("histogram_quantile: linear inside the bucket the rank falls in, the first bucket from 0", arguments: [
        (0.5, 0.15), (0.99, 0.488), (0.05, 0.02), (1.0, 0.5), (0.25, 0.1), (0.3, 0.11),
    ])
    func quantile(phi: Double, expected: Double) throws {
        let value = try #require(HistogramQuantile.quantile(phi, buckets: Self.buckets))
        #expect(abs(value - expected) < 1e-9, "\(value)")
    }

    @Test("histogram_quantile's edges: the +Inf bucket answers the highest finite bound; no +Inf or no observations is NaN (nil)")
    func quantileEdges() {
        #expect(HistogramQuantile.quantile(0.9, buckets: [(0.1, 10), (.infinity, 20)]) == 0.1)
        #expect(HistogramQuantile.quantile(0.5, buckets: [(0.1, 10), (0.2, 20)]) == nil)
        #expect(HistogramQuantile.quantile(0.5, buckets: [(0.1, 0), (.infinity, 0)]) == nil)
        #expect(HistogramQuantile.quantile(0.5, buckets: [(.infinity, 4)]) == nil)
        #expect(HistogramQuantile.quantile(-1, buckets: Self.buckets) == -.infinity)
        #expect(HistogramQuantile.quantile(2, buckets: Self.buckets) == .infinity)
        // Unsorted input, and a count that falls (made monotonic, as Prometheus does).
        let unsorted = HistogramQuantile.quantile(0.5, buckets: [(.infinity, 40), (0.2, 30), (0.1, 10), (0.5, 29)]) ?? 0
        #expect(abs(unsorted - 0.15) < 1e-9)
    }

    /// A sidecar's exposition with `web`'s requests and latencies, in the proxy's families.
    static func metrics(ok: Int, failed: Int, fast: Int, route: String = "-", rule: String = "-", service: String = "shop/web") -> String {
        let labels = "service=\"\(service)\",route=\"\(route)\",rule=\"\(rule)\""
        let total = ok + failed
        return """
            # TYPE podlab_proxy_route_requests_total counter
            podlab_proxy_route_requests_total{\(labels),code="200"} \(ok)
            podlab_proxy_route_requests_total{\(labels),code="503"} \(failed)
            podlab_proxy_route_request_duration_seconds_bucket{\(labels),le="0.001"} \(fast)
            podlab_proxy_route_request_duration_seconds_bucket{\(labels),le="0.01"} \(total)
            podlab_proxy_route_request_duration_seconds_bucket{\(labels),le="+Inf"} \(total)
            podlab_proxy_route_request_duration_seconds_sum{\(labels)} 0.5
            podlab_proxy_route_request_duration_seconds_count{\(labels)} \(total)
            podlab_proxy_requests_total{direction="outbound",source="shop/client",destination="10.96.0.9:80",code="200"} 99
            """
    }

    @Test("two scrapes of two sidecars: rates, success and quantiles over what changed, summed per route")
    func rows() throws {
        let previous = ["shop/a": try MeshTop.counts(Self.metrics(ok: 100, failed: 0, fast: 100)),
                        "shop/b": try MeshTop.counts(Self.metrics(ok: 10, failed: 10, fast: 20))]
        let current = ["shop/a": try MeshTop.counts(Self.metrics(ok: 190, failed: 10, fast: 150)),
                       "shop/b": try MeshTop.counts(Self.metrics(ok: 110, failed: 10, fast: 70))]
        let rows = MeshTop.rows(previous: previous, current: current, seconds: 2)
        #expect(rows.count == 1)
        let row = try #require(rows.first)
        #expect(row.key == MeshTop.Key(service: "shop/web"))
        // a: 90 ok + 10 failed, 50 fast; b: 100 ok, 50 fast.
        #expect(row.requests == 200 && row.successful == 190)
        #expect(row.successRate == 95 && row.requestsPerSecond == 100)
        // 100 of 200 under 1 ms: the median is the first bucket's end; p99 in (1 ms, 10 ms].
        let p50: Double = try #require(row.p50), p99: Double = try #require(row.p99)
        let expected99: Double = 0.001 + 0.009 * 0.98
        #expect(abs(p50 - 0.001) < 1e-12)
        #expect(abs(p99 - expected99) < 1e-12)
    }

    @Test("a sidecar that restarted counts from zero; one seen only now waits for the next window; no requests: no rates")
    func resetsAndNewcomers() throws {
        let previous = ["shop/a": try MeshTop.counts(Self.metrics(ok: 500, failed: 0, fast: 500)),
                        "shop/idle": try MeshTop.counts(Self.metrics(ok: 5, failed: 0, fast: 5, service: "shop/idle"))]
        let current = ["shop/a": try MeshTop.counts(Self.metrics(ok: 8, failed: 2, fast: 10)),
                       "shop/new": try MeshTop.counts(Self.metrics(ok: 1000, failed: 0, fast: 1000)),
                       "shop/idle": try MeshTop.counts(Self.metrics(ok: 5, failed: 0, fast: 5, service: "shop/idle"))]
        let rows = MeshTop.rows(previous: previous, current: current, seconds: 1)
        #expect(rows.map(\.key.service) == ["shop/idle", "shop/web"])
        #expect(rows[0].requests == 0 && rows[0].successRate == nil && rows[0].p50 == nil)
        #expect(rows[1].requests == 10 && rows[1].successRate == 80)
    }

    @Test("the table: one row per Service and per Route rule, kubectl's columns, - for nothing")
    func table() throws {
        let previous = ["shop/a": try MeshTop.counts(Self.metrics(ok: 0, failed: 0, fast: 0) + "\n"
                                                     + Self.metrics(ok: 0, failed: 0, fast: 0, route: "shop/canary", rule: "0"))]
        let current = ["shop/a": try MeshTop.counts(Self.metrics(ok: 40, failed: 0, fast: 40) + "\n"
                                                    + Self.metrics(ok: 9, failed: 1, fast: 0, route: "shop/canary", rule: "0"))]
        let rows = MeshTop.rows(previous: previous, current: current, seconds: 2)
        #expect(MeshTop.table(rows, allNamespaces: false).render() == """
            SERVICE   ROUTE    RULE   SUCCESS   RPS    P50      P99      REQUESTS
            web       -        -      100.00%   20.0   0.50ms   0.99ms   40
            web       canary   0      90.00%    5.0    5.50ms   9.91ms   10

            """)
        #expect(MeshTop.table(rows, allNamespaces: true).render().hasPrefix("NAMESPACE   SERVICE   ROUTE"))
    }

    @Test("figures as the table prints them", arguments: [
        (0.00042, "0.42ms"), (0.0123, "12.3ms"), (0.25, "250ms"), (12.0, "12s"), (Double.infinity, "+Inf"), (0.00001, "0.01ms"),
    ])
    func latency(seconds: Double, text: String) {
        #expect(MeshTop.formatLatency(seconds) == text)
    }

    @Test("percentages and rates")
    func percentAndRate() {
        #expect(MeshTop.formatPercent(99.5) == "99.50%")
        #expect(MeshTop.formatPercent(100) == "100.00%")
        #expect(MeshTop.formatPercent(7.25) == "7.25%")
        #expect(MeshTop.formatRate(12.34) == "12.3")
        #expect(MeshTop.formatRate(0) == "0.0")
    }
}
