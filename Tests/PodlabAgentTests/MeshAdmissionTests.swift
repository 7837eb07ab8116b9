@testable import AgentTestSupport
import Foundation
import NFTables
@testable import PodlabAgent
import PodNet
import Testing

/// Sidecar injection where the API stores a pod, and the capture programmed in the pod's own
/// network namespace before its containers start (the kernel faked: what would be programmed is
/// recorded by namespace).
@Suite struct MeshAdmissionTests {
    static func pod(_ name: String, annotations: String = "", port: Int = 80) -> String {
        """
        apiVersion: v1
        kind: Pod
        metadata:
          name: \(name)
        \(annotations.isEmpty ? "" : "  annotations:\n" + annotations.split(separator: "\n").map { "    " + $0 }.joined(separator: "\n"))
        spec:
          containers:
          - name: web
            image: nginx
            ports:
            - containerPort: \(port)
        """
    }

    @Test func anAnnotatedPodIsStoredWithItsSidecarAndCapturedBeforeItStarts() async throws {
        try await TestAgent.with(serveAPI: false) { agent in
            let created = try await agent.createPod(Self.pod("web", annotations: "podlab.dev/mesh: enabled\npodlab.dev/exclude-ports: \"9000\""))
            #expect(created.spec.containers.map(\.name) == ["web", "podlab-proxy"])
            #expect(created.status.containerStatuses.map(\.name) == ["web", "podlab-proxy"])
            try await agent.waitForPod("web", "both containers started") { pod in
                pod?.status.containerStatuses.allSatisfy { $0.state.running != nil } == true
            }
            let netns = "\(agent.lab)_pod_default_web"
            #expect(agent.runtime.meshCaptures[netns] == MeshCaptureRules(excludedPorts: [9000]))
            let proxy = try #require(agent.runtime.latest("web", container: "podlab-proxy"))
            #expect(proxy.environment["PODLAB_API_SOCKET"]?.hasSuffix("/mesh.sock") == true)
            #expect(proxy.environment["PODLAB_API_TOKEN"]?.isEmpty == false)
            #expect(proxy.environment["POD_NAME"] == "web")
            // The token is given at start, never stored.
            #expect(!created.json.jsonText(indent: 0).contains("PODLAB_API_TOKEN"))
            // The application's container gets no token.
            #expect(agent.runtime.latest("web", container: "web")?.environment["PODLAB_API_TOKEN"] == nil)
        }
    }

    @Test func aPodWithoutTheAnnotationGetsNeitherSidecarNorCapture() async throws {
        try await TestAgent.with(serveAPI: false) { agent in
            let created = try await agent.createPod(Self.pod("plain"))
            #expect(created.spec.containers.map(\.name) == ["web"])
            try await agent.waitForPod("plain", "Running") { $0?.status.phase == .running }
            #expect(agent.runtime.meshCaptures.isEmpty)
        }
    }

    @Test func aPodOfAMeshedNamespaceIsInjected() async throws {
        try await TestAgent.with(serveAPI: false) { agent in
            let namespace = #"{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"shop","labels":{"podlab.dev/mesh":"enabled"}}}"#
            _ = try await agent.controller.createNamespace(body: Data(namespace.utf8), dryRun: false)
            let created = try await agent.createPod(Self.pod("cart"), namespace: "shop")
            #expect(created.spec.containers.map(\.name) == ["web", "podlab-proxy"])
            let optedOut = try await agent.createPod(Self.pod("legacy", annotations: "podlab.dev/mesh: disabled"), namespace: "shop")
            #expect(optedOut.spec.containers.map(\.name) == ["web"])
        }
    }

    @Test func badInputIsRefusedWithTheFieldAndStoresNothing() async throws {
        try await TestAgent.with(serveAPI: false) { agent in
            await #expect {
                try await agent.createPod(Self.pod("clash", annotations: "podlab.dev/mesh: enabled", port: 15006))
            } throws: { error in
                let status = error as? APIStatus
                return status?.code == 422 && status?.message.contains("spec.containers[0].ports[0].containerPort: Invalid value: 15006: "
                                                                         + "the podlab-proxy sidecar listens on 15006 (inbound capture)") == true
            }
            await #expect {
                try await agent.createPod(Self.pod("odd", annotations: "podlab.dev/mesh: enabled\npodlab.dev/exclude-ports: \"80;81\""))
            } throws: { error in
                (error as? APIStatus)?.message.contains("metadata.annotations[podlab.dev/exclude-ports]: Invalid value: \"80;81\"") == true
            }
            #expect(await agent.pods().isEmpty)
            #expect(agent.runtime.meshCaptures.isEmpty)
        }
    }
}

/// The capture lowered to nftables reads, rule for rule, as PodNet's value prints it (nft's
/// own notation), in two `nat` base chains at `dstnat` priority of `table ip podlab-mesh`.
@Suite struct MeshCaptureLoweringTests {
    @Test func everyRuleLowersToWhatTheValueSays() {
        let rules = MeshCaptureRules(excludedPorts: [5432])
        for chain in rules.chains {
            let lowered = chain.rules.map { MeshCapture.expressions($0) }
            #expect(lowered.map { NFTables.Rule(table: MeshCapture.table, chain: chain.name, $0).description } == chain.rules.map(\.description))
        }
        // The table replaced whole: deleted if present, made again with its two chains and rules.
        let script = MeshCapture.transaction(rules).description.split(separator: "\n")
        #expect(script.filter { $0.hasPrefix("add rule ip podlab-mesh ") }.count == rules.chains.map(\.rules.count).reduce(0, +), "\(script)")
        #expect(script.filter { $0.hasPrefix("add chain ip podlab-mesh ") && $0.contains("nat") }.count == 2, "\(script)")
    }
}
