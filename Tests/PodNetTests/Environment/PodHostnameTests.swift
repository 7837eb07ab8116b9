import Testing
@testable import PodNet

/// A pod's hostname, domain and `/etc/hosts` as the kubelet derives them.
@Suite("Pod hostname and hosts file")
struct PodHostnameTests {
    static func pod(_ name: String = "web", namespace: String = "default", hostname: String = "", subdomain: String? = nil,
                    fqdn: Bool = false) -> Pod {
        var pod = Pod(metadata: ObjectMeta(name: name, namespace: namespace), spec: PodSpec(containers: [Container(name: "c", image: "busybox")]))
        pod.spec.hostname = hostname
        if let subdomain { pod.spec.preservedFields["subdomain"] = .string(subdomain) }
        if fqdn { pod.spec.preservedFields["setHostnameAsFQDN"] = true }
        return pod
    }

    static let header = """
        # Kubernetes-managed hosts file.
        127.0.0.1\tlocalhost
        ::1\tip6-localhost ip6-loopback
        fe00::0\tip6-localnet
        fe00::0\tip6-mcastprefix
        fe00::1\tip6-allnodes
        fe00::2\tip6-allrouters

        """

    @Test("the kubelet's hosts file: localhost, the IPv6 names, the pod IP with the pod's name")
    func plain() {
        let names = PodHostname(pod: Self.pod())
        #expect(names.hostsFile(podIPs: ["10.244.1.5"]) == Self.header + "10.244.1.5\tweb\n")
        #expect(names.hostnameFile == "web\n")
        #expect(names.kernelHostname == "web" && names.fqdn == nil && names.kernelHostnameError == nil)
    }

    @Test("spec.hostname replaces the pod name; spec.subdomain adds the FQDN before it")
    func subdomain() {
        let names = PodHostname(pod: Self.pod(namespace: "shop", hostname: "db-0", subdomain: "db"))
        #expect(names.hostname == "db-0")
        #expect(names.domain == "db.shop.svc.cluster.local")
        #expect(names.hostsFile(podIPs: ["10.244.2.7"]) == Self.header + "10.244.2.7\tdb-0.db.shop.svc.cluster.local\tdb-0\n")
        #expect(names.kernelHostname == "db-0", "the kernel keeps the short name without setHostnameAsFQDN")
    }

    @Test("setHostnameAsFQDN puts the FQDN in the kernel and /etc/hostname, unless it exceeds 64 bytes")
    func fqdn() {
        let names = PodHostname(pod: Self.pod(subdomain: "front", fqdn: true))
        #expect(names.kernelHostname == "web.front.default.svc.cluster.local")
        #expect(names.hostnameFile == "web.front.default.svc.cluster.local\n")
        let long = PodHostname(pod: Self.pod(String(repeating: "a", count: 40), subdomain: "front", fqdn: true))
        let fqdn = String(repeating: "a", count: 40) + ".front.default.svc.cluster.local"
        #expect(long.kernelHostnameError == "failed to construct FQDN from pod hostname and cluster domain, FQDN \(fqdn) is too long (64 characters is the max, 72 characters requested)")
        // Without a subdomain there is no FQDN: the flag changes nothing.
        #expect(PodHostname(pod: Self.pod(fqdn: true)).kernelHostname == "web")
    }

    @Test("a name longer than 63 bytes is cut there, without a trailing '-' or '.'")
    func truncation() {
        let name = String(repeating: "a", count: 62) + "-b"
        #expect(PodHostname(pod: Self.pod(name)).hostname == String(repeating: "a", count: 62))
        #expect(PodHostname(pod: Self.pod(String(repeating: "x", count: 63))).hostname.count == 63)
    }
}
