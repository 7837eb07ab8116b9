import Foundation
import KernelTestSupport
import Netns
import PodNet
import PodlabAgent
import Testing

/// A real image built here from Debian's busybox-static: `/bin/busybox`, `sh` and `httpd`
/// links to it, and a page `httpd` serves from `/www`. Nothing comes from the internet.
struct BusyboxWebImage {
    let layer: [UInt8]
    let config: [UInt8]

    /// `extra` files go under `/data` (a large layer's bulk).
    init(page: String, extra: [(name: String, bytes: [UInt8])] = []) throws {
        let busybox = Array(try Data(contentsOf: URL(fileURLWithPath: "/bin/busybox")))
        var tar = TarWriter()
        for directory in ["bin/", "www/", "etc/", "tmp/"] { tar.add(directory, type: "5", mode: directory == "tmp/" ? 0o1777 : 0o755) }
        if !extra.isEmpty { tar.add("data/", type: "5", mode: 0o755) }
        for file in extra { tar.add("data/\(file.name)", data: file.bytes) }
        tar.add("bin/busybox", data: busybox, mode: 0o755)
        tar.add("bin/sh", type: "2", linkName: "busybox")
        tar.add("bin/httpd", type: "2", linkName: "/bin/busybox")
        // What `kubectl cp` runs in the container.
        tar.add("bin/tar", type: "2", linkName: "busybox")
        tar.add("bin/test", type: "2", linkName: "busybox")
        tar.add("www/index.html", data: Array(page.utf8))
        tar.add("etc/passwd", data: Array("root:x:0:0:root:/root:/bin/sh\nwww:x:33:33::/www:/bin/false\n".utf8))
        tar.add("etc/group", data: Array("root:x:0:\nwww:x:33:\n".utf8))
        tar.end()
        layer = tar.bytes
        let json: JSONValue = [
            "architecture": "amd64", "os": "linux",
            "config": ["Entrypoint": ["/bin/httpd", "-f", "-v", "-h", "/www"], "Cmd": ["-p", "80"], "Env": ["PATH=/bin"], "WorkingDir": "/www"],
            "rootfs": ["type": "layers", "diff_ids": [.string(ImageDigest.of(layer).description)]],
        ]
        config = Array(json.jsonText(indent: 0).utf8)
    }

    var manifest: [UInt8] {
        let json: JSONValue = [
            "schemaVersion": 2, "mediaType": .string(MediaType.ociManifest),
            "config": ["mediaType": .string(MediaType.ociConfig), "digest": .string(ImageDigest.of(config).description), "size": .integer(Int64(config.count))],
            "layers": [["mediaType": .string(MediaType.ociLayer), "digest": .string(ImageDigest.of(layer).description), "size": .integer(Int64(layer.count))]],
        ]
        return Array(json.jsonText(indent: 0).utf8)
    }

    /// An OCI layout directory naming the image `name`.
    func writeLayout(_ directory: String, name: String) throws {
        let blobs = "\(directory)/blobs/sha256"
        try FileManager.default.createDirectory(atPath: blobs, withIntermediateDirectories: true)
        for blob in [layer, config, manifest] { try Data(blob).write(to: URL(fileURLWithPath: "\(blobs)/\(ImageDigest.of(blob).hex)")) }
        let index: JSONValue = ["schemaVersion": 2, "manifests": [[
            "mediaType": .string(MediaType.ociManifest), "digest": .string(ImageDigest.of(manifest).description), "size": .integer(Int64(manifest.count)),
            "annotations": [ImageDescriptor.imageNameAnnotation: .string(name)],
        ]]]
        try index.jsonText(indent: 0).write(toFile: "\(directory)/index.json", atomically: true, encoding: .utf8)
        try #"{"imageLayoutVersion": "1.0.0"}"#.write(toFile: "\(directory)/oci-layout", atomically: true, encoding: .utf8)
    }

