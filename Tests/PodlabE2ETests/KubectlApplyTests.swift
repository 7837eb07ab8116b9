import Foundation
import KernelTestSupport
import Testing

/// `kubectl apply --server-side` against a lab: the object is created, changed by a second
/// apply, a second manager's conflicting apply is refused with kube-apiserver's message, and
/// `--force-conflicts` takes the field over. Every write leaves its manager in `managedFields`.
@Suite("kubectl server-side apply", .enabled(if: KernelTest.isRoot, KernelTest.rootRequired), .rootNamespaceUnchanged)
struct KubectlApplyTests {
    static let service = """
        apiVersion: v1
        kind: Service
        metadata:
          name: web
          labels:
            app: web
            tier: front
        spec:
          selector: {app: web}
          ports:
          - port: 80
        """

    @Test("apply --server-side: create, change, a conflict with another manager, --force-conflicts",
          .enabled(if: !KubectlBinary.found.isEmpty, "no kubectl on this machine: scripts/install-deps installs Debian's kubernetes-client"),
          arguments: KubectlBinary.found)
    func serverSideApply(binary: KubectlBinary) async throws {
        try await TestLab.with { lab in
            let kubectl = try KubectlTests.kubectl(binary, for: lab)
            defer { try? FileManager.default.removeItem(atPath: kubectl.cacheDirectory) }
            let file = kubectl.cacheDirectory + "/web.yaml"
            func managers() throws -> String {
                try kubectl.run(["get", "service", "web", "-o", "jsonpath={range .metadata.managedFields[*]}{.manager}/{.operation} {end}"]).stdout
            }

            try Self.service.write(toFile: file, atomically: true, encoding: .utf8)
            #expect(try kubectl.run(["apply", "--server-side", "-f", file]).stdout == "service/web serverside-applied\n")
            #expect(try managers() == "kubectl/Apply ")

            // The second apply drops the label it no longer names and changes the port.
            try Self.service.replacingOccurrences(of: "    tier: front\n", with: "").replacingOccurrences(of: "port: 80", with: "port: 8080")
                .write(toFile: file, atomically: true, encoding: .utf8)
            #expect(try kubectl.run(["apply", "--server-side", "-f", file]).stdout == "service/web serverside-applied\n")
            #expect(try kubectl.run(["get", "service", "web", "-o", "jsonpath={.metadata.labels}"]).stdout.contains("tier") == false)
            #expect(try kubectl.run(["get", "service", "web", "-o", "jsonpath={.spec.ports[*].port}"]).stdout == "8080")

            // Another manager sets the label kubectl owns to another value: refused, nothing stored.
            let other = kubectl.cacheDirectory + "/other.yaml"
            try "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\n  labels:\n    app: api\n".write(toFile: other, atomically: true, encoding: .utf8)
            let refused = try kubectl.run(["apply", "--server-side", "--field-manager=other", "-f", other], expectSuccess: false)
            #expect(!refused.succeeded)
            #expect(refused.stderr.contains(#"Apply failed with 1 conflict: conflict with "kubectl": .metadata.labels.app"#), "\(refused.stderr)")
            #expect(try kubectl.run(["get", "service", "web", "-o", "jsonpath={.metadata.labels.app}"]).stdout == "web")

            let forced = try kubectl.run(["apply", "--server-side", "--field-manager=other", "--force-conflicts", "-f", other])
            #expect(forced.stdout == "service/web serverside-applied\n")
            #expect(try kubectl.run(["get", "service", "web", "-o", "jsonpath={.metadata.labels.app}"]).stdout == "api")
            #expect(try managers() == "kubectl/Apply other/Apply ")

            // A client-side write is an Update by its own manager.
            #expect(try kubectl.run(["label", "service", "web", "checked=yes"]).stdout == "service/web labeled\n")
            #expect(try managers().contains("kubectl-label/Update"))

            // An apply without a field manager is kube-apiserver's 422, and changes nothing.
            let status = try lab.run(["status"]).stdout
            let server = try #require(status.split(separator: "\n").first { $0.hasPrefix("API server: ") }).dropFirst("API server: ".count)
            let directory = "\(lab.stateRoot)/\(lab.name)/kube-api"
            let token = try String(contentsOfFile: directory + "/token", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
            let withoutManager = try Command.run("/usr/bin/curl", [
                "-s", "--cacert", directory + "/ca.crt", "-w", "\n%{http_code}", "-X", "PATCH", "-H", "Authorization: Bearer \(token)",
                "-H", "Content-Type: application/apply-patch+yaml", "--data-binary", "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\n  labels: {app: x}\n",
                "\(server)/api/v1/namespaces/default/services/web",
            ]).stdout
            #expect(withoutManager.hasSuffix("\n422"), "\(withoutManager)")
            #expect(withoutManager.contains(#"PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch"#), "\(withoutManager)")
            #expect(try kubectl.run(["get", "service", "web", "-o", "jsonpath={.metadata.labels.app}"]).stdout == "api")

            #expect(try kubectl.run(["delete", "service", "web"]).stdout == "service \"web\" deleted\n")

            // Pods have routes of their own: apply creates one, and a second apply changes a label.
            let pod = kubectl.cacheDirectory + "/pod.yaml"
            try KubectlTests.manifest.write(toFile: pod, atomically: true, encoding: .utf8)
            #expect(try kubectl.run(["apply", "--server-side", "-f", pod]).stdout == "pod/nginx-ser serverside-applied\n")
            try KubectlTests.manifest.replacingOccurrences(of: "    run: nginx-ser\n", with: "    run: nginx-ser\n    tier: web\n")
                .write(toFile: pod, atomically: true, encoding: .utf8)
            #expect(try kubectl.run(["apply", "--server-side", "-f", pod]).stdout == "pod/nginx-ser serverside-applied\n")
            #expect(try kubectl.run(["get", "pod", "nginx-ser", "-o", "jsonpath={.metadata.labels.tier}"]).stdout == "web")
        }
    }

    @Test("OpenAPI: kubectl explain pod.spec.containers, and validation refuses an unknown field with kubectl's message",
          .enabled(if: !KubectlBinary.found.isEmpty, "no kubectl on this machine: scripts/install-deps installs Debian's kubernetes-client"),
          arguments: KubectlBinary.found)
    func explainAndValidation(binary: KubectlBinary) async throws {
        try await TestLab.with { lab in
            let kubectl = try KubectlTests.kubectl(binary, for: lab)
            defer { try? FileManager.default.removeItem(atPath: kubectl.cacheDirectory) }
            let explained = try kubectl.run(["explain", "pod.spec.containers"])
            for text in ["KIND:", "Pod", "VERSION:", "v1", "containers", "List of containers belonging to the pod.",
                         "A single application container that you want to run within a pod.", "imagePullPolicy", "<[]Object>", "-required-"]
            where !(text == "<[]Object>" && !binary.version.hasPrefix("v1.2")) {
                #expect(explained.stdout.contains(text), "explain lacks \(text):\n\(explained.stdout)\(explained.stderr)")
            }
            let ports = try kubectl.run(["explain", "service.spec.ports.targetPort"]).stdout
            #expect(ports.contains("Number or name of the port to access on the pods targeted by the service."), "\(ports)")
            #expect(try kubectl.run(["explain", "deployment.spec.template.spec"]).stdout.contains("containers"))

            let file = kubectl.cacheDirectory + "/bad.yaml"
            try KubectlTests.manifest.replacingOccurrences(of: "    image: nginx\n", with: "    image: nginx\n    imagePullPolic: Always\n")
                .write(toFile: file, atomically: true, encoding: .utf8)
            let validate = binary.version.hasPrefix("v1.2") ? "--validate=true" : "--validate=strict"
            let refused = try kubectl.run(["apply", validate, "-f", file], expectSuccess: false)
            #expect(!refused.succeeded)
            #expect(refused.stderr.contains(#"ValidationError(Pod.spec.containers[0]): unknown field "imagePullPolic" in io.k8s.api.core.v1.Container"#),
                    "\(refused.stderr)")
            #expect(try kubectl.run(["get", "pods", "-o", "name"]).stdout.isEmpty, "a refused manifest stores nothing")
            // The same manifest without the misspelt field passes the schema.
            try KubectlTests.manifest.write(toFile: file, atomically: true, encoding: .utf8)
            #expect(try kubectl.run(["apply", validate, "-f", file]).stdout == "pod/nginx-ser created\n")
        }
    }
}
