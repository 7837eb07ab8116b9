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
                              ["netpol"], ["ns.metadata.labels"]] {
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
}
