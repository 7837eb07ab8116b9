@testable import AgentTestSupport
import Foundation
import PodNet
@testable import PodlabCLI
import Testing

/// Writes `text` to a fresh temporary file; returns its path.
func temporaryManifest(_ text: String, suffix: String = ".yaml") throws -> String {
    let path = NSTemporaryDirectory() + "podlab-test-\(UUID().uuidString)\(suffix)"
    try text.write(toFile: path, atomically: true, encoding: .utf8)
    return path
}

@Suite("apply: create, configure or leave unchanged")
struct ApplyPlanTests {
    static let manifest = """
        apiVersion: v1
        kind: Pod
        metadata:
          labels:
            run: nginx-ser
          name: nginx-ser
        spec:
          containers:
          - image: nginx
            name: nginx-ser
        """

    static func json(_ text: String) throws -> JSONValue { try YAMLReader.value(from: text) }

    /// What the agent would hold after creating `pod`: server fields and status added.
    static func live(from pod: Pod) -> Pod {
        var live = pod
        live.metadata.namespace = "default"
        live.metadata.uid = "uid-1"
        live.metadata.resourceVersion = "5"
        live.spec.restartPolicy = .always
        live.spec.terminationGracePeriodSeconds = 30
        CannedPods.running(&live)
        return live
    }