    /// A `docker save` archive tagging the image `tag`.
    func writeDockerArchive(_ path: String, tag: String) throws {
        var tar = TarWriter()
        tar.add("\(ImageDigest.of(config).hex).json", data: config)
        tar.add("layer0/layer.tar", data: layer)
        let manifest: JSONValue = [["Config": .string("\(ImageDigest.of(config).hex).json"), "RepoTags": [.string(tag)], "Layers": ["layer0/layer.tar"]]]
        tar.add("manifest.json", data: Array(manifest.jsonText(indent: 0).utf8))
        tar.end()
        try Data(tar.bytes).write(to: URL(fileURLWithPath: path))
    }
}

@Suite("OCI images loaded and run by runc and crun", .enabled(if: KernelTest.isRoot, KernelTest.rootRequired), .rootNamespaceUnchanged)
struct OCIImageTests {
    @Test("runc: an image built from busybox-static, loaded as an OCI layout and a docker save archive, serves its page to another pod")
    func runcWebServer() async throws {
        try await webServer(runtime: "runc")
    }

    /// On a host whose cgroups crun refuses (v1 hierarchies beside a v2 one with controllers),
    /// crun runs with the cgroup v2 view (`OCIRuntimeKind.usesUnifiedCgroupView`).
    @Test("crun: the same")
    func crunWebServer() async throws {
        try await webServer(runtime: "crun")
    }

