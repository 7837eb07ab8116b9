import Foundation
import KernelTestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// A pod's own mount namespace: the kubelet's `/etc/hosts` and `/etc/hostname`, `emptyDir` and
/// `hostPath` volumes mounted where its containers ask, nothing written to the host's file system
/// at those paths, and nothing left mounted once the pod is gone.
@Suite("Volumes and the pod's files", .enabled(if: KernelTest.isRoot, KernelTest.rootRequired), .rootNamespaceUnchanged)
struct VolumeTests {
    static func uid(_ pod: [String: Any]) -> String { (pod["metadata"] as? [String: Any])?["uid"] as? String ?? "" }

    @Test("a pod sees its own /etc/hosts and /etc/hostname, the kubelet's; the host's are untouched; exec sees them too")
    func podFiles() async throws {
        let hostHosts = try String(contentsOfFile: "/etc/hosts", encoding: .utf8)
        let hostHostname = try? String(contentsOfFile: "/etc/hostname", encoding: .utf8)
        try await TestLab.with { lab in
            try lab.apply("""
                apiVersion: v1
                kind: Pod
                metadata: {name: named}
                spec:
                  hostname: db-0
                  subdomain: db
                  containers:
                  - name: app
                    image: busybox
                    command: [/bin/dash, -c, "cat /etc/hosts /etc/hostname; sleep 3600"]
                """, as: "named.yaml")
            try await lab.eventually("named running") { (try lab.containerStatus("named", "app"))["ready"] as? Bool == true }
            let ip = try lab.podIP("named")
            let expected = """
                # Kubernetes-managed hosts file.
                127.0.0.1\tlocalhost
                ::1\tip6-localhost ip6-loopback
                fe00::0\tip6-localnet
                fe00::0\tip6-mcastprefix
                fe00::1\tip6-allnodes
                fe00::2\tip6-allrouters
                \(ip)\tdb-0.db.default.svc.cluster.local\tdb-0

                """
            try await lab.eventually("the container printed its files") { try lab.run(["logs", "named"]).stdout == expected + "db-0\n" }
            #expect(try lab.run(["exec", "named", "--", "cat", "/etc/hosts"]).stdout == expected)
            #expect(try lab.run(["exec", "named", "--", "cat", "/etc/hostname"]).stdout == "db-0\n")
            #expect(try lab.run(["exec", "named", "--", "hostname"]).stdout == "db-0\n")
            #expect(try String(contentsOfFile: "/etc/hosts", encoding: .utf8) == hostHosts)
            #expect((try? String(contentsOfFile: "/etc/hostname", encoding: .utf8)) == hostHostname)
        }
    }

