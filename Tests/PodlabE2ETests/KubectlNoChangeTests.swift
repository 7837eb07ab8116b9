import Foundation
import KernelTestSupport
import Testing

/// Writes that change nothing are not stored, as kube-apiserver does: the resourceVersion
/// stays, and kubectl (and podlab) print `patched (no change)`.
@Suite("unchanged writes against kubectl", .enabled(if: KernelTest.isRoot, KernelTest.rootRequired), .rootNamespaceUnchanged)
struct KubectlNoChangeTests {
    static let service = """
        apiVersion: v1
        kind: Service
        metadata:
          name: web
        spec:
          selector: {app: web}
          ports:
          - port: 80
        """

    @Test("patch twice: the second is (no change); replace with the stored object keeps the resourceVersion",
          .enabled(if: !KubectlBinary.found.isEmpty, "no kubectl on this machine: scripts/install-deps installs Debian's kubernetes-client"),
          arguments: KubectlBinary.found)
    func noChange(binary: KubectlBinary) async throws {
        try await TestLab.with { lab in
            let kubectl = try KubectlTests.kubectl(binary, for: lab)
            defer { try? FileManager.default.removeItem(atPath: kubectl.cacheDirectory) }
            let file = kubectl.cacheDirectory + "/web.yaml"
            try Self.service.write(toFile: file, atomically: true, encoding: .utf8)
            #expect(try kubectl.run(["create", "-f", file]).stdout == "service/web created\n")
            func version() throws -> String { try kubectl.run(["get", "service", "web", "-o", "jsonpath={.metadata.resourceVersion}"]).stdout }

            let patch = #"{"metadata":{"labels":{"tier":"front"}}}"#
            #expect(try kubectl.run(["patch", "service", "web", "-p", patch]).stdout == "service/web patched\n")
            let patchedVersion = try version()
            #expect(try kubectl.run(["patch", "service", "web", "-p", patch]).stdout == "service/web patched (no change)\n")
            #expect(try kubectl.run(["patch", "service", "web", "--type", "merge", "-p", patch]).stdout == "service/web patched (no change)\n")
            #expect(try lab.run(["patch", "service", "web", "-p", patch]).stdout == "service/web patched (no change)\n")
            #expect(try version() == patchedVersion, "an unchanged patch is not stored")

            // PUT of the object as stored: kubectl says replaced, nothing is written.
            let stored = try kubectl.run(["get", "service", "web", "-o", "json"]).stdout
            #expect(try kubectl.run(["replace", "-f", "-"], input: stored).stdout == "service/web replaced\n")
            #expect(try version() == patchedVersion, "an unchanged update is not stored")

            // A patch that changes something is still written.
            #expect(try lab.run(["patch", "service", "web", "-p", #"{"metadata":{"labels":{"tier":"back"}}}"#]).stdout == "service/web patched\n")
            #expect(try version() != patchedVersion)
        }
    }
}
