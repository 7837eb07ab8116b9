@testable import AgentTestSupport
import Foundation
import PodNet
import PodlabCLI
import Testing

/// `label`, `annotate` and `patch` against the real API (a TestAgent lab without root).
@Suite("label, annotate and patch against the agent's API")
struct MetadataCommandTests {
    @Test("label sets, refuses to overwrite without --overwrite, removes, and prints kubectl's words")
    func label() async throws {
        try await TestAgent.serving { agent in
            try await agent.add(Pod.run(name: "web", image: "nginx"))
            let set = agent.context()
            #expect(await set.run(["label", "pods", "web", "tier=frontend"]) == 0)
            #expect(set.stdout.text == "pod/web labeled\n")
            #expect(await agent.pod("web")?.metadata.labels == ["run": "web", "tier": "frontend"])

            let clash = agent.context()
            #expect(await clash.run(["label", "pod/web", "run=api"]) == 1)
            #expect(clash.stderr.text == "error: 'run' already has a value (web), and --overwrite is false\n")
            #expect(await agent.pod("web")?.metadata.labels["run"] == "web")

            let same = agent.context()
            #expect(await same.run(["label", "pod", "web", "run=web"]) == 0)
            #expect(same.stdout.text == "pod/web not labeled\n")

            let overwrite = agent.context()
            #expect(await overwrite.run(["label", "--overwrite", "pod", "web", "run=api"]) == 0)
            #expect(overwrite.stdout.text == "pod/web labeled\n")
            #expect(await agent.pod("web")?.metadata.labels["run"] == "api")

            let remove = agent.context()
            #expect(await remove.run(["label", "pod", "web", "tier-", "missing-"]) == 0)
            #expect(remove.stdout.text == "label \"missing\" not found.\npod/web unlabeled\n")
            #expect(await agent.pod("web")?.metadata.labels == ["run": "api"])

            let list = agent.context()
            #expect(await list.run(["label", "pod", "web", "--list"]) == 0)
            #expect(list.stdout.text == "run=api\n")
            // With changes, --list shows the labels they would give and stores nothing (kubectl 1.32).
            let preview = agent.context()
            #expect(await preview.run(["label", "pod", "web", "--list", "tier=db"]) == 0)
            #expect(preview.stdout.text == "run=api\ntier=db\n")
            #expect(await agent.pod("web")?.metadata.labels == ["run": "api"])

            let clashes = agent.context()
            #expect(await clashes.run(["label", "pod", "web", "run=x", "tier=y", "--list"]) == 1)
            #expect(clashes.stderr.text == "error: 'run' already has a value (api), and --overwrite is false\n")
        }
    }

    @Test("label -l and --all change every matching object; a missing object is kubectl's NotFound")
    func labelSelected() async throws {
        try await TestAgent.serving { agent in
            try await agent.add(Pod.run(name: "a", image: "nginx"))
            try await agent.add(Pod.run(name: "b", image: "nginx"))
            let selected = agent.context()
            #expect(await selected.run(["label", "pods", "-l", "run=b", "picked=yes"]) == 0)
            #expect(selected.stdout.text == "pod/b labeled\n")
            #expect(await agent.pod("a")?.metadata.labels["picked"] == nil)

            let all = agent.context()
            #expect(await all.run(["label", "pods", "--all", "lab=podlab"]) == 0)
            #expect(all.stdout.text == "pod/a labeled\npod/b labeled\n")

            let missing = agent.context()
            #expect(await missing.run(["label", "pod", "nope", "x=y"]) == 1)
            #expect(missing.stderr.text == "Error from server (NotFound): pods \"nope\" not found\n")

            let noName = agent.context()
            #expect(await noName.run(["label", "pods", "x=y"]) == 1)
            #expect(noName.stderr.text == "error: resource(s) were provided, but no name was specified\n")

            let noChange = agent.context()
            #expect(await noChange.run(["label", "pod", "a"]) == 1)
            #expect(noChange.stderr.text == "error: at least one label update is required\n")

            let badValue = agent.context()
            #expect(await badValue.run(["label", "pod", "a", "x=a b"]) == 1)
            #expect(badValue.stderr.text.hasPrefix("error: invalid label value: \"x=a b\": a valid label must be an empty string"))

            let order = agent.context()
            #expect(await order.run(["label", "pod", "x=y", "a"]) == 1)
            #expect(order.stderr.text == "error: all resources must be specified before label changes: a\n")
        }
    }

