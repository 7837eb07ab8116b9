import Foundation
import KernelTestSupport
import Netns
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Bad input gets kubectl's error on stderr and exit code 1, and changes nothing: the pods
/// (names, uids, resourceVersions, IPs) and the lab's namespaces are as they were.
@Suite("Bad input is refused cleanly", .serialized, .enabled(if: KernelTest.isRoot, KernelTest.rootRequired), .rootNamespaceUnchanged)
struct BadInputTests {
    /// One refused command: the manifest it applies (if any) and what stderr must say.
    struct Rejection: Sendable, CustomTestStringConvertible {
        var label: String
        /// Written to a file whose path replaces `{file}` in `arguments`.
        var manifest: String?
        var arguments: [String]
        var expected: [String]
        var testDescription: String { label }

        init(_ label: String, manifest: String? = nil, arguments: [String] = ["apply", "-f", "{file}"], expected: [String]) {
            self.label = label
            self.manifest = manifest
            self.arguments = arguments
            self.expected = expected
        }
    }

    /// The pod every lab of this suite starts with (created by apply, so later applies update it).
    static let base = """
        apiVersion: v1
        kind: Pod
        metadata:
          name: base
        spec:
          containers:
          - name: web
            image: nginx
        """

    static let rejections: [Rejection] = [
        Rejection("malformed YAML", manifest: """
            apiVersion: v1
            kind: Pod
            metadata:
              name: broken
             spec:
              containers: [
            """, expected: ["error: error parsing", "line 5", "did not find expected key"]),
        Rejection("a pod without a name", manifest: """
            apiVersion: v1
            kind: Pod
            metadata:
              labels: {app: web}
            spec:
              containers:
              - name: web
                image: nginx
            """, expected: ["error:", "resource name may not be empty"]),
        Rejection("a container without an image", manifest: """
            apiVersion: v1
            kind: Pod
            metadata:
              name: noimage
            spec:
              containers:
              - name: web
            """, expected: ["The Pod \"noimage\" is invalid: spec.containers[0].image: Required value"]),
        Rejection("a name that is not DNS-1123", manifest: """
            apiVersion: v1
            kind: Pod
            metadata:
              name: Bad_Name
            spec:
              containers:
              - name: web
                image: nginx
            """, expected: ["The Pod \"Bad_Name\" is invalid: metadata.name: Invalid value: \"Bad_Name\": a lowercase RFC 1123 subdomain must consist of"]),
        Rejection("a name that ends in a hyphen", manifest: """
            apiVersion: v1
            kind: Pod
            metadata:
              name: web-
            spec:
              containers:
              - name: web
                image: nginx
            """, expected: ["The Pod \"web-\" is invalid: metadata.name: Invalid value: \"web-\": a lowercase RFC 1123 subdomain must consist of"]),
        Rejection("a volume podlab cannot mount", manifest: """
            apiVersion: v1
            kind: Pod
            metadata:
              name: cache
            spec:
              volumes:
              - name: scratch
                nfs: {server: nas, path: /}
              containers:
              - name: web
                image: nginx
                volumeMounts:
                - name: scratch
                  mountPath: /scratch
                - name: missing
                  mountPath: /missing
            """, expected: ["The Pod \"cache\" is invalid: \n* spec.containers[0].volumeMounts[1].name: Not found: \"missing\"",
                            "* spec.volumes[0].nfs: Forbidden: not supported by podlab yet"]),
        Rejection("an unknown field", manifest: """
            apiVersion: v1
            kind: Pod
            metadata:
              name: typo
            spec:
              containers:
              - name: web
                imagee: nginx
            """, expected: ["strict decoding error: unknown field \"spec.containers[0].imagee\""]),
        Rejection("a node that does not exist", manifest: """
            apiVersion: v1
            kind: Pod
            metadata:
              name: pinned
            spec:
              nodeName: n9
              containers:
              - name: web
                image: nginx
            """, expected: ["The Pod \"pinned\" is invalid: spec.nodeName: Not found: \"n9\"", "nodes: n1, n2"]),
        Rejection("a name that is taken", arguments: ["run", "base", "--image", "httpd"],
                  expected: ["Error from server (AlreadyExists): pods \"base\" already exists"]),
        Rejection("an update that changes a container's env", manifest: """
            apiVersion: v1
            kind: Pod
            metadata:
              name: base
            spec:
              containers:
              - name: web
                image: nginx
                env:
                - name: MODE
                  value: changed
            """, expected: ["The Pod \"base\" is invalid: spec: Forbidden: pod updates may not change fields other than `spec.containers[*].image`"]),
        Rejection("an update that adds a container", manifest: """
            apiVersion: v1
            kind: Pod
            metadata:
              name: base
            spec:
              containers:
              - name: web
                image: nginx
              - name: extra
                image: busybox
            """, expected: ["The Pod \"base\" is invalid: spec.containers: Forbidden: pod updates may not add or remove containers"]),
    ]

