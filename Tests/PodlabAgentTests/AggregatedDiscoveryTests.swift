import Foundation
import PodNet
@testable import PodlabAgent
import Testing

/// Aggregated discovery (`apidiscovery.k8s.io`), which kubectl ≥ 1.26 asks `/api` and `/apis` for.
@Suite struct AggregatedDiscoveryTests {
    @Test("the version asked for: v2 first, v2beta1, or the classic documents", arguments: [
        ("application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json", "v2"),
        ("application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json", "v2beta1"),
        ("application/json, */*", nil),
        ("application/json;g=apidiscovery.k8s.io;v=v3;as=APIGroupDiscoveryList", nil),
    ] as [(String, String?)])
    func version(accept: String, expected: String?) {
        #expect(DiscoveryRoutes.aggregatedVersion(accept) == expected)
    }

    @Test("/api holds the core group, /apis the others; each resource as the classic lists describe it")
    func lists() throws {
        let core = DiscoveryRoutes.aggregatedList(core: true)
        #expect(core["kind"] == "APIGroupDiscoveryList" && core["apiVersion"] == "apidiscovery.k8s.io/v2")
        let coreItems = try #require(core["items"]?.arrayValue)
        #expect(coreItems.map { $0["metadata"]?["name"] } == [""])
        let v1 = try #require(coreItems[0]["versions"]?.arrayValue?.first)
        #expect(v1["version"] == "v1" && v1["freshness"] == "Current")
        let pods = try #require(v1["resources"]?.arrayValue?.first { $0["resource"] == "pods" })
        #expect(pods["scope"] == "Namespaced" && pods["singularResource"] == "pod" && pods["shortNames"] == ["po"])
        #expect(pods["responseKind"] == ["group": "", "version": "v1", "kind": "Pod"])
        #expect(pods["subresources"]?.arrayValue?.map { $0["subresource"] } == ["log"])
        let namespaces = try #require(v1["resources"]?.arrayValue?.first { $0["resource"] == "namespaces" })
        #expect(namespaces["scope"] == "Cluster")

        let groups = try #require(DiscoveryRoutes.aggregatedList(core: false)["items"]?.arrayValue)
        #expect(groups.compactMap { $0["metadata"]?["name"]?.stringValue } == ["apps", "discovery.k8s.io", "networking.k8s.io", "podlab.dev"])
        // The same resources, in the same order, as each group version's classic list (less its subresources).
        for group in groups {
            for version in group["versions"]?.arrayValue ?? [] {
                let groupVersion = "\(group["metadata"]?["name"]?.stringValue ?? "")/\(version["version"]?.stringValue ?? "")"
                let classic = DiscoveryRoutes.resourceList(groupVersion)["resources"]?.arrayValue?.compactMap { $0["name"]?.stringValue }
                    .filter { !$0.contains("/") }
                #expect(version["resources"]?.arrayValue?.compactMap { $0["resource"]?.stringValue } == classic, "\(groupVersion)")
            }
        }
        let apps = try #require(groups.first { $0["metadata"]?["name"] == "apps" }?["versions"]?.arrayValue?.first?["resources"]?.arrayValue)
        #expect(apps.first { $0["resource"] == "deployments" }?["subresources"]?.arrayValue?.first?["responseKind"]
            == ["group": "autoscaling", "version": "v1", "kind": "Scale"])
    }
}
