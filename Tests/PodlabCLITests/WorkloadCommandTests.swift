import Foundation
import PodNet
import PodlabCLI
import Synchronization
import Testing

/// The Deployment verbs against a fake agent that keeps one Deployment and its ReplicaSets.
@Suite("deployment verbs against a fake agent")
struct WorkloadCommandTests {
    /// A Deployment `web` (revision 2, image httpd) with its two ReplicaSets, updated by PUT.
    final class Workloads: Sendable {
        let deployment: Mutex<Deployment>
        let replicaSets: [ReplicaSet]

        init() {
            func deployment(_ image: String) -> Deployment {
                var deployment = Deployment(metadata: ObjectMeta(name: "web", namespace: "default", uid: "d1", resourceVersion: "7", generation: 2,
                                                                 creationTimestamp: Timestamp(secondsSince1970: 0)),
                                            spec: DeploymentSpec(replicas: 3, selector: LabelSelectorSpec(matchLabels: ["app": "web"]),
                                                                 template: PodTemplateSpec(metadata: ObjectMeta(labels: ["app": "web"]))))
                deployment.spec.template.spec.containers = [Container(name: "nginx", image: image, ports: [ContainerPort(containerPort: 80)])]
                return deployment.applyingDefaults()
            }
            var current = deployment("httpd")
            current.metadata.annotations[Deployment.revisionAnnotation] = "2"
            self.deployment = Mutex(current)
            replicaSets = [DeploymentRollout.makeReplicaSet(for: deployment("nginx"), revision: 1, replicas: 0),
                           DeploymentRollout.makeReplicaSet(for: current, revision: 2, replicas: 3)]
        }

        func handle(_ request: FakeRequest) -> FakeResponse {
            switch (request.method, request.path) {
            case ("GET", "/apis/apps/v1/namespaces/default/deployments/web"):
                return .object(deployment.withLock { $0 })
            case ("PUT", "/apis/apps/v1/namespaces/default/deployments/web"):
                guard let value = try? JSONReader.value(from: request.text), let updated = try? Deployment(json: value) else {
                    return .status(.badRequest("bad body"))
                }
                deployment.withLock { $0 = updated }
                return .object(updated)
            case ("GET", "/apis/apps/v1/namespaces/default/deployments"):
                return .object(DeploymentList(items: [deployment.withLock { $0 }]))
            case ("GET", "/apis/apps/v1/namespaces/default/replicasets"):
                return .object(ReplicaSetList(items: replicaSets))
            case ("POST", "/apis/apps/v1/namespaces/default/deployments"):
                return .json(201, request.text)
            case ("GET", "/api/v1/namespaces/default/services"):
                return .object(ServiceList(items: []))
            case ("GET", "/api/v1/namespaces/default/pods"):
                return .object(PodList(items: []))
            default:
                return .notFound("deployments.apps", request.path.split(separator: "/").last.map(String.init) ?? "")
            }
        }
    }