    @Test func createsWhatDoesNotExistWithTheAnnotation() throws {
        let plan = try ApplyPlan.decide(manifest: Self.json(Self.manifest), namespace: "default", live: nil)
        guard case let .create(pod) = plan else { Issue.record("expected create, got \(plan)"); return }
        #expect(pod.metadata.annotations[ApplyPlan.lastAppliedAnnotation] == """
            {"apiVersion":"v1","kind":"Pod","metadata":{"annotations":{},"labels":{"run":"nginx-ser"},"name":"nginx-ser","namespace":"default"},"spec":{"containers":[{"image":"nginx","name":"nginx-ser"}]}}

            """)
        #expect(pod.metadata.namespace == "default")
    }

    @Test func sameManifestAgainIsUnchanged() throws {
        guard case let .create(created) = try ApplyPlan.decide(manifest: Self.json(Self.manifest), namespace: "default", live: nil) else {
            Issue.record("expected create"); return
        }
        let plan = try ApplyPlan.decide(manifest: Self.json(Self.manifest), namespace: "default", live: Self.live(from: created))
        #expect(plan == .unchanged)
    }

    @Test func aManifestSavedFromGetChangesOnlyTheAnnotationOnce() throws {
        guard case let .create(created) = try ApplyPlan.decide(manifest: Self.json(Self.manifest), namespace: "default", live: nil) else {
            Issue.record("expected create"); return
        }
        let live = Self.live(from: created)
        // `get -o yaml > file`: status, uid, resourceVersion and the annotation come along.
        // As with kubectl, the recorded configuration now holds the whole spec: configured once…
        guard case let .configure(updated) = try ApplyPlan.decide(manifest: live.json, namespace: "default", live: live) else {
            Issue.record("expected configure"); return
        }
        #expect(updated.spec == live.spec)
        #expect(updated.status == live.status)
        let annotation = try #require(updated.metadata.annotations[ApplyPlan.lastAppliedAnnotation])
        #expect(!annotation.contains("status") && !annotation.contains("resourceVersion") && !annotation.contains("uid"))
        // …then unchanged.
        #expect(try ApplyPlan.decide(manifest: live.json, namespace: "default", live: updated) == .unchanged)
    }

    @Test func aNewImageIsConfigured() throws {
        guard case let .create(created) = try ApplyPlan.decide(manifest: Self.json(Self.manifest), namespace: "default", live: nil) else {
            Issue.record("expected create"); return
        }
        let live = Self.live(from: created)
        let changed = Self.manifest.replacingOccurrences(of: "image: nginx", with: "image: httpd")
        guard case let .configure(pod) = try ApplyPlan.decide(manifest: Self.json(changed), namespace: "default", live: live) else {
            Issue.record("expected configure"); return
        }
        #expect(pod.spec.containers[0].image == "httpd")
        // Server defaults and the live status stay; the resourceVersion is the live one.
        #expect(pod.spec.terminationGracePeriodSeconds == 30)
        #expect(pod.metadata.resourceVersion == "5")
        #expect(pod.status == live.status)
        #expect(pod.metadata.annotations[ApplyPlan.lastAppliedAnnotation]?.contains("\"image\":\"httpd\"") == true)
    }

    @Test func aLabelDroppedFromTheManifestIsRemoved() throws {
        let withTwo = Self.manifest.replacingOccurrences(of: "    run: nginx-ser", with: "    run: nginx-ser\n    tier: web")
        guard case let .create(created) = try ApplyPlan.decide(manifest: Self.json(withTwo), namespace: "default", live: nil) else {
            Issue.record("expected create"); return
        }
        var live = Self.live(from: created)
        live.metadata.labels["added-by-someone"] = "yes"
        guard case let .configure(pod) = try ApplyPlan.decide(manifest: Self.json(Self.manifest), namespace: "default", live: live) else {
            Issue.record("expected configure"); return
        }
        #expect(pod.metadata.labels == ["run": "nginx-ser", "added-by-someone": "yes"])
    }

    @Test func aPodCreatedByRunGetsTheAnnotation() throws {
        var live = Self.live(from: Pod.run(name: "nginx-ser", image: "nginx"))
        live.metadata.annotations = [:]
        guard case let .configure(pod) = try ApplyPlan.decide(manifest: Self.json(Self.manifest), namespace: "default", live: live) else {
            Issue.record("expected configure"); return
        }
        #expect(pod.metadata.annotations[ApplyPlan.lastAppliedAnnotation] != nil)
        #expect(pod.spec == live.spec)
    }
}

@Suite("apply against the agent's API")
struct ApplyCommandTests {
    @Test func createUnchangedConfigured() async throws {
        let file = try temporaryManifest(ApplyPlanTests.manifest)
        defer { try? FileManager.default.removeItem(atPath: file) }
        try await TestAgent.serving { agent in
            let first = agent.context()
            #expect(await first.run(["apply", "-f", file]) == 0)
            #expect(first.stdout.text == "pod/nginx-ser created\n")
            #expect(await agent.pod("nginx-ser")?.metadata.annotations[ApplyPlan.lastAppliedAnnotation] != nil)

            let second = agent.context()
            #expect(await second.run(["apply", "-f", file]) == 0)
            #expect(second.stdout.text == "pod/nginx-ser unchanged\n")

            try ApplyPlanTests.manifest.replacingOccurrences(of: "image: nginx", with: "image: nginx:1.27")
                .write(toFile: file, atomically: true, encoding: .utf8)
            let third = agent.context()
            #expect(await third.run(["apply", "-f", file]) == 0)
            #expect(third.stdout.text == "pod/nginx-ser configured\n")
            #expect(await agent.pod("nginx-ser")?.spec.containers[0].image == "nginx:1.27")
        }
    }

    /// What the API server says a pod update may change.
    static let updatableFields = "`spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,"
        + "`spec.tolerations` (only additions to existing tolerations),"
        + "`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)"

    @Test func forbiddenChangeIsPrintedLikeKubectl() async throws {
        let file = try temporaryManifest(ApplyPlanTests.manifest)
        defer { try? FileManager.default.removeItem(atPath: file) }
        try await TestAgent.serving { agent in
            #expect(await agent.context().run(["apply", "-f", file]) == 0)
            try (ApplyPlanTests.manifest + "\n  restartPolicy: Never\n").write(toFile: file, atomically: true, encoding: .utf8)
            let t = agent.context()
            #expect(await t.run(["apply", "-f", file]) == 1)
            // The API server's words, with the diff of what may not change.
            #expect(t.stderr.text == """
                The Pod "nginx-ser" is invalid: spec: Forbidden: pod updates may not change fields other than \(Self.updatableFields)
                  - spec.restartPolicy: "Always"
                  + spec.restartPolicy: "Never"

                """)
        }
    }

    @Test func multipleDocumentsListsAndStdin() async throws {
        let text = """
            apiVersion: v1
            kind: Pod
            metadata: {name: a}
            spec: {containers: [{name: a, image: nginx}]}
            ---
            apiVersion: v1
            kind: List
            items:
            - apiVersion: v1
              kind: Pod
              metadata: {name: b}
              spec: {containers: [{name: b, image: httpd}]}
            - apiVersion: v1
              kind: Pod
              metadata: {name: c, namespace: team}
              spec: {containers: [{name: c, image: busybox}]}
            """
        try await TestAgent.serving { agent in
            #expect(await agent.context().run("create namespace team") == 0)
            var t = agent.context()
            t.standardInput = text
            #expect(await t.run("apply -f -") == 0)
            #expect(t.stdout.text == "pod/a created\npod/b created\npod/c created\n")
            #expect(await agent.pod("c", namespace: "team") != nil)
        }
    }

    /// One-container pods as YAML documents: (name, image, namespace).
    static func pods(_ pods: [(String, String, String?)]) -> String {
        pods.map { name, image, namespace in
            let meta = namespace.map { "{name: \(name), namespace: \($0)}" } ?? "{name: \(name)}"
            return "apiVersion: v1\nkind: Pod\nmetadata: \(meta)\nspec: {containers: [{name: \(name), image: \(image)}]}\n"
        }.joined(separator: "---\n")
    }

    @Test("many objects: one list per namespace instead of a GET each")
    func manyObjectsListOncePerNamespace() async throws {
        let text = Self.pods([("a", "nginx", nil), ("b", "httpd", nil), ("c", "busybox", "team")])
        try await TestAgent.serving { agent in
            #expect(await agent.context().run("create namespace team") == 0)
            let before = agent.requests.count
            var first = agent.context()
            first.standardInput = text
            #expect(await first.run("apply -f -") == 0)
            #expect(first.stdout.text == "pod/a created\npod/b created\npod/c created\n")
            #expect(agent.requestLines.dropFirst(before) == [
                "GET /api/v1/namespaces/default/pods", "POST /api/v1/namespaces/default/pods", "POST /api/v1/namespaces/default/pods",
                "GET /api/v1/namespaces/team/pods", "POST /api/v1/namespaces/team/pods",
            ])

            var second = agent.context()
            second.standardInput = text.replacingOccurrences(of: "image: httpd", with: "image: httpd:2.4")
            #expect(await second.run("apply -f -") == 0)
            #expect(second.stdout.text == "pod/a unchanged\npod/b configured\npod/c unchanged\n")
            #expect(await agent.pod("b")?.spec.containers[0].image == "httpd:2.4")
            #expect(agent.requestLines.suffix(3) == [
                "GET /api/v1/namespaces/default/pods", "PUT /api/v1/namespaces/default/pods/b", "GET /api/v1/namespaces/team/pods",
            ])
        }
    }

    @Test("a pod created by someone else after the list is updated, not lost")
    func createdAfterTheList() async throws {
        let text = Self.pods([("a", "nginx", nil), ("b", "httpd:2.4", nil)])
        try await TestAgent.serving { agent in
            agent.afterEachRequest { request in
                // Another client creates b between the list and apply's POST.
                if request.method == "GET" && request.path == "/api/v1/namespaces/default/pods", await agent.pod("b") == nil {
                    _ = try? await agent.createPod(Pod(metadata: ObjectMeta(name: "b"), spec: PodSpec(containers: [Container(name: "b", image: "httpd")])))
                }
            }
            var t = agent.context()
            t.standardInput = text
            #expect(await t.run("apply -f -") == 0)
            #expect(t.stdout.text == "pod/a created\npod/b configured\n")
            #expect(t.stderr.text.contains("pods/b is missing the kubectl.kubernetes.io/last-applied-configuration annotation"))
            #expect(await agent.pod("b")?.spec.containers[0].image == "httpd:2.4")
            #expect(agent.requestLines.suffix(3) == [
                "POST /api/v1/namespaces/default/pods", "GET /api/v1/namespaces/default/pods/b", "PUT /api/v1/namespaces/default/pods/b",
            ])
        }
    }

    @Test func badObjectsFailAloneAndTheExitCodeSaysSo() async throws {
        let file = try temporaryManifest("""
            apiVersion: v1
            kind: Pod
            metadata: {name: good}
            spec: {containers: [{name: good, image: nginx}]}
            ---
            apiVersion: v1
            kind: Pod
            metadata: {name: bad}
            spec: {containers: [{name: bad, image: nginx, colour: blue}]}
            ---
            apiVersion: v1
            kind: Pod
            metadata: {name: noimage}
            spec: {containers: [{name: noimage}]}
            """)
        defer { try? FileManager.default.removeItem(atPath: file) }
        try await TestAgent.serving { agent in
            let t = agent.context()
            #expect(await t.run(["apply", "-f", file]) == 1)
            #expect(t.stdout.text == "pod/good created\n")
            #expect(t.stderr.text == """
                error: error validating "\(file)": Pod in version "v1" cannot be handled as a Pod: strict decoding error: unknown field "spec.containers[0].colour"
                The Pod "noimage" is invalid: spec.containers[0].image: Required value

                """)
        }
    }

    @Test func fieldsPodlabDoesNotSupportAreRefusedLikeServerValidationErrors() async throws {
        let file = try temporaryManifest("""
            apiVersion: v1
            kind: Pod
            metadata: {name: web-}
            spec: {containers: [{name: web, image: nginx}]}
            ---
            apiVersion: v1
            kind: Pod
            metadata: {name: data}
            spec:
              volumes: [{name: cache, nfs: {server: nas, path: /}}]
              containers:
              - name: web
                image: nginx
                volumeMounts: [{name: cache, mountPath: /cache, subPathExpr: $(POD_NAME)}]
                resources: {limits: {memory: 128Mi, ephemeral-storage: 1Gi}}
            """)
        defer { try? FileManager.default.removeItem(atPath: file) }
        try await TestAgent.serving { agent in
            let t = agent.context()
            #expect(await t.run(["apply", "-f", file]) == 1)
            #expect(t.stdout.text.isEmpty)
            #expect(t.stderr.text == """
                The Pod "web-" is invalid: metadata.name: Invalid value: "web-": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')
                The Pod "data" is invalid: \n* spec.volumes[0].nfs: Forbidden: not supported by podlab yet
                * spec.containers[0].resources.limits[ephemeral-storage]: Forbidden: not supported by podlab yet: podlab enforces cpu and memory limits only
                * spec.containers[0].volumeMounts[0].subPathExpr: Forbidden: not supported by podlab yet

                """)
            let (data, web) = (await agent.pod("data"), await agent.pod("web-"))
            #expect(data == nil && web == nil)
        }
    }

    @Test func syntaxErrorsAndMissingFiles() async throws {
        let file = try temporaryManifest("apiVersion: v1\nkind: Pod\nmetadata: [\n")
        defer { try? FileManager.default.removeItem(atPath: file) }
        try await TestAgent.serving { agent in
            let t = agent.context()
            #expect(await t.run(["apply", "-f", file]) == 1)
            #expect(t.stderr.text.hasPrefix("error: error parsing \(file): yaml: line "))
            let missing = agent.context()
            #expect(await missing.run("apply -f /nonexistent/pod.yaml") == 1)
            #expect(missing.stderr.text == "error: the path \"/nonexistent/pod.yaml\" does not exist\n")
            #expect(agent.requests.isEmpty)
        }
    }

    @Test func namespaceMismatch() async throws {
        let file = try temporaryManifest("apiVersion: v1\nkind: Pod\nmetadata: {name: a, namespace: team}\nspec: {containers: [{name: a, image: nginx}]}\n")
        defer { try? FileManager.default.removeItem(atPath: file) }
        try await TestAgent.serving { agent in
            let t = agent.context()
            #expect(await t.run(["apply", "-n", "other", "-f", file]) == 1)
            #expect(t.stderr.text == "error: the namespace from the provided object \"team\" does not match the namespace \"other\". You must pass '--namespace=team' to perform this operation.\n")
        }
    }
}

@Suite("edit against the agent's API")
struct EditCommandTests {
    /// An editor: a shell script that runs `sed` on the file it is given.
    static func editor(_ sedExpression: String) throws -> String {
        let script = NSTemporaryDirectory() + "podlab-editor-\(UUID().uuidString).sh"
        try "#!/bin/sh\nsed -i '\(sedExpression)' \"$1\"\n".write(toFile: script, atomically: true, encoding: .utf8)
        chmod(script, 0o755)
        return script
    }

    @Test func savedChange() async throws {
        let script = try Self.editor("s/image: nginx/image: httpd/")
        defer { try? FileManager.default.removeItem(atPath: script) }
        try await TestAgent.serving { agent in
            try await agent.add(Pod.run(name: "web", image: "nginx"))
            var t = agent.context()
            t.environment["EDITOR"] = script
            #expect(await t.run("edit pod web") == 0)
            #expect(t.stdout.text == "pod/web edited\n")
            #expect(await agent.pod("web")?.spec.containers[0].image == "httpd")
        }
    }

    @Test func noChange() async throws {
        try await TestAgent.serving { agent in
            try await agent.add(Pod.run(name: "web", image: "nginx"))
            var t = agent.context()
            t.environment["KUBE_EDITOR"] = "true"
            t.environment["EDITOR"] = "false"
            #expect(await t.run("edit pods/web") == 0)
            #expect(t.stdout.text == "Edit cancelled, no changes made.\n")
            #expect(agent.requestLines == ["GET /api/v1/namespaces/default/pods/web"])
        }
    }

    @Test func invalidChangeLeftAsIs() async throws {
        let script = try Self.editor("s/restartPolicy: Always/restartPolicy: Never/")
        defer { try? FileManager.default.removeItem(atPath: script) }
        try await TestAgent.serving { agent in
            try await agent.add(Pod.run(name: "web", image: "nginx"))
            var t = agent.context()
            t.environment["EDITOR"] = "sh \(script)"
            #expect(await t.run("edit pod web") == 1)
            let lines = t.stderr.text.split(separator: "\n").map(String.init)
            #expect(lines.count == 3)
            #expect(lines.first == "error: pods \"web\" is invalid")
            #expect(lines.last == "error: Edit cancelled, no valid changes were saved.")
            let copy = try #require(lines[1].split(separator: "\"").dropFirst().first.map(String.init))
            #expect(lines[1] == "A copy of your changes has been stored to \"\(copy)\"")
            let saved = try String(contentsOfFile: copy, encoding: .utf8)
            #expect(saved.contains("""
                # pods "web" was not valid:
                # * spec: Forbidden: pod updates may not change fields other than \(ApplyCommandTests.updatableFields)
                #   - spec.restartPolicy: "Always"
                #   + spec.restartPolicy: "Never"

                """), "\(saved)")
            #expect(saved.contains("restartPolicy: Never"))
            try? FileManager.default.removeItem(atPath: copy)
            #expect(await agent.pod("web")?.spec.restartPolicy == .always)
        }
    }
}
