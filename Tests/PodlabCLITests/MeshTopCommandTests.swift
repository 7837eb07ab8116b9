import Foundation
import PodNet
@testable import PodlabCLI
import Synchronization
import Testing

/// `podlab mesh top` against a fake agent whose sidecar metrics grow between two reads.
@Suite("mesh top")
struct MeshTopCommandTests {
    /// A sidecar's per-route families after `ok` and `failed` requests to `service`, all under 1 ms.
    static func metrics(_ service: String, ok: Int, failed: Int) -> String {
        let labels = "service=\"\(service)\",route=\"-\",rule=\"-\""
        return """
            podlab_proxy_route_requests_total{\(labels),code="200"} \(ok)
            podlab_proxy_route_requests_total{\(labels),code="503"} \(failed)
            podlab_proxy_route_request_duration_seconds_bucket{\(labels),le="0.001"} \(ok + failed)
            podlab_proxy_route_request_duration_seconds_bucket{\(labels),le="+Inf"} \(ok + failed)

            """
    }

    /// Each read answers the next scrape: the sidecar of `shop/client` sent more to `shop/web`
    /// (and `other/db`); `shop/broken`'s sidecar cannot be read.
    final class Reads: Sendable {
        let count = Mutex(0)
    }

    static func agent(reads: Reads) -> @Sendable (FakeRequest) async -> FakeResponse {
        { request in
            guard request.path == MeshMetricsScrape.path else { return .status(.notFound(resource: "paths", name: request.path)) }
            let read = reads.count.withLock { count in
                count += 1
                return count
            }
            let text = metrics("shop/web", ok: 100 * read, failed: 2 * read) + metrics("other/db", ok: 10 * read, failed: 0)
            let scrape = MeshMetricsScrape(pods: [
                .init(namespace: "shop", name: "client", metrics: text),
                .init(namespace: "shop", name: "broken", error: "no running sandbox"),
            ])
            return .body(200, try! JSONEncoder().encode(scrape))
        }
    }

    @Test("--once: one table of what changed between two reads, the Services of the namespace, unreadable sidecars warned about")
    func once() async throws {
        let reads = Reads()
        try await FakeAgent.with(Self.agent(reads: reads)) { agent in
            let t = agent.context()
            #expect(await t.run("mesh top -n shop --once --interval 100ms") == 0)
            let lines = t.stdout.text.split(separator: "\n").map { $0.split(separator: " ").map(String.init) }
            #expect(lines.count == 2, "\(t.stdout.text)")
            #expect(lines.first == ["SERVICE", "ROUTE", "RULE", "SUCCESS", "RPS", "P50", "P99", "REQUESTS"])
            // 102 requests in the window, 2 of them 503.
            #expect(Array(lines[1].prefix(4)) + [lines[1][5], lines[1][6], lines[1][7]] == ["web", "-", "-", "98.04%", "0.50ms", "0.99ms", "102"],
                    "\(t.stdout.text)")
            #expect(t.stderr.text == "warning: shop/broken: no running sandbox\n")
            #expect(agent.requestLines == ["GET /podlab/v1/mesh/metrics", "GET /podlab/v1/mesh/metrics"])
        }
    }

    @Test("-A: every namespace's Services, with a NAMESPACE column")
    func allNamespaces() async throws {
        let reads = Reads()
        try await FakeAgent.with(Self.agent(reads: reads)) { agent in
            let t = agent.context()
            #expect(await t.run("mesh top -A --once --interval 100ms") == 0)
            let rows = t.stdout.text.split(separator: "\n").map { $0.split(separator: " ").prefix(2).joined(separator: " ") }
            #expect(rows == ["NAMESPACE SERVICE", "other db", "shop web"], "\(t.stdout.text)")
        }
    }

    @Test("a namespace without traffic, and a bad interval")
    func emptyAndBadInput() async throws {
        let reads = Reads()
        try await FakeAgent.with(Self.agent(reads: reads)) { agent in
            let t = agent.context()
            #expect(await t.run("mesh top -n quiet --once --interval 100ms") == 0)
            #expect(t.stdout.text == "No mesh traffic to Services in quiet namespace.\n")
            let bad = agent.context()
            #expect(await bad.run("mesh top --interval 0s") != 0)
            #expect(bad.stderr.text.contains("--interval 0s is outside 100ms-1h"), "\(bad.stderr.text)")
        }
    }
}