    @Test("two containers talk through a file in an emptyDir; read-only mounts refuse writes; hostPath and memory volumes; nothing lands on the host; deletion leaves no mount and removes the emptyDir")
    func volumes() async throws {
        let work = NSTemporaryDirectory() + "podlab-e2e-volume-" + UUID().uuidString
        let host = work + "/host", mountPoint = work + "/mnt"
        // A top-level path the host does not have: the container gets a root of its own for it.
        let topLevel = "/podlab-e2e-" + UUID().uuidString.prefix(8).lowercased()
        try FileManager.default.createDirectory(atPath: mountPoint, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: work) }
        try await TestLab.with { lab in
            try lab.apply("""
                apiVersion: v1
                kind: Pod
                metadata: {name: talk}
                spec:
                  volumes:
                  - {name: shared, emptyDir: {}}
                  - {name: mem, emptyDir: {medium: Memory, sizeLimit: 16Mi}}
                  - {name: host, hostPath: {path: \(host), type: DirectoryOrCreate}}
                  containers:
                  - name: writer
                    image: busybox
                    command: [/bin/dash, -c, "echo hello > \(topLevel)/msg; echo from-pod > \(mountPoint)/note; echo kept > /mem/m; sleep 3600"]
                    volumeMounts:
                    - {name: shared, mountPath: \(topLevel)}
                    - {name: host, mountPath: \(mountPoint)}
                    - {name: mem, mountPath: /mem}
                  - name: reader
                    image: busybox
                    command: [/bin/dash, -c, "while [ ! -s /in/msg ]; do sleep 0.1; done; cat /in/msg; sleep 3600"]
                    volumeMounts:
                    - {name: shared, mountPath: /in, readOnly: true}
                    - {name: mem, mountPath: /in/mem}
                """, as: "talk.yaml")
            try await lab.eventually("the reader got the writer's message") { try lab.run(["logs", "talk", "-c", "reader"]).stdout == "hello\n" }
            let pod = try lab.pod("talk")
            let uid = Self.uid(pod)
            let podDirectory = "\(lab.stateRoot)/\(lab.name)/pods/\(uid)"
            let emptyDir = podDirectory + "/volumes/kubernetes.io~empty-dir/shared"

            // The emptyDir is the pod's directory on the host; the hostPath got the write.
            #expect(try String(contentsOfFile: emptyDir + "/msg", encoding: .utf8) == "hello\n")
            #expect(try String(contentsOfFile: host + "/note", encoding: .utf8) == "from-pod\n")
            // Nothing on the host at the mount paths.
            #expect(try FileManager.default.contentsOfDirectory(atPath: mountPoint).isEmpty)
            #expect(!FileManager.default.fileExists(atPath: topLevel))
            #expect(KernelTest.mountPoints(under: topLevel).isEmpty && KernelTest.mountPoints(under: work).isEmpty)
            // A memory volume is a tmpfs of the pod alone, shared by its containers.
            #expect(!FileManager.default.fileExists(atPath: podDirectory + "/volumes/kubernetes.io~empty-dir/mem/m"))
            let readerMounts = try lab.run(["exec", "talk", "-c", "reader", "--", "cat", "/proc/mounts"]).stdout
            #expect(readerMounts.contains("tmpfs /in/mem tmpfs rw"), "\(readerMounts)")
            #expect(readerMounts.contains("size=16384k"), "\(readerMounts)")
            #expect(try lab.run(["exec", "talk", "-c", "reader", "--", "cat", "/in/mem/m"]).stdout == "kept\n")
            // Read-only for the reader, writable for the writer.
            let refused = try lab.run(["exec", "talk", "-c", "reader", "--", "/bin/dash", "-c", "echo x > /in/other"], expectSuccess: false)
            #expect(!refused.succeeded && refused.stderr.contains("Read-only file system"), "\(refused)")
            try lab.run(["exec", "talk", "-c", "writer", "--", "/bin/dash", "-c", "echo more > \(topLevel)/more"])
            #expect(try lab.run(["exec", "talk", "-c", "reader", "--", "cat", "/in/more"]).stdout == "more\n")
            #expect(!FileManager.default.fileExists(atPath: topLevel))
            // describe shows them as kubectl does.
            let described = try lab.run(["describe", "pod", "talk"]).stdout
            #expect(described.contains("      /in from shared (ro)\n      /in/mem from mem (rw)\n"), "\(described)")
            #expect(described.contains("    Type:          HostPath (bare host directory volume)\n    Path:          \(host)\n"), "\(described)")

            try lab.run(["delete", "pod", "talk", "--grace-period=1"])
            try await lab.eventually("talk gone") { try lab.run(["get", "pods", "-o", "name"]).stdout.isEmpty }
            #expect(!FileManager.default.fileExists(atPath: podDirectory), "the emptyDir went with the pod")
            // The cluster DNS pod's namespace files stay: that pod runs on.
            let dnsPod = try JSONSerialization.jsonObject(with: Data(lab.run(["get", "pod", "podlab-dns", "-n", "kube-system", "-o", "json"]).stdout.utf8)) as? [String: Any]
            let dnsUID = try #require((dnsPod?["metadata"] as? [String: Any])?["uid"] as? String)
            let left = KernelTest.mountPoints(under: lab.stateRoot).filter { !$0.contains("/ns/\(dnsUID).") }
            #expect(left.isEmpty, "mounts left: \(left)")
            #expect(try String(contentsOfFile: host + "/note", encoding: .utf8) == "from-pod\n", "a hostPath outlives the pod")
        }
    }

    @Test("after kill -9 of the agent, exec still joins a container's own mount namespace and the pod's files")
    func adoption() async throws {
        try await TestLab.with { lab in
            try lab.apply("""
                apiVersion: v1
                kind: Pod
                metadata: {name: kept}
                spec:
                  volumes: [{name: data, emptyDir: {}}]
                  containers:
                  - name: app
                    image: busybox
                    command: [/bin/dash, -c, "echo before > /data/f; sleep 3600"]
                    volumeMounts: [{name: data, mountPath: /data}]
                """, as: "kept.yaml")
            try await lab.eventually("kept running") { (try lab.containerStatus("kept", "app"))["ready"] as? Bool == true }
            try await lab.eventually("the file written") { try lab.run(["exec", "kept", "--", "cat", "/data/f"], expectSuccess: false).stdout == "before\n" }
            _ = try await lab.killAgent()
            try lab.run(["up"])
            try await lab.eventually("kept adopted") { try lab.allRunning(count: 1) }
            #expect(try lab.run(["exec", "kept", "--", "cat", "/data/f"]).stdout == "before\n")
            #expect(try lab.run(["exec", "kept", "--", "cat", "/etc/hostname"]).stdout == "kept\n")
            #expect((try lab.containerStatus("kept", "app"))["restartCount"] as? Int == 0, "the container was adopted, not restarted")
        }
    }

    @Test("a hostPath that fails its type check keeps the pod waiting with the kubelet's message, until the path is there")
    func hostPathTypeCheck() async throws {
        let work = NSTemporaryDirectory() + "podlab-e2e-volume-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: work) }
        try await TestLab.with { lab in
            try lab.apply("""
                apiVersion: v1
                kind: Pod
                metadata: {name: strict}
                spec:
                  volumes: [{name: data, hostPath: {path: \(work), type: Directory}}]
                  containers:
                  - name: app
                    image: busybox
                    command: [sleep, "3600"]
                    volumeMounts: [{name: data, mountPath: /data}]
                """, as: "strict.yaml")
            let message = "MountVolume.SetUp failed for volume \"data\" : hostPath type check failed: \(work) does not exist"
            try await lab.eventually("the type check failed") {
                let waiting = ((try lab.containerStatus("strict", "app"))["state"] as? [String: Any])?["waiting"] as? [String: Any]
                return waiting?["reason"] as? String == "ContainerCreating" && waiting?["message"] as? String == message
            }
            #expect(((try lab.pod("strict"))["status"] as? [String: Any])?["phase"] as? String == "Pending")
            try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
            try await lab.eventually("running once the directory exists") { (try lab.containerStatus("strict", "app"))["ready"] as? Bool == true }
            #expect(try lab.run(["exec", "strict", "--", "/bin/dash", "-c", "echo hi > /data/f"]).succeeded)
            #expect(try String(contentsOfFile: work + "/f", encoding: .utf8) == "hi\n")
        }
    }
}
