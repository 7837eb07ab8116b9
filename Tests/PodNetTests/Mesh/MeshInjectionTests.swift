import Testing
@testable import PodNet

@Suite("Mesh: sidecar injection")
struct MeshInjectionTests {
    static let meshedNamespace = ["podlab.dev/mesh": "enabled"]

    func meshedPod(_ change: (inout Pod) -> Void = { _ in }) -> Pod {
        validPod { pod in
            pod.metadata.annotations["podlab.dev/mesh"] = "enabled"
            change(&pod)
        }
    }

    @Test("an annotated pod gets the podlab-proxy sidecar, running as 1337 with a readiness probe on 15021")
    func injectsSidecar() throws {
        let injected = try MeshInjection.inject(meshedPod(), namespaceLabels: [:])
        #expect(injected.spec.containers.map(\.name) == ["nginx", "podlab-proxy"])
        let sidecar = try #require(injected.spec.containers.last)
        #expect(sidecar.image == "podlab/proxy")
        #expect(sidecar.readinessProbe?.httpGet?.port == .number(15021))
        #expect(sidecar.readinessProbe?.httpGet?.path == "/healthz/ready")
        #expect(injected.metadata.annotations["kubectl.kubernetes.io/default-container"] == "nginx")
        let credentials = try ContainerCredentials.resolve(pod: injected, container: sidecar)
        #expect(credentials.uid == 1337 && credentials.gid == 1337)
        // What is stored passes the API's own checks.
        #expect(injected.applyingDefaults().validate().isValid)
    }

    @Test("injecting twice adds one sidecar")
    func idempotent() throws {
        let once = try MeshInjection.inject(meshedPod(), namespaceLabels: [:])
        #expect(try MeshInjection.inject(once, namespaceLabels: [:]) == once)
    }

    @Test("the namespace label meshes its pods; the pod's annotation wins over it", arguments: [
        ([String: String](), [String: String](), false),
        ([:], meshedNamespace, true),
        (["podlab.dev/mesh": "disabled"], meshedNamespace, false),
        (["podlab.dev/mesh": "enabled"], ["podlab.dev/mesh": "disabled"], true),
        ([:], ["podlab.dev/mesh": "yes"], false),
    ])
    func whoIsMeshed(annotations: [String: String], namespaceLabels: [String: String], meshed: Bool) throws {
        let pod = validPod { $0.metadata.annotations = annotations }
        #expect(MeshInjection.isMeshed(pod, namespaceLabels: namespaceLabels) == meshed)
        let stored = try MeshInjection.inject(pod, namespaceLabels: namespaceLabels)
        #expect(stored.spec.containers.contains { $0.name == "podlab-proxy" } == meshed)
    }

