import Foundation
import KernelTestSupport
import Testing

/// The kubelet's periodic sync of the volumes it writes, with the period made short for the
/// test (`PODLAB_VOLUME_SYNC_SECONDS`): what a person changed or removed on the node inside a
/// configMap volume's directory is put back, and the container reads the object's value again.
@Suite("Periodic volume sync", .enabled(if: KernelTest.isRoot, KernelTest.rootRequired), .rootNamespaceUnchanged)
struct VolumeResyncTests {
    @Test("a configMap volume's file changed by hand and another removed are put back by the next sync")
    func filesPutBack() async throws {
        try await TestLab.with(environment: ["PODLAB_VOLUME_SYNC_SECONDS": "0.5"]) { lab in
            try lab.run(["create", "configmap", "settings", "--from-literal=level=info", "--from-literal=mode=fast"])
            try lab.apply("""
                apiVersion: v1
                kind: Pod
                metadata: {name: reader}
                spec:
                  volumes: [{name: config, configMap: {name: settings}}]
                  containers:
                  - {name: app, image: busybox, command: [sleep, "3600"], volumeMounts: [{name: config, mountPath: /etc/config}]}
                """, as: "reader.yaml")
            try await lab.eventually("reader Running") { (try lab.pod("reader")["status"] as? [String: Any])?["phase"] as? String == "Running" }
            let uid = try #require((try lab.pod("reader")["metadata"] as? [String: Any])?["uid"] as? String)
            let volume = "\(lab.stateRoot)/\(lab.name)/pods/\(uid)/volumes/kubernetes.io~configmap/config"
            try "debug".write(toFile: "\(volume)/..data/level", atomically: false, encoding: .utf8)
            try FileManager.default.removeItem(atPath: "\(volume)/mode")
            try await lab.eventually("the container reads the ConfigMap's values again") {
                try lab.run(["exec", "reader", "--", "cat", "/etc/config/level", "/etc/config/mode"], expectSuccess: false).stdout == "infofast"
            }
        }
    }
}
