import Testing
@testable import PodNet

/// A pod's `/etc/resolv.conf` as the kubelet composes it from `dnsPolicy` and `dnsConfig`.
@Suite("Pod DNS settings")
struct PodDNSTests {
    static func pod(namespace: String = "shop", policy: DNSPolicy? = nil, hostNetwork: Bool = false, config: String? = nil) throws -> Pod {
        var pod = Pod(metadata: ObjectMeta(name: "web", namespace: namespace), spec: PodSpec(containers: [Container(name: "c", image: "busybox")]))
        pod.spec.dnsPolicy = policy
        if hostNetwork { pod.spec.preservedFields["hostNetwork"] = true }
        if let config { pod.spec.preservedFields["dnsConfig"] = try JSONReader.value(from: config) }
        return pod
    }

    static let cluster = "search shop.svc.cluster.local svc.cluster.local cluster.local\nnameserver 10.96.0.10\noptions ndots:5\n"

    struct Case: CustomTestStringConvertible, Sendable {
        var label: String
        var policy: DNSPolicy?
        var hostNetwork = false
        var config: String?
        var file: String
        var testDescription: String { label }
    }

    @Test("resolv.conf by dnsPolicy and dnsConfig", arguments: [
        Case(label: "default policy is ClusterFirst", policy: nil, file: cluster),
        Case(label: "ClusterFirst", policy: .clusterFirst, file: cluster),
        Case(label: "ClusterFirst with hostNetwork gets the node's (none)", policy: .clusterFirst, hostNetwork: true, file: ""),
        Case(label: "ClusterFirstWithHostNet", policy: .clusterFirstWithHostNet, hostNetwork: true, file: cluster),
        Case(label: "Default: the node has no resolver", policy: .default, file: ""),
        Case(label: "None with dnsConfig", policy: DNSPolicy.none,
             config: #"{"nameservers":["10.0.0.53"],"searches":["lab.example"],"options":[{"name":"ndots","value":"2"},{"name":"edns0"}]}"#,
             file: "search lab.example\nnameserver 10.0.0.53\noptions ndots:2 edns0\n"),
        Case(label: "ClusterFirst merges dnsConfig: duplicates dropped, options replaced by name", policy: .clusterFirst,
             config: #"{"nameservers":["10.96.0.10","10.0.0.53"],"searches":["svc.cluster.local","lab.example"],"options":[{"name":"ndots","value":"1"},{"name":"timeout","value":"2"}]}"#,
             file: "search shop.svc.cluster.local svc.cluster.local cluster.local lab.example\nnameserver 10.96.0.10\nnameserver 10.0.0.53\noptions ndots:1 timeout:2\n"),
        Case(label: "Default with dnsConfig", policy: .default, config: #"{"nameservers":["10.0.0.53"]}"#, file: "nameserver 10.0.0.53\n"),
    ])
    func resolvConf(_ c: Case) throws {
        let pod = try Self.pod(policy: c.policy, hostNetwork: c.hostNetwork, config: c.config)
        #expect(PodDNS.settings(for: pod, clusterDNS: "10.96.0.10").resolvConf == c.file)
    }

    @Test("the pod's namespace starts the search list; no cluster DNS falls back to the node's")
    func namespaceAndFallback() throws {
        let pod = try Self.pod(namespace: "kube-system")
        #expect(PodDNS.settings(for: pod, clusterDNS: "10.96.0.10").searches.first == "kube-system.svc.cluster.local")
        #expect(PodDNS.settings(for: pod, clusterDNS: nil).resolvConf == "")
    }

    @Test("the cluster DNS is the service CIDR's tenth address")
    func clusterAddress() throws {
        #expect(PodDNS.clusterDNSAddress(serviceCIDR: try IPv4Prefix(parsing: "10.96.0.0/16"))?.description == "10.96.0.10")
        #expect(PodDNS.clusterDNSAddress(serviceCIDR: try IPv4Prefix(parsing: "172.20.0.0/24"))?.description == "172.20.0.10")
    }
}