    @Test("annotate sets and removes annotations; an existing value needs --overwrite")
    func annotate() async throws {
        try await TestAgent.serving { agent in
            try await agent.add(Pod.run(name: "web", image: "nginx"))
            let set = agent.context()
            #expect(await set.run(["annotate", "pod", "web", "description=my frontend", "owner=a"]) == 0)
            #expect(set.stdout.text == "pod/web annotated\n")
            #expect(await agent.pod("web")?.metadata.annotations["description"] == "my frontend")

            let clash = agent.context()
            #expect(await clash.run(["annotate", "pod", "web", "owner=b"]) == 1)
            #expect(clash.stderr.text == "error: --overwrite is false but found the following declared annotation(s): 'owner' already has a value (a)\n")

            let overwrite = agent.context()
            #expect(await overwrite.run(["annotate", "pod/web", "owner=b", "--overwrite=true", "description-"]) == 0)
            #expect(overwrite.stdout.text == "pod/web annotated\n")
            let annotations = await agent.pod("web")?.metadata.annotations
            #expect(annotations?["owner"] == "b")
            #expect(annotations?["description"] == nil)
        }
    }

    @Test("patch sends each patch type and says (no change) when the object stayed the same")
    func patch() async throws {
        try await TestAgent.serving { agent in
            try await agent.add(Pod.run(name: "web", image: "nginx"))
            let strategic = agent.context()
            #expect(await strategic.run(["patch", "pod", "web", "-p", #"{"metadata":{"labels":{"tier":"frontend"}}}"#]) == 0)
            #expect(strategic.stdout.text == "pod/web patched\n")
            #expect(await agent.pod("web")?.metadata.labels["tier"] == "frontend")
            #expect(agent.requests.last.map { "\($0.method) \($0.path)" } == "PATCH /api/v1/namespaces/default/pods/web")

            // Once the pod's status has settled, a patch that changes nothing is not written:
            // the resourceVersion stays and kubectl's comparison says so.
            try await agent.waitForPod("web", "Running and ready") { $0?.status.phase == .running && $0?.status[container: "web"]?.ready == true }
            let again = agent.context()
            let before = try #require(await agent.pod("web"))
            #expect(await again.run(["patch", "pod", "web", "-p", #"{"metadata":{"labels":{"tier":"frontend"}}}"#]) == 0)
            let after = try #require(await agent.pod("web"))
            #expect(again.stdout.text == "pod/web patched (no change)\n")
            #expect(before.metadata.resourceVersion == after.metadata.resourceVersion)
            let mergeAgain = agent.context()
            #expect(await mergeAgain.run(["patch", "pod", "web", "--type", "merge", "-p", #"{"metadata":{"labels":{"tier":"frontend"}}}"#]) == 0)
            #expect(mergeAgain.stdout.text == "pod/web patched (no change)\n")
            #expect(await agent.pod("web")?.metadata.resourceVersion == before.metadata.resourceVersion)

            let merge = agent.context()
            #expect(await merge.run(["patch", "pod/web", "--type", "merge", "-p", "metadata: {labels: {tier: null}}"]) == 0)
            #expect(merge.stdout.text == "pod/web patched\n")
            #expect(await agent.pod("web")?.metadata.labels["tier"] == nil)

            let file = NSTemporaryDirectory() + "patch-\(UUID().uuidString).json"
            try #"[{"op":"replace","path":"/spec/containers/0/image","value":"httpd"}]"#.write(toFile: file, atomically: true, encoding: .utf8)
            defer { try? FileManager.default.removeItem(atPath: file) }
            let json = agent.context()
            #expect(await json.run(["patch", "pod", "web", "--type=json", "--patch-file", file]) == 0)
            #expect(json.stdout.text == "pod/web patched\n")
            #expect(await agent.pod("web")?.spec.containers[0].image == "httpd")

            let failing = agent.context()
            #expect(await failing.run(["patch", "pod", "web", "--type", "json", "-p", #"[{"op":"test","path":"/metadata/name","value":"other"}]"#]) == 1)
            #expect(failing.stderr.text.hasPrefix("The request is invalid") || failing.stderr.text.hasPrefix("Error from server"))

            let badType = agent.context()
            #expect(await badType.run(["patch", "pod", "web", "--type", "apply", "-p", "{}"]) == 1)
            #expect(badType.stderr.text == "error: --type must be one of [json merge strategic], not \"apply\"\n")

            let none = agent.context()
            #expect(await none.run(["patch", "pod", "web"]) == 1)
            #expect(none.stderr.text == "error: must specify --patch or --patch-file containing the contents of the patch\n")

            let missing = agent.context()
            #expect(await missing.run(["patch", "pod", "nope", "-p", "{}"]) == 1)
            #expect(missing.stderr.text == "Error from server (NotFound): pods \"nope\" not found\n")
        }
    }

