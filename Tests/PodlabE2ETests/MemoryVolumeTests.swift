import Foundation
import KernelTestSupport
import Netns
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Secret volumes and service account tokens on a tmpfs, as the kubelet mounts them: nothing
/// of them reaches the disk. Seen from inside the containers (a built-in image and an OCI one,
/// by their `/proc/self/mountinfo`) and from the host; gone with the pod.
@Suite("Secrets and tokens in memory", .enabled(if: KernelTest.isRoot, KernelTest.rootRequired), .rootNamespaceUnchanged)
struct MemoryVolumeTests {
    /// The file system type of the mount at `point` in a mountinfo text, the topmost one.
    static func fileSystemType(_ mountinfo: String, at point: String) -> String? {
        mountinfo.split(separator: "\n").last { line in
            let fields = line.split(separator: " ")
            return fields.count > 4 && fields[4] == point
        }.flatMap { line in
            line.components(separatedBy: " - ").last?.split(separator: " ").first.map(String.init)
        }
    }

    /// The mount table of `pid` (the agent's: the host's), read to its end.
    static func mounts(of pid: Int32) -> String { KernelTest.readWholeFile("/proc/\(pid)/mountinfo") }

    @Test("a secret volume and a token projection are tmpfs mounts in a built-in and an OCI container and on the host; a configMap is not; delete unmounts them")
    func secretsInMemory() async throws {
        try await TestLab.with { lab in
            let image = try BusyboxWebImage(page: "-")
            try image.writeLayout("\(lab.stateRoot)/layout", name: "registry.test/web:1")
            try lab.run(["image", "load", "-i", "\(lab.stateRoot)/layout"])
            try lab.run(["create", "secret", "generic", "creds", "--from-literal=password=s3cret"])
            try lab.run(["create", "configmap", "settings", "--from-literal=level=info"])
            let mounts = """
                    volumeMounts:
                    - {name: creds, mountPath: /etc/creds}
                    - {name: token, mountPath: /etc/token}
                    - {name: settings, mountPath: /etc/settings}
                """
            try lab.apply("""
                apiVersion: v1
                kind: Pod
                metadata: {name: vault}
                spec:
                  volumes:
                  - {name: creds, secret: {secretName: creds}}
                  - {name: token, projected: {sources: [{serviceAccountToken: {path: token}}]}}
                  - {name: settings, configMap: {name: settings}}
                  containers:
                  - name: tools
                    image: busybox
                    command: [sleep, "3600"]
                \(mounts)
                  - name: web
                    image: registry.test/web:1
                \(mounts)
                """, as: "vault.yaml")
            try await lab.eventually("vault Running") { (try lab.pod("vault")["status"] as? [String: Any])?["phase"] as? String == "Running" }
            for (container, cat) in [("tools", ["cat"]), ("web", ["/bin/busybox", "cat"])] {
                #expect(try lab.run(["exec", "vault", "-c", container, "--"] + cat + ["/etc/creds/password"]).stdout == "s3cret")
                let mountinfo = try lab.run(["exec", "vault", "-c", container, "--"] + cat + ["/proc/self/mountinfo"]).stdout
                #expect(Self.fileSystemType(mountinfo, at: "/etc/creds") == "tmpfs", "\(container):\n\(mountinfo)")
                #expect(Self.fileSystemType(mountinfo, at: "/etc/token") == "tmpfs", "\(container):\n\(mountinfo)")
            }
            // On the host: the volumes' directories are tmpfs mounts of their own; a configMap's
            // is a directory of the pod's, on the disk.
            let uid = (try lab.pod("vault")["metadata"] as? [String: Any])?["uid"] as? String ?? ""
            let volumes = "\(lab.stateRoot)/\(lab.name)/pods/\(uid)/volumes"
            let agent = try #require(lab.agentPID)
            let host = Self.mounts(of: agent)
            #expect(Self.fileSystemType(host, at: "\(volumes)/kubernetes.io~secret/creds") == "tmpfs",
                    "host mounts under the pod: \(host.split(separator: "\n").filter { $0.contains(uid) })")
            #expect(Self.fileSystemType(host, at: "\(volumes)/kubernetes.io~projected/token") == "tmpfs")
            #expect(Self.fileSystemType(host, at: "\(volumes)/kubernetes.io~configmap/settings") == nil)

            try lab.run(["delete", "pod", "vault"])
            let after = Self.mounts(of: agent)
            #expect(!after.contains(volumes), "a volume of the deleted pod is still mounted")
        }
    }

}
