import Foundation
import KernelTestSupport
import Testing

/// `securityContext` runAsUser / runAsGroup / runAsNonRoot / supplementalGroups: the container's
/// process runs with those ids, `exec` too, and runAsNonRoot refuses root as the kubelet does.
@Suite("Containers run as their securityContext says", .enabled(if: KernelTest.isRoot, KernelTest.rootRequired), .rootNamespaceUnchanged)
struct SecurityContextTests {
    @Test("pod-level ids with supplemental groups, a container's own runAsUser, exec as the container's user, runAsNonRoot refusing root")
    func identities() async throws {
        try await TestLab.with { lab in
            try lab.apply("""
                apiVersion: v1
                kind: Pod
                metadata:
                  name: ids
                spec:
                  securityContext:
                    runAsUser: 4242
                    runAsGroup: 5151
                    supplementalGroups: [6161]
                  containers:
                  - name: pod-level
                    image: busybox
                    command: ["sh", "-c", "id; sleep 3600"]
                  - name: own
                    image: busybox
                    command: ["sh", "-c", "id; sleep 3600"]
                    securityContext:
                      runAsUser: 4343
                      runAsNonRoot: true
                  - name: program
                    image: curlimages/curl
                    command: ["sh", "-c", "curl -s http://127.0.0.1:1/; echo curl-exit=$?; sleep 3600"]
                ---
                apiVersion: v1
                kind: Pod
                metadata:
                  name: rooted
                spec:
                  securityContext:
                    runAsNonRoot: true
                  containers:
                  - name: main
                    image: busybox
                    command: ["sleep", "3600"]
                """, as: "ids.yaml")
            try await lab.eventually("ids Running") { try lab.allRunning(count: nil) || lab.podColumn("ids", 2) == "Running" }
            try await lab.eventually("both logged their ids") {
                try lab.run(["logs", "ids", "-c", "own"]).stdout.contains("uid=") && lab.run(["logs", "ids", "-c", "pod-level"]).stdout.contains("uid=")
            }
            let podLevel = try lab.run(["logs", "ids", "-c", "pod-level"]).stdout, own = try lab.run(["logs", "ids", "-c", "own"]).stdout
            #expect(podLevel == "uid=4242 gid=5151 groups=5151,6161\n", "\(podLevel)")
            #expect(own == "uid=4343 gid=5151 groups=5151,6161\n", "\(own)")
            // The image's own program runs as the pod's user (7: connection refused; 126 would be a permission denied).
            try await lab.eventually("the curl image's program ran") { try lab.run(["logs", "ids", "-c", "program"]).stdout.contains("curl-exit=") }
            let program = try lab.run(["logs", "ids", "-c", "program"]).stdout
            #expect(program.contains("curl-exit=7"), "\(program)")
            #expect(try lab.run(["exec", "ids", "-c", "own", "--", "id", "-u"]).stdout == "4343\n")
            #expect(try lab.run(["exec", "ids", "-c", "pod-level", "--", "id", "-G"]).stdout == "5151 6161\n"
                    || lab.run(["exec", "ids", "-c", "pod-level", "--", "id", "-G"]).stdout == "6161 5151\n")

            try await lab.eventually("rooted refused") {
                let waiting = (try lab.containerStatus("rooted", "main")["state"] as? [String: Any])?["waiting"] as? [String: Any]
                return waiting?["reason"] as? String == "CreateContainerConfigError"
                    && (waiting?["message"] as? String ?? "").hasPrefix("container has runAsNonRoot and image will run as root (pod: \"rooted_default(")
            }
            #expect(try lab.containerPIDs("rooted").isEmpty)
        }
    }
}
