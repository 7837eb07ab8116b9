import Foundation
import KernelTestSupport
import Testing

/// `podlab explain` prints what a current kubectl prints against the same lab, byte for byte,
/// and fails the way it does. kubectl 1.2x lays explain out differently (its v2 template), so
/// only kubectl 1.27 and later are compared.
@Suite("podlab explain against kubectl", .enabled(if: KernelTest.isRoot, KernelTest.rootRequired), .rootNamespaceUnchanged)
struct ExplainE2ETests {
    static let current = KubectlBinary.found.filter { !$0.version.hasPrefix("v1.2") }

    @Test("explain pod, pod.spec.containers, svc.spec.ports.port, --recursive, and a missing field",
          .enabled(if: !current.isEmpty, "no kubectl 1.27 or later on this machine"),
          arguments: current)
    func sameAsKubectl(binary: KubectlBinary) async throws {
        try await TestLab.with { lab in
            let kubectl = try KubectlTests.kubectl(binary, for: lab)
            defer { try? FileManager.default.removeItem(atPath: kubectl.cacheDirectory) }
            for arguments in [["pod"], ["pod.spec.containers"], ["svc.spec.ports.port"], ["deploy.spec.template", "--recursive"],
                              ["netpol"], ["ns.metadata.labels"], ["pod.spec.containers.livenessProbe.httpGet"], ["pod.spec.volumes.configMap"]] {
                let expected = try kubectl.run(["explain"] + arguments)
                let printed = try lab.run(["explain"] + arguments)
                #expect(printed.stdout == expected.stdout, "podlab explain \(arguments.joined(separator: " ")) differs from kubectl's:\n\(printed.stdout)\n---\n\(expected.stdout)")
                #expect(expected.stdout.contains("KIND:"))
            }
            for arguments in [["pod.spec.nope"], ["nope"], ["pods", "--api-version=v2"]] {
                let expected = try kubectl.run(["explain"] + arguments, expectSuccess: false)
                let printed = try lab.run(["explain"] + arguments, expectSuccess: false)
                #expect(!expected.succeeded)
                #expect(printed.status == expected.status, "exit status of podlab explain \(arguments.joined(separator: " "))")
                #expect(printed.stdout == expected.stdout)
                #expect(printed.stderr == expected.stderr, "\(printed.stderr) vs \(expected.stderr)")
            }
        }
    }

    /// kubectl before 1.27 (its explain reads OpenAPI v2).
    static let older = KubectlBinary.found.filter { binary in
        let parts = binary.version.dropFirst().split(separator: ".")
        return parts.count >= 2 && parts[0] == "1" && (Int(parts[1]) ?? 99) < 27
    }

    /// kubectl 1.2x reads the v2 document: the fields users explore under a container (probes,
    /// resources, volume mounts, env sources, lifecycle, security context) are objects whose
    /// fields it lists, not free maps.
    @Test("an older kubectl explains a container's probes, resources, mounts and env sources field by field",
          .enabled(if: !older.isEmpty, "no kubectl 1.2x older than 1.27 on this machine"),
          arguments: older)
    func olderKubectlDrillsDown(binary: KubectlBinary) async throws {
        try await TestLab.with { lab in
            let kubectl = try KubectlTests.kubectl(binary, for: lab)
            defer { try? FileManager.default.removeItem(atPath: kubectl.cacheDirectory) }
            let containers = try kubectl.run(["explain", "pod.spec.containers"]).stdout
            for field in ["envFrom\t<[]Object>", "lifecycle\t<Object>", "livenessProbe\t<Object>", "readinessProbe\t<Object>",
                          "resources\t<Object>", "securityContext\t<Object>", "volumeMounts\t<[]Object>"] {
                #expect(containers.contains("   " + field), "\(field) not in:\n\(containers)")
            }
            #expect(!containers.contains("map[string]"), "\(containers)")
            let httpGet = try kubectl.run(["explain", "pod.spec.containers.livenessProbe.httpGet"]).stdout
            #expect(httpGet.contains("RESOURCE: httpGet <Object>") && httpGet.contains("   port\t<string> -required-")
                && httpGet.contains("   httpHeaders\t<[]Object>"), "\(httpGet)")
            let configMap = try kubectl.run(["explain", "pod.spec.volumes.configMap.items"]).stdout
            #expect(configMap.contains("   key\t<string> -required-") && configMap.contains("   path\t<string> -required-"), "\(configMap)")
        }
    }
}
