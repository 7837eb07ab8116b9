import Foundation
import KernelTestSupport
import Netns
import Testing

/// A kubectl binary on this machine: Debian's 1.20 (`kubernetes-client`, unpacked by
/// scripts/install-deps where another package owns /usr/bin/kubectl) and whatever current one
/// is on the PATH. `$PODLAB_KUBECTL` (colon-separated) adds more.
struct KubectlBinary: Sendable, CustomTestStringConvertible {
    var path: String
    var version: String
    var testDescription: String { "kubectl \(version)" }

    static let found: [KubectlBinary] = {
        var candidates = (ProcessInfo.processInfo.environment["PODLAB_KUBECTL"] ?? "").split(separator: ":").map(String.init)
        candidates.append("/opt/podlab/kubernetes-client/usr/bin/kubectl")
        for directory in Spawner.defaultPath.split(separator: ":") { candidates.append("\(directory)/kubectl") }
        var seen: Set<String> = []
        var binaries: [KubectlBinary] = []
        for candidate in candidates where FileManager.default.isExecutableFile(atPath: candidate) {
            let real = (candidate as NSString).resolvingSymlinksInPath
            guard seen.insert(real).inserted,
                  let result = try? Command.run(candidate, ["version", "--client", "-o", "json"]), result.succeeded,
                  let object = try? JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any],
                  let version = (object["clientVersion"] as? [String: Any])?["gitVersion"] as? String,
                  !binaries.contains(where: { $0.version == version }) else { continue }
            binaries.append(KubectlBinary(path: candidate, version: version))
        }
        return binaries
    }()
}

/// Real kubectl against a lab's HTTPS API: the pods tutorial replayed with kubectl itself,
/// and what kubectl needs on the way (discovery, OpenAPI, tables, apply's patches).
@Suite("kubectl against a lab", .enabled(if: KernelTest.isRoot, KernelTest.rootRequired), .rootNamespaceUnchanged)
struct KubectlTests {
    /// kubectl with the lab's kubeconfig and a cache of its own.
    struct Kubectl {
        let binary: KubectlBinary
        let kubeconfig: String
        let cacheDirectory: String
        var editor: String?

        @discardableResult
        func run(_ arguments: [String], input: String? = nil, expectSuccess: Bool = true,
                 sourceLocation: SourceLocation = #_sourceLocation) throws -> CommandResult {
            var environment = ["PATH": Spawner.defaultPath, "KUBECONFIG": kubeconfig, "HOME": cacheDirectory]
            if let editor { environment["KUBE_EDITOR"] = editor }
            // Under timeout(1): a kubectl that waits forever (a watch event it never gets) fails
            // this test instead of stalling the whole suite.
            let result = try Command.run("/usr/bin/timeout", ["120", binary.path, "--cache-dir", cacheDirectory] + arguments,
                                         environment: environment, input: input)
            if expectSuccess && !result.succeeded {
                Issue.record("kubectl \(arguments.joined(separator: " ")) failed (\(result.status)):\n\(result.stderr)\(result.stdout)",
                             sourceLocation: sourceLocation)
            }
            return result
        }
    }