    @Test("refused with a clear error, nothing changed", arguments: rejections)
    func refused(_ rejection: Rejection) async throws {
        try await TestLab.with { lab in
            try lab.apply(BadInputTests.base, as: "base.yaml")
            try await lab.eventually("base Running") { try lab.allRunning(count: 1) }
            let agent = lab.agentPID
            let before = try lab.state()

            var arguments = rejection.arguments
            if let manifest = rejection.manifest {
                let file = lab.stateRoot + "/input.yaml"
                try manifest.write(toFile: file, atomically: true, encoding: .utf8)
                arguments = arguments.map { $0 == "{file}" ? file : $0 }
            }
            let result = try lab.run(arguments, expectSuccess: false)
            #expect(result.status == .exited(1))
            #expect(result.stdout.isEmpty, "stdout: \(result.stdout)")
            for text in rejection.expected {
                #expect(result.stderr.contains(text), "stderr lacks \(text): \(result.stderr)")
            }
            #expect(try lab.state() == before, "the refused command changed the lab")
            #expect(lab.agentPID == agent && agent.map(processIsAlive) == true, "the agent did not survive")
        }
    }

    @Test("an unknown image: the pod is created, its container waits in ErrImagePull naming the catalog; the agent carries on")
    func unknownImage() async throws {
        try await TestLab.with { lab in
            let agent = lab.agentPID
            #expect(try lab.run(["run", "ghost", "--image", "nosuchimage:1.0"]).stdout == "pod/ghost created\n")
            try await lab.eventually("ErrImagePull") {
                (try lab.containerStatus("ghost", "ghost")["state"] as? [String: Any])?["waiting"] != nil
            }
            let waiting = try #require((try lab.containerStatus("ghost", "ghost")["state"] as? [String: Any])?["waiting"] as? [String: Any])
            #expect(waiting["reason"] as? String == "ErrImagePull")
            let message = waiting["message"] as? String ?? ""
            #expect(message.contains("Failed to pull image \"nosuchimage:1.0\"") && message.contains("podlab catalog") && message.contains("nginx"),
                    "message: \(message)")
            #expect(try lab.run(["get", "pods"]).stdout.contains("ghost   0/1     ErrImagePull   0"))
            #expect(try lab.containerPIDs("ghost").isEmpty)

            // The agent is the same process and still works.
            #expect(lab.agentPID == agent && agent.map(processIsAlive) == true)
            #expect(try lab.run(["run", "web", "--image", "nginx"]).succeeded)
            try await lab.eventually("web Running") {
                try (lab.pod("web")["status"] as? [String: Any])?["phase"] as? String == "Running"
            }
            #expect(try lab.run(["delete", "pod", "ghost"]).stdout == "pod \"ghost\" deleted\n")
            #expect(!NetworkNamespace.exists("\(lab.name)_pod_default_ghost"))
            try await lab.expectConsistent()
        }
    }

    @Test("a full pod CIDR (/29, one node): the 6th and 7th pods are refused, nothing is half-made; a freed address is used again")
    func exhaustedPodCIDR() async throws {
        let topology = NSTemporaryDirectory() + "podlab-e2e-small-\(UUID().uuidString).yaml"
        try "nodeCIDRLength: 29\nnodes:\n- name: n1\n".write(toFile: topology, atomically: true, encoding: .utf8)
        defer { unlink(topology) }
        try await TestLab.with(topology: topology) { lab in
            for index in 1...5 {
                #expect(try lab.run(["run", "p\(index)", "--image", "nginx"]).succeeded)
            }
            try await lab.eventually("5 pods Running") { try lab.allRunning(count: 5) }
            let ips = try (1...5).map { try lab.podIP("p\($0)") }
            #expect(Set(ips).count == 5 && ips.allSatisfy { $0.hasPrefix("10.244.0.") })
            let before = try lab.state()
            for index in 6...7 {
                let result = try lab.run(["run", "p\(index)", "--image", "nginx"], expectSuccess: false)
                #expect(result.status == .exited(1))
                #expect(result.stderr.contains("Error from server (ServiceUnavailable)") && result.stderr.contains("no free pod IP addresses"),
                        "stderr: \(result.stderr)")
                #expect(try lab.state() == before, "the refused pod left something behind")
            }

            #expect(try lab.run(["delete", "pod", "p3"]).succeeded)
            #expect(try lab.run(["run", "p6", "--image", "nginx"]).succeeded)
            try await lab.eventually("p6 Running") { try lab.allRunning(count: 5) }
            #expect(try lab.podIP("p6") == ips[2], "the only free address is the one p3 had")
            try await lab.expectConsistent()
        }
    }

    static let badTopologies: [(label: String, yaml: String, expected: String)] = [
        ("service CIDR overlaps the cluster CIDR", "clusterCIDR: 10.244.0.0/16\nserviceCIDR: 10.244.128.0/17\nnodes:\n- name: n1\n",
         "serviceCIDR: 10.244.128.0/17 overlaps clusterCIDR 10.244.0.0/16"),
        ("node pod CIDRs overlap", "nodes:\n- name: n1\n  podCIDR: 10.244.1.0/24\n- name: n2\n  podCIDR: 10.244.1.128/25\n",
         "nodes[1].podCIDR: 10.244.1.128/25 overlaps nodes[0].podCIDR 10.244.1.0/24"),
        ("duplicate node names", "nodes:\n- name: n1\n- name: n1\n", "nodes[1].name: duplicate node name \"n1\""),
        ("unknown field", "nodes:\n- name: n1\n  nmae: n2\n", "nodes[0].nmae"),
    ]

    @Test("podlab up with a bad topology fails naming the field and creates nothing", arguments: badTopologies)
    func badTopology(_ label: String, _ yaml: String, _ expected: String) throws {
        let lab = try TestLab.unstarted()
        defer { lab.tearDown() }
        let topology = lab.stateRoot + "/topology.yaml"
        try yaml.write(toFile: topology, atomically: true, encoding: .utf8)
        let result = try lab.run(["up", topology], expectSuccess: false)
        #expect(result.status == .exited(1))
        #expect(result.stderr.contains("error: topology \(topology): invalid topology:"), "stderr: \(result.stderr)")
        #expect(result.stderr.contains(expected), "stderr: \(result.stderr)")
        #expect(lab.labNamespaces().isEmpty)
        #expect(!FileManager.default.fileExists(atPath: "\(lab.stateRoot)/\(lab.name)"), "a state directory was made")
    }

    static let setpriv = "/usr/bin/setpriv"

    @Test("podlab up as a non-root user refuses with the root message and creates nothing",
          .enabled(if: FileManager.default.isExecutableFile(atPath: setpriv), "needs setpriv to drop root"))
    func upAsNonRoot() throws {
        let lab = try TestLab.unstarted()
        defer { lab.tearDown() }
        // Writable for anyone: the refusal must come from podlab, not from the file system.
        try FileManager.default.setAttributes([.posixPermissions: 0o777], ofItemAtPath: lab.stateRoot)
        let result = try Command.run(BadInputTests.setpriv, ["--reuid=65534", "--regid=65534", "--clear-groups", lab.podlab, "up"],
                                     environment: lab.environment)
        #expect(result.status == .exited(1))
        #expect(result.stderr.contains("needs root (CAP_NET_ADMIN, CAP_SYS_ADMIN)"), "stderr: \(result.stderr)")
        #expect(lab.labNamespaces().isEmpty)
        #expect(try FileManager.default.contentsOfDirectory(atPath: lab.stateRoot).isEmpty, "something was created in the state root")
    }
}

extension TestLab {
    /// A lab with a unique name and an empty state root, not brought up (the caller tears it down).
    static func unstarted() throws -> TestLab {
        let lab = TestLab(name: KernelTest.uniqueName("e2e").prefix(9).description,
                          stateRoot: NSTemporaryDirectory() + "podlab-e2e-" + UUID().uuidString,
                          podlab: try BuiltExecutable.path("podlab"))
        try FileManager.default.createDirectory(atPath: lab.stateRoot, withIntermediateDirectories: true)
        return lab
    }

    /// The pods as name → "uid resourceVersion IP", and the lab's namespaces.
    func state() throws -> [String: String] {
        var state: [String: String] = ["namespaces": labNamespaces().sorted().joined(separator: " ")]
        for pod in try pods() {
            let metadata = pod["metadata"] as? [String: Any] ?? [:]
            state[metadata["name"] as? String ?? "?"] =
                "\(metadata["uid"] ?? "") \(metadata["resourceVersion"] ?? "") \((pod["status"] as? [String: Any])?["podIP"] ?? "")"
        }
        return state
    }
}
