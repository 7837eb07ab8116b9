import Foundation
import KernelTestSupport
import Testing

/// The events the kubelet, the scheduler and the workload controllers report, as `describe`
/// and `get events` show them.
@Suite("Events of pods and workloads", .enabled(if: KernelTest.isRoot, KernelTest.rootRequired), .rootNamespaceUnchanged)
struct EventTests {
    static func events(_ text: String) -> String {
        guard let start = text.range(of: "Events:") else { return "" }
        return String(text[start.lowerBound...])
    }

    @Test("a pod's life, a failed pull, a crash loop, and a Deployment scaling its ReplicaSet")
    func lifecycleEvents() async throws {
        try await TestLab.with(backoff: 1) { lab in
            try lab.run(["run", "web", "--image", "nginx"])
            try lab.run(["run", "ghost", "--image", "nosuchimage:1.0"])
            try lab.run(["run", "crash", "--image", "busybox", "--", "false"])
            try lab.run(["create", "deployment", "app", "--image", "httpd", "--replicas", "2"])
            try await lab.eventually("web started, ghost failed to pull, crash backing off") {
                let web = Self.events(try lab.run(["describe", "pod", "web"]).stdout)
                let ghost = Self.events(try lab.run(["describe", "pod", "ghost"]).stdout)
                let crash = Self.events(try lab.run(["describe", "pod", "crash"]).stdout)
                return web.contains("Started container web") && ghost.contains("Error: ErrImagePull") && crash.contains("Back-off restarting failed container crash")
            }
            let web = Self.events(try lab.run(["describe", "pod", "web"]).stdout)
            for line in ["Scheduled", "default-scheduler  Successfully assigned default/web to n",
                         #"Pulled     "#, #"Container image "nginx" already present on machine"#, "Created container web", "Started container web"] {
                #expect(web.contains(line), "\(line) in\n\(web)")
            }
            let ghost = Self.events(try lab.run(["describe", "pod", "ghost"]).stdout)
            #expect(ghost.contains(#"Failed to pull image "nosuchimage:1.0""#), "\(ghost)")
            try await lab.eventually("the deployment scaled its ReplicaSet up to 2") {
                Self.events(try lab.run(["describe", "deployment", "app"]).stdout).contains("from 0 to 2")
            }
            let deployment = Self.events(try lab.run(["describe", "deployment", "app"]).stdout)
            #expect(deployment.contains("ScalingReplicaSet  "), "\(deployment)")
            #expect(deployment.contains("deployment-controller  Scaled up replica set app-"), "\(deployment)")
            let replicaSet = Self.events(try lab.run(["describe", "rs"]).stdout)
            #expect(replicaSet.components(separatedBy: "replicaset-controller  Created pod: app-").count - 1 == 2, "\(replicaSet)")
            let all = try lab.run(["get", "events"]).stdout
            #expect(all.hasPrefix("LAST SEEN   TYPE"), "\(all)")
            #expect(all.contains("deployment/app") && all.contains("pod/web"), "\(all)")
        }
    }
}
