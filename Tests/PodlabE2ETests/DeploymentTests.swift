import Foundation
import KernelTestSupport
import Testing

/// Deployments and ReplicaSets in a real lab: the agent's controllers keep the pods, roll
/// templates out, roll them back, and take everything with the Deployment.
@Suite("Deployments and ReplicaSets", .serialized, .enabled(if: KernelTest.isRoot, KernelTest.rootRequired), .rootNamespaceUnchanged)
struct DeploymentTests {
    static func json(_ lab: TestLab, _ arguments: [String]) throws -> [String: Any] {
        let result = try lab.run(arguments + ["-o", "json"])
        return (try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any]) ?? [:]
    }

    /// A pod of the Deployment as `get pods -o json` shows it.
    struct PodView: Equatable {
        var name: String
        var phase: String
        var image: String
        var ready: Bool
        var terminating: Bool
        var owner: String
    }

    /// The pods with `selector`, terminating ones included.
    static func pods(_ lab: TestLab, _ selector: String = "app=web") throws -> [PodView] {
        let items = (try json(lab, ["get", "pods", "-l", selector]))["items"] as? [[String: Any]] ?? []
        return items.map { item in
            let metadata = item["metadata"] as? [String: Any] ?? [:]
            let status = item["status"] as? [String: Any] ?? [:]
            let containers = (item["spec"] as? [String: Any])?["containers"] as? [[String: Any]] ?? []
            let conditions = status["conditions"] as? [[String: Any]] ?? []
            let owners = metadata["ownerReferences"] as? [[String: Any]] ?? []
            return PodView(name: metadata["name"] as? String ?? "", phase: status["phase"] as? String ?? "",
                           image: containers.first?["image"] as? String ?? "",
                           ready: conditions.contains { $0["type"] as? String == "Ready" && $0["status"] as? String == "True" },
                           terminating: metadata["deletionTimestamp"] != nil,
                           owner: owners.first?["name"] as? String ?? "")
        }.sorted { $0.name < $1.name }
    }

    /// The pods not being deleted.
    static func active(_ lab: TestLab, _ selector: String = "app=web") throws -> [PodView] {
        try pods(lab, selector).filter { !$0.terminating }
    }

    static func replicaSets(_ lab: TestLab) throws -> [[String: Any]] {
        (try json(lab, ["get", "rs"]))["items"] as? [[String: Any]] ?? []
    }

    @Test("a Deployment keeps its pods: 3 running, a deleted one replaced, scaled to 1 and to 4, exposed")
    func keepsPods() async throws {
        try await TestLab.with { lab in
            let created = try lab.run(["create", "deployment", "web", "--image", "nginx", "--replicas", "3", "--port", "80"])
            #expect(created.stdout == "deployment.apps/web created\n")
            try await lab.eventually("3 pods running and ready") {
                let pods = try Self.active(lab)
                return pods.count == 3 && pods.allSatisfy { $0.phase == "Running" && $0.ready }
            }
            let first = try Self.active(lab)
            let sets = try Self.replicaSets(lab)
            #expect(sets.count == 1)
            let rsName = (sets.first?["metadata"] as? [String: Any])?["name"] as? String ?? ""
            #expect(rsName.hasPrefix("web-"))
            // Pods are `<rs>-<5 characters>`, owned by the ReplicaSet, labelled with its hash.
            #expect(first.allSatisfy { $0.owner == rsName && $0.name.hasPrefix(rsName + "-") && $0.name.count == rsName.count + 6 })
            let hash = String(rsName.dropFirst("web-".count))
            #expect(try Self.active(lab, "pod-template-hash=\(hash)").count == 3)

            try await lab.eventually("the deployment reports 3/3 available") {
                let status = (try Self.json(lab, ["get", "deploy", "web"]))["status"] as? [String: Any] ?? [:]
                return status["readyReplicas"] as? Int == 3 && status["availableReplicas"] as? Int == 3 && status["updatedReplicas"] as? Int == 3
                    && status["observedGeneration"] as? Int == 1
            }
            let tables = try lab.run(["get", "deploy,rs"]).stdout
            let lines = tables.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            #expect(lines.first?.split(separator: " ", omittingEmptySubsequences: true) == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"], "\(tables)")
            #expect(lines.count > 1 && lines[1].hasPrefix("deployment.apps/web   3/3     3            3           "), "\(tables)")
            #expect(lines.count > 2 && lines[2].isEmpty, "\(tables)")
            #expect(lines.count > 3 && lines[3].split(separator: " ") == ["NAME", "DESIRED", "CURRENT", "READY", "AGE"], "\(tables)")
            #expect(lines.count > 4 && lines[4].hasPrefix("replicaset.apps/\(rsName)   3         3         3       "), "\(tables)")
            let wide = try lab.run(["get", "deploy", "-o", "wide"]).stdout
            #expect(wide.contains("nginx        nginx    app=web"), "\(wide)")
            let described = try lab.run(["describe", "deploy", "web"]).stdout
            #expect(described.contains("Replicas:               3 desired | 3 updated | 3 total | 3 available | 0 unavailable"), "\(described)")
            #expect(described.contains("NewReplicaSet:   \(rsName) (3/3 replicas created)"), "\(described)")
            let describedRS = try lab.run(["describe", "rs", rsName]).stdout
            #expect(describedRS.contains("Controlled By:  Deployment/web"), "\(describedRS)")

            // A deleted pod is replaced at once, by a pod of another name.
            let victim = first[0].name
            try lab.run(["delete", "pod", victim, "--wait=false"])
            try await lab.eventually("a new pod in its place") {
                let pods = try Self.active(lab)
                return pods.count == 3 && !pods.contains { $0.name == victim } && pods.allSatisfy { $0.phase == "Running" }
            }

            #expect(try lab.run(["scale", "deployment", "web", "--replicas", "1"]).stdout == "deployment.apps/web scaled\n")
            try await lab.eventually("one pod left") { try Self.active(lab).count == 1 }
            try await lab.eventually("the others gone") { try Self.pods(lab).count == 1 }
            #expect(try lab.run(["scale", "deployment/web", "--replicas=4"]).stdout == "deployment.apps/web scaled\n")
            try await lab.eventually("4 pods running") {
                let pods = try Self.active(lab)
                return pods.count == 4 && pods.allSatisfy { $0.phase == "Running" }
            }
            #expect(try Self.replicaSets(lab).count == 1)

            // A Service in front of the Deployment's pods: all four are its endpoints.
            #expect(try lab.run(["expose", "deployment", "web", "--port", "8080", "--target-port", "80"]).stdout == "service/web exposed\n")
            let service = try Self.json(lab, ["get", "svc", "web"])
            #expect((service["spec"] as? [String: Any])?["selector"] as? [String: String] == ["app": "web"])
            try await lab.eventually("4 ready endpoints") {
                let endpoints = try Self.json(lab, ["get", "endpoints", "web"])
                let subsets = endpoints["subsets"] as? [[String: Any]] ?? []
                return subsets.flatMap { $0["addresses"] as? [[String: Any]] ?? [] }.count == 4
            }

            // The agent, killed and started again, adopts the same pods: none made, none lost.
            let before = try Self.active(lab).map(\.name)
            let pid = try #require(lab.agentPID)
            kill(pid, SIGKILL)
            try await lab.eventually("the old agent is gone") { kill(pid, 0) != 0 }
            try lab.run(["up"])
            try await Task.sleep(for: .seconds(1))
            #expect(try Self.pods(lab).map(\.name) == before)
            #expect(try Self.replicaSets(lab).count == 1)
        }
    }

    @Test("deleting a namespace deletes its Deployments, ReplicaSets and pods, and nothing comes back")
    func namespaceDeletion() async throws {
        try await TestLab.with { lab in
            try lab.run(["create", "namespace", "shop"])
            try lab.run(["create", "deployment", "web", "--image", "nginx", "--replicas", "2", "-n", "shop"])
            try await lab.eventually("2 pods in shop") {
                (try Self.json(lab, ["get", "pods", "-n", "shop"])["items"] as? [[String: Any]] ?? []).count == 2
            }
            try lab.run(["delete", "namespace", "shop"])
            #expect(try lab.run(["get", "ns"]).stdout.contains("shop") == false)
            let pods = try lab.run(["get", "pods", "-A"], expectSuccess: false).stdout
            #expect(!pods.contains("shop"), "\(pods)")
            let workloads = try lab.run(["get", "deploy,rs", "-A"], expectSuccess: false).stdout
            #expect(workloads.isEmpty, "\(workloads)")
        }
    }

    @Test("set image rolls the pods over to a new ReplicaSet; history shows both revisions; undo goes back")
    func rollingUpdate() async throws {
        try await TestLab.with { lab in
            try lab.run(["create", "deployment", "web", "--image", "nginx", "--replicas", "3"])
            let status = try lab.run(["rollout", "status", "deployment/web", "--timeout", "90s"])
            #expect(status.stdout.hasSuffix("deployment \"web\" successfully rolled out\n"), "\(status.stdout)")
            #expect(try Self.active(lab).count == 3)

            let updated = try lab.run(["set", "image", "deployment/web", "nginx=httpd"])
            #expect(updated.stdout == "deployment.apps/web image updated\n")
            // 25% of 3: one pod above 3 at most, none below 3 ready, all along the way.
            try await lab.eventually("3 httpd pods ready, no other left", timeout: .seconds(120)) {
                let pods = try Self.active(lab)
                #expect(pods.count <= 4, "more than maxSurge above replicas: \(pods)")
                #expect(pods.filter(\.ready).count >= 3, "more than maxUnavailable below replicas: \(pods)")
                return try Self.pods(lab).count == 3 && pods.allSatisfy { $0.image == "httpd" && $0.ready }
            }
            let rolled = try lab.run(["rollout", "status", "deployment", "web", "--timeout", "120s"])
            #expect(rolled.stdout.hasSuffix("deployment \"web\" successfully rolled out\n"), "\(rolled.stdout)")
            let pods = try Self.active(lab)
            #expect(pods.count == 3 && pods.allSatisfy { $0.image == "httpd" && $0.phase == "Running" }, "\(pods)")
            let sets = try Self.replicaSets(lab)
            #expect(sets.count == 2)
            let revisions = sets.compactMap { (($0["metadata"] as? [String: Any])?["annotations"] as? [String: String])?["deployment.kubernetes.io/revision"] }
            #expect(revisions.sorted() == ["1", "2"])
            let history = try lab.run(["rollout", "history", "deployment/web"]).stdout
            #expect(history == "deployment.apps/web \nREVISION  CHANGE-CAUSE\n1         <none>\n2         <none>\n\n", "\(history)")
            let deployment = try Self.json(lab, ["get", "deploy", "web"])
            #expect(((deployment["metadata"] as? [String: Any])?["annotations"] as? [String: String])?["deployment.kubernetes.io/revision"] == "2")
            #expect((deployment["metadata"] as? [String: Any])?["generation"] as? Int == 2)

            #expect(try lab.run(["rollout", "undo", "deployment/web"]).stdout == "deployment.apps/web rolled back\n")
            let back = try lab.run(["rollout", "status", "deployment/web", "--timeout", "120s"])
            #expect(back.stdout.hasSuffix("deployment \"web\" successfully rolled out\n"), "\(back.stdout)")
            let again = try Self.active(lab)
            #expect(again.count == 3 && again.allSatisfy { $0.image == "nginx" }, "\(again)")
            // The first ReplicaSet came back as revision 3: no third ReplicaSet.
            #expect(try Self.replicaSets(lab).count == 2)
            let after = try lab.run(["rollout", "history", "deployment/web"]).stdout
            #expect(after == "deployment.apps/web \nREVISION  CHANGE-CAUSE\n2         <none>\n3         <none>\n\n", "\(after)")
            // An image that cannot be pulled: no progress, and past the deadline the rollout fails.
            let file = lab.stateRoot + "/deadline.yaml"
            var manifest = try lab.run(["get", "deploy", "web", "-o", "json"]).stdout
            manifest = manifest.replacingOccurrences(of: "\"progressDeadlineSeconds\": 600", with: "\"progressDeadlineSeconds\": 3")
                .replacingOccurrences(of: "\"image\": \"nginx\"", with: "\"image\": \"no-such-image\"")
            try manifest.write(toFile: file, atomically: true, encoding: .utf8)
            try lab.run(["apply", "-f", file])
            let stuck = try lab.run(["rollout", "status", "deployment/web", "--timeout", "60s"], expectSuccess: false)
            #expect(stuck.status == .exited(1))
            #expect(stuck.stderr == "error: deployment \"web\" exceeded its progress deadline\n", "\(stuck.stdout)\(stuck.stderr)")
            #expect(try Self.active(lab).filter { $0.image == "nginx" && $0.ready }.count == 3)
            let undoMissing = try lab.run(["rollout", "undo", "deployment/web", "--to-revision", "9"], expectSuccess: false)
            #expect(undoMissing.stderr == "error: unable to find specified revision 9 in history\n", "\(undoMissing.stderr)")
        }
    }

    @Test("Recreate: the old pods are gone before a new one starts; deleting the Deployment takes its ReplicaSets and pods")
    func recreateAndCascade() async throws {
        try await TestLab.with { lab in
            let file = lab.stateRoot + "/deploy.yaml"
            try """
                apiVersion: apps/v1
                kind: Deployment
                metadata: {name: web, labels: {app: web}}
                spec:
                  replicas: 2
                  strategy: {type: Recreate}
                  selector: {matchLabels: {app: web}}
                  template:
                    metadata: {labels: {app: web}}
                    spec:
                      terminationGracePeriodSeconds: 2
                      containers: [{name: web, image: nginx, ports: [{containerPort: 80}]}]
                """.write(toFile: file, atomically: true, encoding: .utf8)
            #expect(try lab.run(["apply", "-f", file]).stdout == "deployment.apps/web created\n")
            #expect(try lab.run(["apply", "-f", file]).stdout == "deployment.apps/web unchanged\n")
            try await lab.eventually("2 pods running") {
                let pods = try Self.active(lab)
                return pods.count == 2 && pods.allSatisfy { $0.phase == "Running" }
            }
            try lab.run(["set", "image", "deployment/web", "web=httpd"])
            var sawBoth = false
            try await lab.eventually("2 httpd pods running, nothing else", timeout: .seconds(120)) {
                let pods = try Self.pods(lab)
                if pods.contains(where: { $0.image == "nginx" }) && pods.contains(where: { $0.image == "httpd" }) { sawBoth = true }
                return pods.count == 2 && pods.allSatisfy { $0.image == "httpd" && $0.phase == "Running" }
            }
            #expect(!sawBoth, "old and new pods side by side during a Recreate rollout")

            let deleted = try lab.run(["delete", "deployment", "web"])
            #expect(deleted.stdout == "deployment.apps \"web\" deleted\n")
            try await lab.eventually("the replica sets and pods are gone") {
                try Self.replicaSets(lab).isEmpty && Self.pods(lab).isEmpty
            }
            let none = try lab.run(["get", "deploy,rs"], expectSuccess: false)
            #expect(none.stdout.isEmpty)
        }
    }

    @Test("bad Deployments are refused with the API server's messages and change nothing; users cannot set ownerReferences")
    func badInput() async throws {
        try await TestLab.with { lab in
            let file = lab.stateRoot + "/bad.yaml"
            func apply(_ yaml: String) throws -> CommandResult {
                try yaml.write(toFile: file, atomically: true, encoding: .utf8)
                return try lab.run(["apply", "-f", file], expectSuccess: false)
            }
            let mismatch = try apply("""
                apiVersion: apps/v1
                kind: Deployment
                metadata: {name: bad}
                spec:
                  selector: {matchLabels: {app: api}}
                  template:
                    metadata: {labels: {app: web}}
                    spec: {containers: [{name: web, image: nginx}]}
                """)
            #expect(mismatch.status == .exited(1))
            #expect(mismatch.stderr.contains(#"The Deployment "bad" is invalid: spec.template.metadata.labels: Invalid value: map[string]string{"app":"web"}: `selector` does not match template `labels`"#),
                    "\(mismatch.stderr)")
            let zeroes = try apply("""
                apiVersion: apps/v1
                kind: Deployment
                metadata: {name: bad}
                spec:
                  replicas: -1
                  strategy: {rollingUpdate: {maxSurge: 0, maxUnavailable: 0}}
                  selector: {matchLabels: {app: web}}
                  template:
                    metadata: {labels: {app: web}}
                    spec: {restartPolicy: Never, containers: [{name: web, image: nginx}]}
                """)
            #expect(zeroes.stderr.contains("spec.replicas: Invalid value: -1: must be greater than or equal to 0"), "\(zeroes.stderr)")
            #expect(zeroes.stderr.contains("spec.strategy.rollingUpdate.maxUnavailable: Invalid value: 0: may not be 0 when `maxSurge` is 0"), "\(zeroes.stderr)")
            #expect(zeroes.stderr.contains(#"spec.template.spec.restartPolicy: Unsupported value: "Never": supported values: "Always""#), "\(zeroes.stderr)")
            let unknown = try apply("""
                apiVersion: apps/v1
                kind: Deployment
                metadata: {name: bad}
                spec: {replica: 2}
                """)
            #expect(unknown.stderr.contains("unknown field \"spec.replica\""), "\(unknown.stderr)")
            let missing = try lab.run(["create", "deployment", "x", "--image", "nginx", "-n", "nowhere"], expectSuccess: false)
            #expect(missing.stderr == "Error from server (NotFound): namespaces \"nowhere\" not found\n", "\(missing.stderr)")
            let notFound = try lab.run(["scale", "deployment", "nope", "--replicas", "2"], expectSuccess: false)
            #expect(notFound.stderr == "Error from server (NotFound): deployments.apps \"nope\" not found\n", "\(notFound.stderr)")
            let noContainer = try lab.run(["create", "deployment", "one", "--image", "nginx"])
            #expect(noContainer.succeeded)
            let wrongName = try lab.run(["set", "image", "deployment/one", "web=httpd"], expectSuccess: false)
            #expect(wrongName.stderr == "error: unable to find container named \"web\"\n", "\(wrongName.stderr)")
            let owned = try apply("""
                apiVersion: v1
                kind: Pod
                metadata:
                  name: mine
                  ownerReferences: [{apiVersion: apps/v1, kind: ReplicaSet, name: x, uid: "1", controller: true}]
                spec: {containers: [{name: web, image: nginx}]}
                """)
            #expect(owned.stderr.contains("metadata.ownerReferences: Forbidden: not supported by podlab yet"), "\(owned.stderr)")
            let deployments = (try Self.json(lab, ["get", "deploy"]))["items"] as? [[String: Any]] ?? []
            #expect(deployments.compactMap { ($0["metadata"] as? [String: Any])?["name"] as? String } == ["one"])
            #expect(try lab.run(["get", "pod", "mine"], expectSuccess: false).status == .exited(1))
        }
    }
}