    @Test("a hostNetwork pod is passed by in a meshed namespace and refused when annotated")
    func hostNetwork() throws {
        let pod = validPod { $0.spec.preservedFields["hostNetwork"] = true }
        #expect(try MeshInjection.inject(pod, namespaceLabels: Self.meshedNamespace) == pod)
        let error = #expect(throws: InvalidObjectError.self) {
            try MeshInjection.inject(meshedPod { $0.spec.preservedFields["hostNetwork"] = true }, namespaceLabels: [:])
        }
        #expect(error?.errors.map(\.field.description) == ["metadata.annotations[podlab.dev/mesh]"])
    }

    @Test("an application port on a proxy port is refused, and the error names the port's role", arguments: [
        (Int32(15001), "outbound capture"), (15006, "inbound capture"), (15090, "metrics"), (15021, "readiness"),
    ])
    func portCollision(port: Int32, role: String) {
        let pod = meshedPod { $0.spec.containers[0].ports.append(ContainerPort(containerPort: port)) }
        let error = #expect(throws: InvalidObjectError.self) { try MeshInjection.inject(pod, namespaceLabels: [:]) }
        #expect(error?.description == "The Pod \"web\" is invalid: spec.containers[0].ports[1].containerPort: Invalid value: \(port): "
                + "the podlab-proxy sidecar listens on \(port) (\(role)) in the pod's network namespace, which its containers share: "
                + "two containers of a pod cannot use the same port")
    }

    @Test("a UDP port on a proxy port number does not collide (the proxy listens on TCP)")
    func udpPortIsFine() throws {
        let pod = meshedPod { $0.spec.containers[0].ports.append(ContainerPort(containerPort: 15001, protocol: .udp)) }
        #expect(try MeshInjection.inject(pod, namespaceLabels: [:]).spec.containers.count == 2)
    }

    @Test("the same port on an unmeshed pod is its own business")
    func unmeshedPortIsFine() throws {
        let pod = validPod { $0.spec.containers[0].ports.append(ContainerPort(containerPort: 15001)) }
        #expect(try MeshInjection.inject(pod, namespaceLabels: [:]) == pod)
    }

    @Test("a container running as uid 1337 is refused, from its own or the pod's securityContext")
    func proxyUID() {
        let own = meshedPod { $0.spec.containers[0].preservedFields["securityContext"] = .object(["runAsUser": 1337]) }
        let ownError = #expect(throws: InvalidObjectError.self) { try MeshInjection.inject(own, namespaceLabels: [:]) }
        #expect(ownError?.errors.map(\.field.description) == ["spec.containers[0].securityContext.runAsUser"])
        #expect(ownError?.errors.first?.detail.contains("uid 1337 is the podlab-proxy sidecar's") == true)

        let podWide = meshedPod { $0.spec.preservedFields["securityContext"] = .object(["runAsUser": 1337]) }
        let podError = #expect(throws: InvalidObjectError.self) { try MeshInjection.inject(podWide, namespaceLabels: [:]) }
        #expect(podError?.errors.map(\.field.description) == ["spec.securityContext.runAsUser"])

        // The pod's 1337 overridden by every container is no one's.
        let overridden = meshedPod {
            $0.spec.preservedFields["securityContext"] = .object(["runAsUser": 1337])
            $0.spec.containers[0].preservedFields["securityContext"] = .object(["runAsUser": 1000])
        }
        #expect(throws: Never.self) { try MeshInjection.inject(overridden, namespaceLabels: [:]) }
    }

    @Test("a container of the user's named podlab-proxy is refused")
    func nameTaken() {
        let pod = meshedPod { $0.spec.containers.append(Container(name: "podlab-proxy", image: "busybox")) }
        let error = #expect(throws: InvalidObjectError.self) { try MeshInjection.inject(pod, namespaceLabels: [:]) }
        #expect(error?.errors.map(\.field.description) == ["spec.containers[1].name"])
    }

    @Test("malformed mesh annotations are refused on any pod, naming the annotation", arguments: [
        ("podlab.dev/mesh", "yes", #"metadata.annotations[podlab.dev/mesh]: Unsupported value: "yes": supported values: "enabled", "disabled""#),
        ("podlab.dev/exclude-ports", "80,http",
         #"metadata.annotations[podlab.dev/exclude-ports]: Invalid value: "80,http": "http" is not a port number: must be a comma-separated list of port numbers (1-65535)"#),
        ("podlab.dev/exclude-ports", "0", #"metadata.annotations[podlab.dev/exclude-ports]: Invalid value: "0": "0" is not a port number: must be a comma-separated list of port numbers (1-65535)"#),
        ("podlab.dev/exclude-ports", "80,,81",
         #"metadata.annotations[podlab.dev/exclude-ports]: Invalid value: "80,,81": must be a comma-separated list of port numbers (1-65535), without empty items"#),
    ])
    func malformedAnnotation(key: String, value: String, message: String) {
        let pod = validPod { $0.metadata.annotations[key] = value }
        let error = #expect(throws: InvalidObjectError.self) { try MeshInjection.inject(pod, namespaceLabels: [:]) }
        #expect(error?.description == "The Pod \"web\" is invalid: " + message)
    }

    @Test("exclude-ports: spaces allowed, duplicates folded, sorted")
    func excludedPorts() {
        #expect(MeshInjection.excludedPorts(["podlab.dev/exclude-ports": " 6379, 5432,6379"]) == [5432, 6379])
        #expect(MeshInjection.excludedPorts([:]) == [])
    }
}

@Suite("Mesh: capture rules")
struct MeshCaptureRulesTests {
    @Test("the capture table, golden")
    func golden() {
        #expect(MeshCaptureRules(excludedPorts: [5432, 6379]).description == """
            table ip podlab-mesh {
            \tchain output {
            \t\ttype nat hook output priority dstnat; policy accept;
            \t\tmeta skuid 1337 return
            \t\toifname "lo" return
            \t\ttcp dport 5432 return
            \t\ttcp dport 6379 return
            \t\tmeta l4proto tcp redirect to :15001
            \t}
            \tchain prerouting {
            \t\ttype nat hook prerouting priority dstnat; policy accept;
            \t\ttcp dport 15001 return
            \t\ttcp dport 15006 return
            \t\ttcp dport 15090 return
            \t\ttcp dport 15021 return
            \t\ttcp dport 5432 return
            \t\ttcp dport 6379 return
            \t\tmeta l4proto tcp redirect to :15006
            \t}
            }
            """)
    }

    @Test("only a pod with the sidecar is captured, with its excluded ports")
    func forPod() throws {
        #expect(MeshCaptureRules.forPod(validPod()) == nil)
        let meshed = try MeshInjection.inject(validPod { $0.metadata.annotations = ["podlab.dev/mesh": "enabled", "podlab.dev/exclude-ports": "9000"] },
                                              namespaceLabels: [:])
        #expect(MeshCaptureRules.forPod(meshed) == MeshCaptureRules(excludedPorts: [9000]))
    }
}