    @Test("wait watches until the condition holds, and says kubectl's words on success and timeout")
    func wait() async throws {
        try await TestAgent.serving { agent in
            // Created but not yet waited for: the wait sees it turn Ready through its watch.
            _ = try await agent.createPod(Pod.run(name: "web", image: "nginx"))
            let ready = agent.context()
            #expect(await ready.run(["wait", "--for=condition=Ready", "pod/web", "--timeout=20s"]) == 0)
            #expect(ready.stdout.text == "pod/web condition met\n")

            let phase = agent.context()
            #expect(await phase.run(["wait", "--for=jsonpath={.status.phase}=Running", "pods", "-l", "run=web"]) == 0)
            #expect(phase.stdout.text == "pod/web condition met\n")

            let late = agent.context()
            #expect(await late.run(["wait", "--for=jsonpath={.status.phase}=Succeeded", "pods/web", "--timeout=300ms"]) == 1)
            #expect(late.stderr.text == "error: timed out waiting for the condition on pods/web\n")

            let none = agent.context()
            #expect(await none.run(["wait", "--for=condition=Ready", "pods", "-l", "run=nobody"]) == 1)
            #expect(none.stderr.text == "error: no matching resources found\n")

            let unknown = agent.context()
            #expect(await unknown.run(["wait", "--for=ready", "pod/web"]) == 1)
            #expect(unknown.stderr.text == "error: unrecognized condition: \"ready\"\n")

            // Waiting for deletion: met when the pod is gone; a pod already gone is no error.
            let deleted = agent.context()
            async let waited = deleted.run(["wait", "--for=delete", "pod/web", "--timeout=30s"])
            try await Task.sleep(for: .milliseconds(200))
            #expect(await agent.context().run(["delete", "pod", "web", "--wait=false"]) == 0)
            #expect(await waited == 0)
            #expect(deleted.stdout.text == "pod/web condition met\n")
            let gone = agent.context()
            #expect(await gone.run(["wait", "--for=delete", "pod/web", "--timeout=1s"]) == 0)
            #expect(gone.stdout.text == "")
        }
    }