    static func kubectl(_ binary: KubectlBinary, for lab: TestLab) throws -> Kubectl {
        let path = try lab.run(["kubeconfig", "--path"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let cache = NSTemporaryDirectory() + "podlab-kubectl-cache-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: cache, withIntermediateDirectories: true)
        return Kubectl(binary: binary, kubeconfig: path, cacheDirectory: cache)
    }

    static let manifest = """
        apiVersion: v1
        kind: Pod
        metadata:
          name: nginx-ser
          labels:
            run: nginx-ser
        spec:
          containers:
          - name: nginx-ser
            image: nginx
            ports:
            - containerPort: 80
        """

    @Test("the tutorial with kubectl: run --dry-run, apply, get, describe, logs, edit, delete, NotFound",
          .enabled(if: !KubectlBinary.found.isEmpty, "no kubectl on this machine: scripts/install-deps installs Debian's kubernetes-client"),
          arguments: KubectlBinary.found)
    func tutorial(binary: KubectlBinary) async throws {
        try await TestLab.with { lab in
            var kubectl = try Self.kubectl(binary, for: lab)
            defer { try? FileManager.default.removeItem(atPath: kubectl.cacheDirectory) }

            let dryRun = try kubectl.run(["run", "nginx-ser", "--image", "nginx", "--restart=Never", "--dry-run=client", "-o", "yaml"]).stdout
            #expect(dryRun.contains("kind: Pod\nmetadata:\n  creationTimestamp: null\n  labels:\n    run: nginx-ser\n  name: nginx-ser\n"))
            #expect(dryRun.contains("  - image: nginx\n    name: nginx-ser\n"))

            let file = kubectl.cacheDirectory + "/pod.yaml"
            try Self.manifest.write(toFile: file, atomically: true, encoding: .utf8)
            // kubectl 1.20 finds dryRun among the PATCH parameters of the OpenAPI document first.
            #expect(try kubectl.run(["create", "-f", file, "--dry-run=server"]).stdout == "pod/nginx-ser created (server dry run)\n")
            #expect(try kubectl.run(["get", "pods", "-o", "name"]).stdout.isEmpty, "a server dry run stores nothing")
            #expect(try kubectl.run(["apply", "-f", file]).stdout == "pod/nginx-ser created\n")
            #expect(try kubectl.run(["apply", "-f", file]).stdout == "pod/nginx-ser unchanged\n")
            try (Self.manifest.replacingOccurrences(of: "    run: nginx-ser\n", with: "    run: nginx-ser\n    tier: web\n"))
                .write(toFile: file, atomically: true, encoding: .utf8)
            #expect(try kubectl.run(["apply", "-f", file]).stdout == "pod/nginx-ser configured\n")
            let labels = (try lab.pod("nginx-ser")["metadata"] as? [String: Any])?["labels"] as? [String: String]
            #expect(labels == ["run": "nginx-ser", "tier": "web"])
            #expect(try kubectl.run(["label", "pod", "nginx-ser", "checked=yes"]).stdout == "pod/nginx-ser labeled\n")
            #expect(try kubectl.run(["annotate", "pod", "nginx-ser", "note=kubectl"]).stdout == "pod/nginx-ser annotated\n")
            #expect(try kubectl.run(["patch", "pod", "nginx-ser", "--type=json",
                                     "-p", #"[{"op":"remove","path":"/metadata/labels/checked"}]"#]).stdout == "pod/nginx-ser patched\n")
            let metadata = try lab.pod("nginx-ser")["metadata"] as? [String: Any]
            #expect((metadata?["labels"] as? [String: String])?["checked"] == nil)
            #expect((metadata?["annotations"] as? [String: String])?["note"] == "kubectl")

            try await lab.eventually("nginx-ser Running") { try kubectl.run(["get", "pods"]).stdout.contains("Running") }
            // kubectl prints the server's table: the same text as podlab's own `get`. AGE ticks
            // between the two runs on a busy machine (and may widen its column), so it is compared
            // apart: every other cell must be the same.
            for arguments in [["get", "pods"], ["get", "pods", "-o", "wide"], ["get", "nodes"], ["get", "ns"]] {
                try await lab.eventually("kubectl \(arguments.joined(separator: " ")) prints what podlab prints") {
                    let printed = try kubectl.run(arguments).stdout, own = try lab.run(arguments).stdout
                    return printed == own || Self.cellsWithoutAge(printed) == Self.cellsWithoutAge(own)
                }
            }
            let ip = try lab.podIP("nginx-ser")
            #expect(ip.hasPrefix("10.244."))
            let wide = try kubectl.run(["get", "pods", "-o", "wide"]).stdout
            #expect(wide.hasPrefix("NAME        READY   STATUS    RESTARTS   AGE   IP"))
            #expect(wide.contains(ip) && wide.contains("NOMINATED NODE") && wide.contains("READINESS GATES"))
            #expect(try kubectl.run(["get", "pod", "nginx-ser", "-o", "jsonpath={.status.podIP}"]).stdout == ip)
            let json = try kubectl.run(["get", "pod", "nginx-ser", "-o", "json"]).stdout
            let object = try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any]
            #expect(object?["kind"] as? String == "Pod")
            #expect(try kubectl.run(["get", "pods", "-o", "yaml"]).stdout.contains("kind: List"))
            #expect(try kubectl.run(["get", "pods", "-l", "tier=web", "-o", "name"]).stdout == "pod/nginx-ser\n")
            #expect(try kubectl.run(["get", "pods", "--field-selector", "status.phase=Running", "-o", "name"]).stdout == "pod/nginx-ser\n")
            #expect(try kubectl.run(["get", "pods", "--field-selector", "spec.nodeName=nowhere"]).stderr == "No resources found in default namespace.\n")
            #expect(try kubectl.run(["get", "pods", "-A", "--chunk-size=1", "-o", "name"]).stdout.contains("pod/nginx-ser\n"))
            #expect(try kubectl.run(["get", "pods", "--show-labels"]).stdout.contains("run=nginx-ser,tier=web"))

            let describe = try kubectl.run(["describe", "pods", "nginx-ser"]).stdout
            for line in ["Name:", "Namespace:", "default", "Labels:", "run=nginx-ser", "Status:", "Running", "IP:", ip,
                         "Containers:", "Image:", "nginx", "Conditions:", "Events:"] {
                #expect(describe.contains(line), "describe lacks \(line)")
            }

            // An access from a temporary pod shows in nginx's log, read by kubectl.
            _ = try lab.run(["run", "curl", "--image", "curlimages/curl", "--restart=Never", "-i", "--rm", "--", "curl", "-s", "http://\(ip)"])
            try await lab.eventually("the access log line") { try kubectl.run(["logs", "nginx-ser"]).stdout.contains("\"GET / HTTP/1.1\" 200") }

            let editor = kubectl.cacheDirectory + "/editor.sh"
            try "#!/bin/sh\nsed -i 's/^    tier: web$/    tier: edited/' \"$1\"\n".write(toFile: editor, atomically: true, encoding: .utf8)
            chmod(editor, 0o755)
            kubectl.editor = editor
            #expect(try kubectl.run(["edit", "pod", "nginx-ser"]).stdout == "pod/nginx-ser edited\n")
            #expect(((try lab.pod("nginx-ser")["metadata"] as? [String: Any])?["labels"] as? [String: String])?["tier"] == "edited")

            #expect(try kubectl.run(["delete", "pod", "nginx-ser"]).stdout == "pod \"nginx-ser\" deleted\n")
            let gone = try kubectl.run(["get", "pod", "nginx-ser"], expectSuccess: false)
            #expect(gone.stderr == "Error from server (NotFound): pods \"nginx-ser\" not found\n")
            let nope = try kubectl.run(["delete", "pod", "nope"], expectSuccess: false)
            #expect(nope.stderr == "Error from server (NotFound): pods \"nope\" not found\n")
            #expect(!NetworkNamespace.exists(lab.podNamespace("nginx-ser")), "deleting a pod removes its namespace")

            // apps/v1 and Services: apply, the scale subresource, delete -f.
            let workload = kubectl.cacheDirectory + "/web.yaml"
            try Self.workload.write(toFile: workload, atomically: true, encoding: .utf8)
            #expect(try kubectl.run(["apply", "-f", workload]).stdout
                    == "deployment.apps/web created\nservice/web created\nnetworkpolicy.networking.k8s.io/web-ingress created\n")
            try await lab.eventually("kubectl get netpol prints what podlab prints") {
                let printed = try kubectl.run(["get", "netpol"]).stdout, own = try lab.run(["get", "netpol"]).stdout
                return printed == own || Self.cellsWithoutAge(printed) == Self.cellsWithoutAge(own)
            }
            #expect(try kubectl.run(["get", "networkpolicy", "web-ingress", "-o", "jsonpath={.spec.podSelector.matchLabels.app}"]).stdout == "web")
            #expect(try kubectl.run(["scale", "deployment", "web", "--replicas=1"]).stdout == "deployment.apps/web scaled\n")
            try await lab.eventually("web scaled to 1") {
                try kubectl.run(["get", "deployment", "web", "-o", "jsonpath={.status.readyReplicas}/{.spec.replicas}"]).stdout == "1/1"
            }
            #expect(try kubectl.run(["get", "all", "-o", "name"]).stdout.contains("deployment.apps/web\n"))
            #expect(try kubectl.run(["delete", "-f", workload]).stdout
                    == "deployment.apps \"web\" deleted\nservice \"web\" deleted\nnetworkpolicy.networking.k8s.io \"web-ingress\" deleted\n")
        }
    }

    /// A table's cells, row by row, without the AGE column (columns are two or more spaces apart).
    static func cellsWithoutAge(_ table: String) -> [[String]] {
        let rows = table.split(separator: "\n").map { line in
            line.split(separator: "  ", omittingEmptySubsequences: true).map { $0.trimmingCharacters(in: .whitespaces) }
        }
        guard let age = rows.first?.firstIndex(of: "AGE") else { return rows }
        return rows.map { row in row.enumerated().filter { $0.offset != age }.map(\.element) }
    }

    static let workload = """
        apiVersion: apps/v1
        kind: Deployment
        metadata:
          name: web
        spec:
          replicas: 2
          selector:
            matchLabels: {app: web}
          template:
            metadata:
              labels: {app: web}
            spec:
              containers:
              - name: web
                image: nginx
        ---
        apiVersion: v1
        kind: Service
        metadata:
          name: web
        spec:
          selector: {app: web}
          ports:
          - port: 80
        ---
        apiVersion: networking.k8s.io/v1
        kind: NetworkPolicy
        metadata:
          name: web-ingress
        spec:
          podSelector:
            matchLabels: {app: web}
          ingress:
          - from:
            - podSelector: {}
            ports:
            - port: 80
        """

    @Test("the HTTPS API: 401 without the token or with a wrong one, the lab's CA verifies it, kubeconfig --merge")
    func authentication() async throws {
        try await TestLab.with { lab in
            let status = try lab.run(["status"]).stdout
            let server = try #require(status.split(separator: "\n").first { $0.hasPrefix("API server: ") }).dropFirst("API server: ".count)
            #expect(server.hasPrefix("https://127.0.0.1:"))
            let directory = "\(lab.stateRoot)/\(lab.name)/kube-api"
            let token = try String(contentsOfFile: directory + "/token", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
            var info = stat()
            #expect(stat(directory + "/token", &info) == 0 && info.st_mode & 0o777 == 0o600)
            #expect(stat(directory + "/server.key", &info) == 0 && info.st_mode & 0o777 == 0o600)
            func curl(_ extra: [String]) throws -> CommandResult {
                try Command.run("/usr/bin/curl", ["-s", "--cacert", directory + "/ca.crt", "-w", "\n%{http_code}"] + extra + ["\(server)/api/v1/pods"])
            }
            let anonymous = try curl([])
            #expect(anonymous.stdout.hasSuffix("\n401"))
            #expect(anonymous.stdout.contains(#""kind":"Status""#) && anonymous.stdout.contains(#""reason":"Unauthorized""#))
            #expect(try curl(["-H", "Authorization: Bearer wrong"]).stdout.hasSuffix("\n401"))
            #expect(try curl(["-H", "Authorization: Bearer \(token)x"]).stdout.hasSuffix("\n401"))
            let allowed = try curl(["-H", "Authorization: Bearer \(token)"])
            #expect(allowed.stdout.hasSuffix("\n200") && allowed.stdout.contains(#""kind":"PodList""#), "\(allowed.stdout) \(allowed.stderr)")
            // The unix socket needs no token: podlab itself works.
            #expect(try lab.run(["get", "nodes"]).stdout.hasPrefix("NAME"))

            let home = NSTemporaryDirectory() + "podlab-kubeconfig-" + UUID().uuidString
            defer { try? FileManager.default.removeItem(atPath: home) }
            let target = home + "/first.yaml"
            try FileManager.default.createDirectory(atPath: home, withIntermediateDirectories: true)
            try "apiVersion: v1\nkind: Config\nclusters:\n- name: other\n  cluster: {server: 'https://example.invalid'}\ncontexts: []\nusers: []\n"
                .write(toFile: target, atomically: true, encoding: .utf8)
            var merging = lab
            merging.extraEnvironment["KUBECONFIG"] = "\(target):\(home)/second.yaml"
            let merged = try merging.run(["kubeconfig", "--merge"]).stdout
            #expect(merged.contains(target))
            let text = try String(contentsOfFile: target, encoding: .utf8)
            #expect(text.contains("name: other") && text.contains("name: \(lab.name)") && text.contains("current-context: \(lab.name)"))
            #expect(!FileManager.default.fileExists(atPath: "\(home)/second.yaml"))
            if let binary = KubectlBinary.found.first {
                let nodes = try Command.run(binary.path, ["--kubeconfig", target, "--cache-dir", home + "/cache", "get", "nodes", "-o", "name"],
                                            environment: ["PATH": Spawner.defaultPath, "HOME": home])
                #expect(nodes.stdout.contains("node/"), "\(nodes.stderr)")
            }
        }
    }

    /// The official Python client, installed by scripts/install-deps under /opt/podlab/python.
    static let pythonClientDirectory = "/opt/podlab/python"

    static let pythonScript = """
        import sys
        from kubernetes import client, config, watch
        config.load_kube_config(config_file=sys.argv[1])
        v1 = client.CoreV1Api()
        print("nodes", len(v1.list_node().items))
        pod = client.V1Pod(metadata=client.V1ObjectMeta(name="py", labels={"app": "py"}),
                           spec=client.V1PodSpec(containers=[client.V1Container(name="web", image="nginx")]))
        print("created", v1.create_namespaced_pod("default", pod).metadata.name)
        w = watch.Watch()
        for event in w.stream(v1.list_namespaced_pod, "default", label_selector="app=py", timeout_seconds=120):
            if event["object"].status.phase == "Running":
                print("running", event["object"].status.pod_ip.startswith("10.244."))
                w.stop()
        print("listed", ",".join(p.metadata.name for p in v1.list_namespaced_pod("default").items))
        w = watch.Watch()
        for event in w.stream(v1.list_namespaced_pod, "default", send_initial_events=True, resource_version_match="NotOlderThan",
                              allow_watch_bookmarks=True, timeout_seconds=60):
            if event["type"] == "BOOKMARK":
                print("initial events end", event["raw_object"]["metadata"]["annotations"]["k8s.io/initial-events-end"])
                w.stop()
            else:
                print("initial", event["type"], event["object"].metadata.name)
        print("deleted", v1.delete_namespaced_pod("py", "default").metadata.name)
        try:
            v1.read_namespaced_pod("nope", "default")
        except client.exceptions.ApiException as e:
            print("status", e.status, e.reason)
        """

    @Test("the official Python client lists, creates, watches and deletes pods",
          .enabled(if: FileManager.default.fileExists(atPath: pythonClientDirectory + "/kubernetes"),
                   "the Python kubernetes client is not installed under /opt/podlab/python (scripts/install-deps installs it)"))
    func pythonClient() async throws {
        try await TestLab.with { lab in
            let kubeconfig = try lab.run(["kubeconfig", "--path"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            let result = try Command.run("/usr/bin/env", ["python3", "-c", Self.pythonScript, kubeconfig],
                                         environment: ["PATH": "/root/.pyenv/shims:" + Spawner.defaultPath, "PYTHONPATH": Self.pythonClientDirectory,
                                                       "HOME": "/root", "PYTHONDONTWRITEBYTECODE": "1"])
            #expect(result.succeeded, "\(result.stderr)")
            #expect(result.stdout == """
                nodes 2
                created py
                running True
                listed py
                initial ADDED py
                initial events end true
                deleted py
                status 404 Not Found

                """, "\(result.stderr)")
        }
    }
}
