import Foundation
import KernelTestSupport
import Testing

/// podlab's own verbs print what kubectl prints: each command runs through the real kubectl and
/// through podlab against one lab, and their stdout, stderr and exit status must be the same.
@Suite("podlab's verbs print what kubectl prints", .enabled(if: KernelTest.isRoot, KernelTest.rootRequired), .rootNamespaceUnchanged)
struct CLIParityTests {
    @Test("label, annotate, patch, wait, jsonpath, custom-columns, sort-by, api-resources",
          .enabled(if: !KubectlBinary.found.isEmpty, "no kubectl on this machine: scripts/install-deps installs Debian's kubernetes-client"))
    func parity() async throws {
        let binary = KubectlBinary.found.last!
        try await TestLab.with { lab in
            let kubectl = try KubectlTests.kubectl(binary, for: lab)
            defer { try? FileManager.default.removeItem(atPath: kubectl.cacheDirectory) }
            try lab.run(["run", "web", "--image", "nginx"])
            try lab.run(["run", "api", "--image", "busybox", "--", "sleep", "3600"])
            // wait: both see the pods turn Ready.
            for pod in ["pod/web", "pod/api"] {
                let own = try lab.run(["wait", "--for=condition=Ready", pod, "--timeout=60s"])
                #expect(own.stdout == "\(pod) condition met\n")
                #expect(try kubectl.run(["wait", "--for=condition=Ready", pod, "--timeout=60s"]).stdout == own.stdout)
            }

            /// The same read-only command through both: identical output.
            func same(_ arguments: [String], sourceLocation: SourceLocation = #_sourceLocation) throws {
                let printed = try kubectl.run(arguments, expectSuccess: false), own = try lab.run(arguments, expectSuccess: false)
                #expect(own.stdout == printed.stdout, "stdout of \(arguments)", sourceLocation: sourceLocation)
                #expect(own.stderr == printed.stderr, "stderr of \(arguments)", sourceLocation: sourceLocation)
                #expect(own.status == printed.status, "status of \(arguments)", sourceLocation: sourceLocation)
            }
            /// A change through kubectl on pod `web` and through podlab on pod `api`: the same words.
            func mirrored(_ arguments: [String], sourceLocation: SourceLocation = #_sourceLocation) throws {
                let printed = try kubectl.run(arguments.map { $0.replacingOccurrences(of: "POD", with: "web") }, expectSuccess: false)
                let own = try lab.run(arguments.map { $0.replacingOccurrences(of: "POD", with: "api") }, expectSuccess: false)
                func normalized(_ text: String) -> String { text.replacingOccurrences(of: "api", with: "web") }
                #expect(normalized(own.stdout) == printed.stdout, "stdout of \(arguments)", sourceLocation: sourceLocation)
                #expect(normalized(own.stderr) == printed.stderr, "stderr of \(arguments)", sourceLocation: sourceLocation)
                #expect(own.status == printed.status, "status of \(arguments)", sourceLocation: sourceLocation)
            }

            try mirrored(["label", "pod", "POD", "tier=frontend"])
            try mirrored(["label", "pod", "POD", "tier=frontend"])
            try mirrored(["label", "pod/POD", "tier=backend"])
            try mirrored(["label", "pod/POD", "tier=backend", "--overwrite"])
            try mirrored(["label", "pod", "POD", "tier-", "absent-"])
            try mirrored(["label", "pod", "POD", "--list"])
            try same(["label", "pods", "--all", "--list"])
            try mirrored(["label", "pods", "x=y"])
            try mirrored(["label", "pod", "nope", "x=y"])
            try mirrored(["annotate", "pod", "POD", "note=first"])
            try mirrored(["annotate", "pod", "POD", "note=second"])
            try mirrored(["annotate", "pod", "POD", "note=second", "--overwrite"])
            try mirrored(["annotate", "pod", "POD", "note-"])
            try mirrored(["patch", "pod", "POD", "-p", #"{"metadata":{"labels":{"patched":"yes"}}}"#])
            try mirrored(["patch", "pod", "POD", "-p", #"{"metadata":{"labels":{"patched":"yes"}}}"#])
            try mirrored(["patch", "pod", "POD", "--type=merge", "-p", #"{"metadata":{"labels":{"patched":null}}}"#])
            try mirrored(["patch", "pod", "POD", "--type=json", "-p", #"[{"op":"add","path":"/metadata/labels/json","value":"yes"}]"#])
            try mirrored(["patch", "pod", "POD", "--type=bogus", "-p", "{}"])
            try mirrored(["wait", "--for=jsonpath={.status.phase}=Succeeded", "pod/POD", "--timeout=1s"])
            try mirrored(["wait", "--for=jsonpath={.status.phase}=Running", "pod/POD"])
            try mirrored(["wait", "--for=bogus", "pod/POD"])

            try same(["get", "pods", "-o", "jsonpath={.items[*].metadata.name}"])
            try same(["get", "pod", "web", "-o", "jsonpath={.metadata.labels}"])
            try same(["get", "pods", "-o", #"jsonpath={range .items[*]}{.metadata.name}{"\t"}{.spec.containers[0].image}{"\n"}{end}"#])
            try same(["get", "pods", "-o", #"jsonpath={.items[?(@.metadata.name=="api")].spec.containers[*].name}"#])
            try same(["get", "pods", "-o", "custom-columns=NAME:.metadata.name,IMAGE:.spec.containers[*].image,NODE:.spec.nodeName,MISSING:.nope"])
            try same(["get", "pods", "-o", "custom-columns=NAME:.metadata.name", "--no-headers", "--sort-by=.spec.containers[0].image"])
            try same(["get", "pods", "--sort-by=.spec.containers[0].image", "-o", "name"])
            try same(["get", "pods,nodes", "-o", "jsonpath={.items[*].kind}"])
            try same(["get", "pod", "nope", "-o", "jsonpath={.metadata.name}"])
            try same(["api-resources"])
            try same(["api-resources", "-o", "wide"])
            try same(["api-resources", "-o", "name", "--namespaced=false"])
            try same(["api-resources", "--api-group=apps", "--no-headers"])
            let version = try lab.run(["version"]).stdout
            let printed = try kubectl.run(["version"]).stdout
            #expect(version.hasSuffix(printed.split(separator: "\n").last.map { $0 + "\n" } ?? "-"), "the server's version line")

            try mirrored(["delete", "pod", "POD", "--wait=false"])
            try mirrored(["wait", "--for=delete", "pod/POD", "--timeout=60s"])
            try mirrored(["wait", "--for=delete", "pod/POD", "--timeout=1s"])
        }
    }
}