    @Test("get -o jsonpath, -o custom-columns and --sort-by print what kubectl prints")
    func templates() async throws {
        try await TestAgent.serving { agent in
            try await agent.add(Pod.run(name: "b", image: "busybox"))
            try await agent.add(Pod.run(name: "a", image: "httpd"))
            let names = agent.context()
            #expect(await names.run(["get", "pods", "-o", "jsonpath={.items[*].metadata.name}"]) == 0)
            #expect(names.stdout.text == "a b")

            let one = agent.context()
            #expect(await one.run(["get", "pod", "b", "-o=jsonpath={.kind} {.spec.containers[0].image}"]) == 0)
            #expect(one.stdout.text == "Pod busybox")

            let range = agent.context()
            #expect(await range.run(["get", "pods", #"-ojsonpath={range .items[*]}{.metadata.name}{"\t"}{.status.phase}{"\n"}{end}"#]) == 0)
            #expect(range.stdout.text == "a\tRunning\nb\tRunning\n")

            let columns = agent.context()
            #expect(await columns.run(["get", "pods", "-o", "custom-columns=NAME:.metadata.name,IMAGE:.spec.containers[*].image,X:.nope"]) == 0)
            #expect(columns.stdout.text == "NAME   IMAGE     X\na      httpd     <none>\nb      busybox   <none>\n")

            // By image: busybox's pod b before httpd's pod a, in every printer.
            let sorted = agent.context()
            #expect(await sorted.run(["get", "pods", "--sort-by", ".spec.containers[0].image", "-o", "jsonpath={.items[*].metadata.name}"]) == 0)
            #expect(sorted.stdout.text == "b a")
            let table = agent.context()
            #expect(await table.run(["get", "pods", "--sort-by={.spec.containers[0].image}", "--no-headers", "-o", "custom-columns=N:.metadata.name"]) == 0)
            #expect(table.stdout.text == "b\na\n")
            let human = agent.context()
            #expect(await human.run(["get", "pods", "--sort-by=.spec.containers[0].image", "--no-headers"]) == 0)
            #expect(human.stdout.text.split(separator: "\n").map { $0.prefix(1) } == ["b", "a"])

            let missing = agent.context()
            #expect(await missing.run(["get", "pod", "nope", "-o", "jsonpath={.metadata.name}"]) == 1)
            #expect(missing.stderr.text == "Error from server (NotFound): pods \"nope\" not found\n")

            let broken = agent.context()
            #expect(await broken.run(["get", "pods", "-o", "jsonpath={.metadata.name"]) == 1)
            #expect(broken.stderr.text == "error: error parsing jsonpath {.metadata.name, unclosed action\n")
        }
    }

    @Test("logs -l, --all-containers and --prefix read every chosen container; --since and --timestamps are passed on")
    func logs() async throws {
        try await TestAgent.serving { agent in
            try await agent.createPod("""
                apiVersion: v1
                kind: Pod
                metadata: {name: web, labels: {app: web}}
                spec: {containers: [{name: nginx, image: nginx}, {name: side, image: busybox}]}
                """)
            try await agent.waitForPod("web", "Running") { $0?.status.phase == .running }
            try agent.setLog(pod: "web", container: "nginx", "from nginx\n")
            try agent.setLog(pod: "web", container: "side", "from side\n")

            let all = agent.context()
            #expect(await all.run(["logs", "web", "--all-containers"]) == 0)
            #expect(all.stdout.text == "from nginx\nfrom side\n")

            let selected = agent.context()
            #expect(await selected.run(["logs", "-l", "app=web", "--all-containers=true", "--prefix"]) == 0)
            #expect(selected.stdout.text == "[pod/web/nginx] from nginx\n[pod/web/side] from side\n")
            // With a selector kubectl shows the last 10 lines unless told otherwise.
            #expect(agent.requests.last?.query["tailLines"] == "10")

            let options = agent.context()
            #expect(await options.run(["logs", "pod/web", "-c", "side", "--since=1m30s", "--timestamps"]) == 0)
            let sent = try #require(agent.requests.last)
            #expect(sent.query["sinceSeconds"] == "90" && sent.query["timestamps"] == "true" && sent.query["container"] == "side")

            let nobody = agent.context()
            #expect(await nobody.run(["logs", "-l", "app=nobody"]) == 0)
            #expect(nobody.stderr.text == "No resources found in default namespace.\n")
        }
    }
}
