@testable import AgentTestSupport
import Foundation
@testable import PodlabAgent
import PodNet
import Testing

/// `default/kubernetes` through the real controller: made at start, with one empty slice,
/// its address reserved, made again when deleted.
@Suite struct APIServerServiceControllerTests {
    static func apiService(_ agent: TestAgent) async -> Service? {
        await agent.controller.services["default/kubernetes"]
    }

    @Test func theAPIServiceExistsFromTheStartWithNoEndpointAndIsRefusedItsAddressToOthers() async throws {
        try await TestAgent.with(serveAPI: false) { agent in
            let service = try #require(await Self.apiService(agent))
            #expect(service.spec.clusterIP == "10.96.0.1" && service.spec.clusterIPs == ["10.96.0.1"])
            #expect(service.spec.ports.map { "\($0.name) \($0.port)/\($0.effectiveProtocol.rawValue)" } == ["https 443/TCP"])
            #expect(service.metadata.labels == ["component": "apiserver", "provider": "kubernetes"])
            try await agent.wait("its slice") { await agent.endpointSlices().contains { $0.metadata.name == "kubernetes" } }
            let slice = try #require(await agent.endpointSlices().first { $0.metadata.name == "kubernetes" })
            #expect(slice.serviceName == "kubernetes")
            #expect(slice.ports == [EndpointPort(name: "https", protocol: .tcp, port: 443)] && slice.endpoints.isEmpty)
            let endpoints = try Endpoints(json: JSONReader.value(from: String(decoding: try await agent.controller.getEndpoints(namespace: "default", name: "kubernetes"), as: UTF8.self)))
            #expect(endpoints.subsets.isEmpty)
            // Every node programs it, with no endpoint: a connection is refused at once.
            try await agent.wait("rules on both nodes") {
                let synced = agent.runtime.servicesSynced
                return synced.count == 2 && synced.values.allSatisfy { table in
                    table.services.contains { $0.qualifiedName == "default/kubernetes" && $0.ports.allSatisfy { $0.endpoints.isEmpty } }
                }
            }

            do {
                try await agent.create("""
                    apiVersion: v1
                    kind: Service
                    metadata: {name: web}
                    spec: {clusterIP: 10.96.0.1, selector: {app: web}, ports: [{port: 80}]}
                    """)
                Issue.record("another Service took the API's address")
            } catch let status as APIStatus {
                #expect(status.code == 422 && status.message.hasSuffix("failed to allocate IP 10.96.0.1: provided IP is already allocated"))
            }
            // kube-dns keeps the tenth address.
            #expect(await agent.controller.services["kube-system/kube-dns"]?.spec.clusterIP == "10.96.0.10")
        }
    }

    @Test func theAPIServiceIsMadeAgainWhenDeleted() async throws {
        try await TestAgent.with(serveAPI: false) { agent in
            let before = try #require(await Self.apiService(agent))
            _ = try await agent.controller.deleteService(namespace: "default", name: "kubernetes", dryRun: false)
            let after = try #require(await Self.apiService(agent))
            #expect(after.metadata.uid != before.metadata.uid)
            #expect(after.spec.clusterIP == "10.96.0.1")
            // A dry run deletes nothing.
            _ = try await agent.controller.deleteService(namespace: "default", name: "kubernetes", dryRun: true)
            #expect(await Self.apiService(agent)?.metadata.uid == after.metadata.uid)
        }
    }
}
