@testable import AgentTestSupport
import Foundation
@testable import PodlabAgent
import PodNet
import Testing

/// `apply`, `get`, `describe` and `delete` of Routes against the real API.
@Suite("route commands")
struct RouteCommandTests {
    static let manifest = """
        apiVersion: podlab.dev/v1
        kind: Route
        metadata: {name: web-canary}
        spec:
          service: web
          rules:
          - match: {pathPrefix: /api, methods: [GET], headers: {x-canary: "1"}}
            backends: [{service: web-v2}]
          - backends: [{service: web-v1, weight: 90}, {service: web-v2, weight: 10}]
            timeout: 2s
            retries: {attempts: 3, perTryTimeout: 500ms, retryOn: [5xx, reset]}
            fault: {delay: {fixed: 100ms, percent: 10}, abort: {status: 503, percent: 5}}
        ---
        apiVersion: podlab.dev/v1
        kind: Route
        metadata: {name: api-retries}
        spec:
          service: api
          rules:
          - retries: {attempts: 2}
        """

    @Test func applyGetDescribeDelete() async throws {
        let file = try temporaryManifest(Self.manifest)
        defer { try? FileManager.default.removeItem(atPath: file) }
        try await TestAgent.serving { agent in
            let apply = agent.context()
            #expect(await apply.run(["apply", "-f", file]) == 0)
            #expect(apply.stdout.text == "route.podlab.dev/web-canary created\nroute.podlab.dev/api-retries created\n")

            let created = try #require(await agent.controller.meshRoutes.values.compactMap(\.metadata.creationTimestamp).max())
            let get = agent.context(now: created)
            #expect(await get.run("get rt -o wide") == 0)
            #expect(get.stdout.text == """
                NAME          SERVICE   RULES   AGE   BACKENDS
                api-retries   api       1       60m   api
                web-canary    web       2       60m   web-v2=100;web-v1=90,web-v2=10

                """, "\(get.stdout.text)")

            let describe = agent.context()
            #expect(await describe.run("describe route web-canary") == 0)
            let text = describe.stdout.text
            #expect(text.hasPrefix("Name:         web-canary\nNamespace:    default\nCreated on:   "), "\(text)")
            #expect(text.hasSuffix("""
                Spec:
                  Service:  web (HTTP/1.1 requests to it, shaped by each client's sidecar)
                  Rules (the first that matches applies; none: to web):
                    Match:     Path prefix: /api; Methods: GET; Headers: x-canary=1
                    Backends:  web-v2 100%
                    Timeout:   <none>
                    Retries:   <none>
                    Faults:    <none>
                    ----------
                    Match:     <any request>
                    Backends:  web-v1 90%, web-v2 10%
                    Timeout:   2s
                    Retries:   3 on 5xx,reset, 500ms per try
                    Faults:    delay 100ms for 10%, abort 503 for 5%

                """), "\(text)")

            let yaml = agent.context()
            #expect(await yaml.run("get route api-retries -o yaml") == 0)
            #expect(yaml.stdout.text.contains("kind: Route") && yaml.stdout.text.contains("attempts: 2"), "\(yaml.stdout.text)")

            let bad = agent.context()
            try """
                apiVersion: podlab.dev/v1
                kind: Route
                metadata: {name: bad}
                spec: {service: web, rules: [{backends: [{service: a, weight: 90}, {service: b, weight: 20}], fault: {delay: {fixed: -1s}}}]}
                """.write(toFile: file, atomically: true, encoding: .utf8)
            #expect(await bad.run(["apply", "-f", file]) != 0)
            #expect(bad.stderr.text.contains(#"The Route "bad" is invalid: "#), "\(bad.stderr.text)")
            #expect(bad.stderr.text.contains("spec.rules[0].backends: Invalid value: 110: the weights must sum to 100"), "\(bad.stderr.text)")
            #expect(bad.stderr.text.contains(#"spec.rules[0].fault.delay.fixed: Invalid value: "-1s": must not be negative"#), "\(bad.stderr.text)")
            #expect(await agent.controller.meshRoutes["default/bad"] == nil)

            let delete = agent.context()
            #expect(await delete.run("delete rt web-canary") == 0)
            #expect(delete.stdout.text == "route.podlab.dev \"web-canary\" deleted\n")
            #expect(await agent.controller.meshRoutes.keys.sorted() == ["default/api-retries"])
        }
    }
}