    func webServer(runtime: String) async throws {
        let executable = runtime == "runc" ? "/usr/sbin/runc" : "/usr/bin/crun"
        try #require(access(executable, X_OK) == 0, "\(executable) is missing: scripts/install-deps installs it")
        try await TestLab.with(environment: ["PODLAB_OCI_RUNTIME": runtime]) { lab in
            let image = try BusyboxWebImage(page: "<h1>served by \(runtime)</h1>\n")
            try image.writeLayout("\(lab.stateRoot)/layout", name: "registry.test/web:1")
            try image.writeDockerArchive("\(lab.stateRoot)/saved.tar", tag: "saved-web:2")
            #expect(try lab.run(["image", "load", "-i", "\(lab.stateRoot)/layout"]).stdout == "Loaded image: registry.test/web:1\n")
            #expect(try lab.run(["image", "load", "-i", "\(lab.stateRoot)/saved.tar"]).stdout == "Loaded image: docker.io/library/saved-web:2\n")
            let list = try lab.run(["image", "ls"]).stdout
            #expect(list.contains("registry.test/web") && list.contains("docker.io/library/saved-web"))

            try lab.run(["apply", "-f", "-"], input: """
                apiVersion: v1
                kind: Pod
                metadata: {name: web}
                spec: {containers: [{name: web, image: registry.test/web:1}]}
                ---
                apiVersion: v1
                kind: Pod
                metadata: {name: saved}
                spec: {containers: [{name: web, image: saved-web:2, args: ["-p", "8080"]}]}
                ---
                apiVersion: v1
                kind: Pod
                metadata: {name: client}
                spec: {containers: [{name: curl, image: curlimages/curl, command: [sleep, "3600"]}]}
                """)
            for pod in ["web", "saved", "client"] {
                try await lab.eventually("pod \(pod) Running") { (try lab.pod(pod)["status"] as? [String: Any])?["phase"] as? String == "Running" }
            }
            // Running once the runtime has started the container, as the kubelet reports it: the
            // runtime's pid file is written and names the container's live process.
            let uid = try #require((try lab.pod("web")["metadata"] as? [String: Any])?["uid"] as? String)
            let pidFiles = (FileManager.default.enumerator(atPath: lab.stateRoot)?.allObjects as? [String] ?? [])
                .filter { $0.contains(uid) && $0.hasSuffix("/oci/web-0/container.pid") }
            let pidFile = try #require(pidFiles.first, "no pid file of web's container under \(lab.stateRoot)")
            let containerPID = Int32((try String(contentsOfFile: lab.stateRoot + "/" + pidFile, encoding: .utf8)).trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
            #expect(containerPID > 0 && kill(containerPID, 0) == 0, "pid file \(pidFile): \(containerPID)")
            let page = "<h1>served by \(runtime)</h1>\n"
            let web = try lab.podIP("web"), saved = try lab.podIP("saved")
            try await lab.eventually("the page from web") { try lab.run(["exec", "client", "--", "curl", "-s", "http://\(web)/"], expectSuccess: false).stdout == page }
            try await lab.eventually("the page from saved") {
                try lab.run(["exec", "client", "--", "curl", "-s", "http://\(saved):8080/"], expectSuccess: false).stdout == page
            }
            let status = try lab.containerStatus("web", "web")
            #expect((status["containerID"] as? String)?.hasPrefix("\(runtime)://") == true)
            let manifestDigest = ImageDigest.of(image.manifest)
            #expect(status["imageID"] as? String == "registry.test/web@\(manifestDigest)")
            let describe = try lab.run(["describe", "pod", "web"]).stdout
            #expect(describe.contains("\(runtime)://"))

            // The server's log (the container's stderr) names the client pod's address: no NAT between pods.
            let client = try lab.podIP("client")
            // exec goes through the runtime: the container's root, the pod's hostname, a pid
            // namespace of its own whose first process is the image's server.
            #expect(try lab.run(["exec", "web", "--", "/bin/busybox", "cat", "/www/index.html"]).stdout == page)
            #expect(try lab.run(["exec", "web", "--", "/bin/busybox", "hostname"]).stdout == "web\n")
            #expect(try lab.run(["exec", "web", "--", "/bin/busybox", "cat", "/proc/1/cmdline"]).stdout.hasPrefix("/bin/httpd\0"))
            let failing = try lab.run(["exec", "web", "--", "/bin/sh", "-c", "exit 3"], expectSuccess: false)
            #expect(failing.status == .exited(3))
            let log = try lab.run(["logs", "web"]).stdout
            #expect(log.contains(":\(client)]:") && log.contains(": response:200"), "the log of web: \(log)")
            try lab.run(["delete", "pod", "web", "saved"])
            // The containers' overlay roots are unmounted with their pods.
            #expect(KernelTest.mountPoints(under: lab.stateRoot).filter { $0.contains("/oci/") } == [])
        }
    }

    @Test("an emptyDir shared by two containers of an OCI image: one writes, the other reads and serves")
    func sharedEmptyDir() async throws {
        try await TestLab.with { lab in
            let image = try BusyboxWebImage(page: "-")
            try image.writeLayout("\(lab.stateRoot)/layout", name: "registry.test/web:1")
            try lab.run(["image", "load", "-i", "\(lab.stateRoot)/layout"])
            try lab.run(["apply", "-f", "-"], input: """
                apiVersion: v1
                kind: Pod
                metadata: {name: pair}
                spec:
                  volumes: [{name: shared, emptyDir: {}}]
                  containers:
                  - name: writer
                    image: registry.test/web:1
                    command: ["/bin/sh", "-c", "echo written by writer > /shared/index.html; exec /bin/busybox sleep 3600"]
                    volumeMounts: [{name: shared, mountPath: /shared}]
                  - name: server
                    image: registry.test/web:1
                    command: ["/bin/httpd", "-f", "-p", "8080", "-h", "/srv"]
                    volumeMounts: [{name: shared, mountPath: /srv, readOnly: true}]
                """)
            try await lab.eventually("pair Running") { (try lab.pod("pair")["status"] as? [String: Any])?["phase"] as? String == "Running" }
            try await lab.eventually("the server reads the writer's file") {
                try lab.run(["exec", "pair", "-c", "server", "--", "/bin/busybox", "cat", "/srv/index.html"], expectSuccess: false).stdout == "written by writer\n"
            }
            let refused = try lab.run(["exec", "pair", "-c", "server", "--", "/bin/sh", "-c", "echo x > /srv/other"], expectSuccess: false)
            #expect(refused.status != .exited(0), "a readOnly mount was written to")
            let ip = try lab.podIP("pair")
            try await lab.eventually("the page over the pod's network") {
                try lab.run(["exec", "pair", "-c", "writer", "--", "/bin/busybox", "wget", "-q", "-O", "-", "http://\(ip):8080/"], expectSuccess: false)
                    .stdout == "written by writer\n"
            }
        }
    }

    @Test("runc: terminals in containers of an image: run -it (attach), exec -it from podlab and from every kubectl")
    func runcTerminal() async throws {
        try await TestLab.with { lab in
            let image = try BusyboxWebImage(page: "-")
            try image.writeLayout("\(lab.stateRoot)/layout", name: "registry.test/web:1")
            try lab.run(["image", "load", "-i", "\(lab.stateRoot)/layout"])

            // `script` gives each client a terminal; what it reads from its stdin is typed there.
            // Typed as `"$A"2`: only the shell's answer reads 42 (the typed line never shows /dev/pts
            // either). Line ends are not compared: where the terminals' echo and raw modes meet
            // them depends on timing.
            let run = "\(lab.podlab) run t --image registry.test/web:1 -it --rm --restart=Never --command -- /bin/sh"
            let session = try Command.run("script", ["-qec", run, "/dev/null"], environment: lab.environment,
                                          input: "A=4; echo \"$A\"2 \"$TERM\"; /bin/busybox tty\nexit\n")
            #expect(session.status == .exited(0), "\(session.stdout)\(session.stderr)")
            #expect(session.stdout.contains("42 xterm"), "\(session.stdout)")
            // The container's own console, in its own devpts.
            #expect(session.stdout.contains("/dev/pts/0"), "\(session.stdout)")
            #expect(session.stdout.contains("pod \"t\" deleted"), "\(session.stdout)")

            try lab.run(["run", "web", "--image", "registry.test/web:1", "--restart=Never"])
            try await lab.eventually("web Running") { (try lab.pod("web")["status"] as? [String: Any])?["phase"] as? String == "Running" }
            let exec = try Command.run("script", ["-qec", "\(lab.podlab) exec -it web -- /bin/sh", "/dev/null"], environment: lab.environment,
                                       input: "B=5; echo \"$B\"3; /bin/busybox tty; exit 4\n")
            #expect(exec.status == .exited(4), "the shell's exit code comes back: \(exec.stdout)\(exec.stderr)")
            // A line of its own, however the terminals on the way end it (CR, LF, or both: one
            // Character, which a split on "\n" would not split).
            #expect(exec.stdout.components(separatedBy: .newlines).contains { $0.trimmingCharacters(in: .whitespaces) == "53" }, "\(exec.stdout)")
            #expect(exec.stdout.contains("/dev/pts/"), "\(exec.stdout)")

            for binary in KubectlBinary.found {
                let kubectl = try KubectlTests.kubectl(binary, for: lab)
                defer { try? FileManager.default.removeItem(atPath: kubectl.cacheDirectory) }
                // --foreground: kubectl stays in the terminal's foreground process group, or its raw mode stops it (SIGTTOU).
                let command = "/usr/bin/timeout --foreground 120 \(binary.path) --cache-dir \(kubectl.cacheDirectory) exec -it web -- /bin/sh"
                let result = try Command.run("script", ["-qec", command, "/dev/null"],
                                             environment: ["PATH": Spawner.defaultPath, "KUBECONFIG": kubectl.kubeconfig, "HOME": kubectl.cacheDirectory],
                                             input: "C=6; echo \"$C\"4 \"$TERM\"; /bin/busybox tty; exit 5\n")
                #expect(result.status == .exited(5), "\(binary): \(result.stdout)\(result.stderr)")
                #expect(result.stdout.contains("64 xterm"), "\(binary): \(result.stdout)")
                #expect(result.stdout.contains("/dev/pts/"), "\(binary): \(result.stdout)")
            }
        }
    }

    @Test("cp into and out of a container of an image, with the image's own tar: podlab cp (and --no-preserve) and every kubectl")
    func copyFiles() async throws {
        try await TestLab.with { lab in
            let page = "<p>served</p>\n"
            let image = try BusyboxWebImage(page: page)
            try image.writeLayout("\(lab.stateRoot)/layout", name: "registry.test/web:1")
            try lab.run(["image", "load", "-i", "\(lab.stateRoot)/layout"])
            try lab.run(["run", "web", "--image", "registry.test/web:1", "--restart=Never"])
            try await lab.eventually("web Running") { (try lab.pod("web")["status"] as? [String: Any])?["phase"] as? String == "Running" }

            let local = "\(lab.stateRoot)/local.sh"
            let content = (0..<500).map { "line \($0) copied into a container of an image\n" }.joined()
            try content.write(toFile: local, atomically: true, encoding: .utf8)
            #expect(chmod(local, 0o777) == 0)
            func inContainer(_ arguments: String...) throws -> String { try lab.run(["exec", "web", "--"] + arguments).stdout }

            try lab.run(["cp", local, "web:/tmp/kept.sh"])
            #expect(try inContainer("/bin/busybox", "cat", "/tmp/kept.sh") == content)
            #expect(try inContainer("/bin/busybox", "stat", "-c", "%a", "/tmp/kept.sh") == "777\n", "the mode is kept")
            try lab.run(["cp", "--no-preserve", local, "web:/tmp/umasked.sh"])
            #expect(try inContainer("/bin/busybox", "stat", "-c", "%a", "/tmp/umasked.sh") == "755\n", "--no-preserve: the container's umask")
            // Into a directory: under its own name.
            try lab.run(["cp", local, "web:/tmp"])
            #expect(try inContainer("/bin/busybox", "cat", "/tmp/local.sh") == content)
            try lab.run(["cp", "web:/www/index.html", "\(lab.stateRoot)/page.html"])
            #expect(try String(contentsOfFile: "\(lab.stateRoot)/page.html", encoding: .utf8) == page)

            for binary in KubectlBinary.found {
                let kubectl = try KubectlTests.kubectl(binary, for: lab)
                defer { try? FileManager.default.removeItem(atPath: kubectl.cacheDirectory) }
                try kubectl.run(["cp", local, "web:/tmp/kubectl.sh"])
                #expect(try inContainer("/bin/busybox", "cat", "/tmp/kubectl.sh") == content, "\(binary)")
                try kubectl.run(["cp", "web:/tmp/kubectl.sh", "\(kubectl.cacheDirectory)/back.sh"])
                #expect(try String(contentsOfFile: "\(kubectl.cacheDirectory)/back.sh", encoding: .utf8) == content, "\(binary)")
            }
        }
    }

    @Test("an image the store does not hold waits in ErrImagePull with the reason")
    func missingImage() async throws {
        try await TestLab.with { lab in
            try lab.run(["run", "ghost", "--image", "registry.test/ghost:1", "--restart=Never"])
            try await lab.eventually("ErrImagePull") {
                ((try lab.containerStatus("ghost", "ghost")["state"] as? [String: Any])?["waiting"] as? [String: Any])?["reason"] as? String == "ErrImagePull"
            }
            let waiting = (try lab.containerStatus("ghost", "ghost")["state"] as? [String: Any])?["waiting"] as? [String: Any]
            #expect(waiting?["message"] as? String
                == "Failed to pull image \"registry.test/ghost:1\": pulls from registries other than the loopback are off (PODLAB_REGISTRIES=loopback): registry.test")
        }
    }
}