    @Test("create deployment sends kubectl's object: app=NAME, one container named after the image")
    func create() async throws {
        try await FakeAgent.with({ Workloads().handle($0) }) { agent in
            let t = agent.context()
            #expect(await t.run("create deployment api --image curlimages/curl:8 --replicas 2 --port 8080") == 0)
            #expect(t.stdout.text == "deployment.apps/api created\n")
            let sent = try Deployment(json: JSONReader.value(from: try #require(agent.requests.last).text))
            #expect(sent.spec.replicas == 2)
            #expect(sent.spec.selector?.matchLabels == ["app": "api"])
            #expect(sent.spec.template.metadata.labels == ["app": "api"])
            #expect(sent.spec.template.spec.containers.map(\.name) == ["curl"])
            #expect(sent.spec.template.spec.containers.first?.ports.first?.containerPort == 8080)
            let missing = agent.context()
            #expect(await missing.run("create deployment api") == 1)
            #expect(missing.stderr.text == "error: required flag(s) \"image\" not set\n")
        }
    }

    @Test("scale and set image change the Deployment and say so as kubectl does")
    func scaleAndSetImage() async throws {
        let workloads = Workloads()
        try await FakeAgent.with({ workloads.handle($0) }) { agent in
            let t = agent.context()
            #expect(await t.run("scale deployment web --replicas 5") == 0)
            #expect(t.stdout.text == "deployment.apps/web scaled\n")
            #expect(workloads.deployment.withLock { $0.spec.replicas } == 5)
            let wrong = agent.context()
            #expect(await wrong.run("scale deploy/web --replicas 1 --current-replicas 2") == 1)
            #expect(wrong.stderr.text == "error: Expected replicas to be 2, was 5\n")
            let image = agent.context()
            #expect(await image.run("set image deployment/web nginx=busybox") == 0)
            #expect(image.stdout.text == "deployment.apps/web image updated\n")
            #expect(workloads.deployment.withLock { $0.spec.template.spec.containers[0].image } == "busybox")
            let unknown = agent.context()
            #expect(await unknown.run("set image deployment/web web=busybox") == 1)
            #expect(unknown.stderr.text == "error: unable to find container named \"web\"\n")
        }
    }

    @Test("rollout history lists the revisions; undo puts the previous template back")
    func historyAndUndo() async throws {
        let workloads = Workloads()
        try await FakeAgent.with({ workloads.handle($0) }) { agent in
            let t = agent.context()
            #expect(await t.run("rollout history deployment/web") == 0)
            #expect(t.stdout.text == "deployment.apps/web \nREVISION  CHANGE-CAUSE\n1         <none>\n2         <none>\n\n")
            let undo = agent.context()
            #expect(await undo.run("rollout undo deployment web") == 0)
            #expect(undo.stdout.text == "deployment.apps/web rolled back\n")
            #expect(workloads.deployment.withLock { $0.spec.template.spec.containers[0].image } == "nginx")
            #expect(workloads.deployment.withLock { $0.spec.template.metadata.labels } == ["app": "web"])
            let same = agent.context()
            #expect(await same.run("rollout undo deployment/web --to-revision 1") == 0)
            #expect(same.stdout.text == "deployment.apps/web skipped rollback (current template already matches revision 1)\n")
            let missing = agent.context()
            #expect(await missing.run("rollout undo deployment/web --to-revision 4") == 1)
            #expect(missing.stderr.text == "error: unable to find specified revision 4 in history\n")
            let pods = agent.context()
            #expect(await pods.run("rollout status pod/web") == 1)
        }
    }

    @Test("edit deployment saves the edited Deployment")
    func edit() async throws {
        let workloads = Workloads()
        let script = try EditCommandTests.editor("s/replicas: 3/replicas: 7/")
        defer { try? FileManager.default.removeItem(atPath: script) }
        try await FakeAgent.with({ workloads.handle($0) }) { agent in
            var t = agent.context()
            t.environment["EDITOR"] = script
            #expect(await t.run("edit deployment web") == 0)
            #expect(t.stdout.text == "deployment.apps/web edited\n")
            #expect(workloads.deployment.withLock { $0.spec.replicas } == 7)
        }
    }

    @Test("get deploy,rs: a table per kind, names with their kind, a blank line between")
    func getSeveralKinds() async throws {
        try await FakeAgent.with({ Workloads().handle($0) }) { agent in
            let t = agent.context()
            #expect(await t.run("get deploy,rs,svc") == 0)
            let lines = t.stdout.text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            #expect(lines.first?.hasPrefix("NAME                  READY   UP-TO-DATE   AVAILABLE   AGE") == true, "\(t.stdout.text)")
            #expect(lines.count > 1 && lines[1].hasPrefix("deployment.apps/web   0/3     0            0           "), "\(t.stdout.text)")
            #expect(lines.count > 2 && lines[2].isEmpty)
            #expect(lines.count > 3 && lines[3].hasPrefix("NAME "))
            #expect(lines.filter { $0.hasPrefix("replicaset.apps/web-") }.count == 2, "\(t.stdout.text)")
            #expect(t.stderr.text.isEmpty, "\(t.stderr.text)")
            let all = agent.context()
            #expect(await all.run("get all") == 0)
            #expect(all.stdout.text.contains("\ndeployment.apps/web   0/3"), "\(all.stdout.text)")
            #expect(agent.requestLines.contains("GET /api/v1/namespaces/default/pods"))
            let yaml = agent.context()
            #expect(await yaml.run("get deploy,rs -o json") == 0)
            let list = try JSONReader.value(from: yaml.stdout.text)
            #expect(list["kind"] == .string("List"))
            #expect(list["items"]?.arrayValue?.count == 3)
        }
    }
}
