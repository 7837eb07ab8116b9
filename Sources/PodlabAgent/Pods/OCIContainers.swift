import CNetlink
import Foundation
import Netns
import PodNet

/// The OCI runtime that runs containers of OCI images (`podlab agent --oci-runtime`).
public enum OCIRuntimeKind: String, Sendable, CaseIterable {
    case runc
    case crun

    /// The runtime's global options before its command. crun manages no cgroup of its own
    /// (`disabled`): the container stays in the cgroups the agent starts crun in (the
    /// container's, when it has limits; see `usesUnifiedCgroupView`). runc makes its own
    /// cgroup, or joins the container's (`cgroupsPath`).
    var globalOptions: [String] {
        switch self {
        case .runc: []
        case .crun: ["--cgroup-manager=disabled"]
        }
    }

    /// `run`'s options. runc deletes its container when `run` returns, and with it the cgroup
    /// it joined — the container's, whose OOM count says whether the kernel killed it — so its
    /// container is kept (`--keep`) until the agent has read that and deleted it
    /// (`OCIContainers.remove`). crun leaves the agent's cgroup alone (it manages none).
    var runOptions: [String] {
        switch self {
        case .runc: ["--keep"]
        case .crun: []
        }
    }

    /// Whether this runtime runs with the cgroup v2 view (`SpawnRequest.unifiedCgroupView`):
    /// crun (1.8, Debian 12) refuses every container on a host with cgroup v1 hierarchies when
    /// the v2 hierarchy beside them (`/sys/fs/cgroup/unified`) has controllers ("cgroups in
    /// hybrid mode not supported"), whatever its cgroup manager. On such a host crun's every
    /// command runs in a mount namespace of its own where `/sys/fs/cgroup` is the v2 hierarchy;
    /// it manages no cgroup there (`disabled`), and the container stays in the cgroups the
    /// agent starts crun in, the v1 ones included (the container's, when it has limits). runc
    /// runs on the host's hierarchies as they are.
    public func usesUnifiedCgroupView() -> Bool {
        self == .crun && Self.hybridWithControllers
    }

    /// This host's answer, read once.
    static let hybridWithControllers = isHybridWithControllers("/sys/fs/cgroup")

    /// cgroup v1 hierarchies at `cgroupRoot`, beside a v2 one (`unified`) that has controllers.
    static func isHybridWithControllers(_ cgroupRoot: String) -> Bool {
        var type = 0
        guard pl_statfs_type(cgroupRoot, &type) == 0, type != ContainerCgroups.cgroup2Magic,
              let controllers = MountTable.readFile("\(cgroupRoot)/unified/cgroup.controllers")?
                  .split(whereSeparator: \.isWhitespace), !controllers.isEmpty else { return false }
        return true
    }

    /// Debian's paths.
    public var executable: String {
        switch self {
        case .runc: "/usr/sbin/runc"
        case .crun: "/usr/bin/crun"
        }
    }
}

/// Containers of OCI images: the image's layers under an overlayfs root per run, a bundle
/// whose `config.json` (`RuntimeSpec`) joins the pod's namespaces, and the runtime's `run` in
/// the foreground as the container's process. `run` stays the parent of the container's init,
/// passes it its stdio (the container's log) and exits with its exit status, so the agent
/// supervises, logs and restarts it as any container process; a signal to `run` is forwarded
/// to the container.
///
/// ```
/// <pod dir>/oci/<container>-<restart>/config.json
///                                     rootfs/   overlay: lowerdir = the image's layers, top first
///                                     upper/ work/
/// <state>/<lab>/oci-runtime/           the runtime's own state (`--root`)
/// ```
public enum OCIContainers {
    static func containerID(podUID: String, container: String, restart: Int32) -> String {
        "\(podUID.prefix(8))-\(container)-\(restart)"
    }

    static func bundleDirectory(_ podDirectory: String, container: String, restart: Int32) -> String {
        "\(podDirectory)/oci/\(container)-\(restart)"
    }

    public static func runtimeRoot(_ paths: LabPaths) -> String { "\(paths.directory)/oci-runtime" }

    /// Where the runtime writes the container's pid once it has started it (`--pid-file`):
    /// the container counts as running from then on, as the kubelet's does once the runtime's
    /// start returned.
    static func pidFile(bundle: String) -> String { "\(bundle)/container.pid" }

    /// Mounts the root, writes the bundle and returns how to start the runtime.
    static func launch(image: ImageStore.Image, store: ImageStore, runtime: OCIRuntimeKind, paths: LabPaths, pod: Pod, container: Container,
                       environment: ContainerEnvironment, sandbox: PodSandboxPaths, restart: Int32, logPath: String,
                       cgroupsPath: String?, pidNamespace: String? = nil) throws -> ContainerLaunch {
        let id = containerID(podUID: pod.metadata.uid, container: container.name, restart: restart)
        let bundle = bundleDirectory(sandbox.directory, container: container.name, restart: restart)
        // A run of the same number left by a killed agent: its runtime state and mount go first.
        remove(bundle: bundle, id: id, runtime: runtime, paths: paths)
        let rootfs = "\(bundle)/rootfs"
        for directory in [rootfs, "\(bundle)/upper", "\(bundle)/work", runtimeRoot(paths)] {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        }
        // overlayfs lists the lower directories top first; the image's layers are bottom first.
        let lower = image.config.diffIDs.reversed().map { store.layerPath($0) }.joined(separator: ":")
        let options = "lowerdir=\(lower),upperdir=\(bundle)/upper,workdir=\(bundle)/work"
        guard mount("overlay", rootfs, "overlay", 0, options) == 0 else {
            throw OCIImageError("mount overlay on \(rootfs): \(Errno.current)")
        }
        let volumeSources = Dictionary(pod.spec.volumes.map { volume in
            (volume.name, PodVolumes.hostDirectory(sandbox.directory, volume: volume))
        }, uniquingKeysWith: { first, _ in first })
        let spec = try RuntimeSpec(
            pod: pod, container: container, environment: environment, image: image.config,
            passwd: readImageFile(rootfs, "etc/passwd"), group: readImageFile(rootfs, "etc/group"),
            rootfs: rootfs,
            namespaces: RuntimeSpec.PodNamespaces(network: "\(NetworkNamespace.runDirectory)/\(sandbox.netns)", uts: sandbox.uts, ipc: sandbox.ipc,
                                                  pid: pidNamespace),
            files: RuntimeSpec.PodFiles(hosts: PodVolumes.hostsFile(sandbox.directory), hostname: PodVolumes.hostnameFile(sandbox.directory),
                                        resolvConf: PodVolumes.resolvConfFile(sandbox.directory)),
            volumeSources: volumeSources,
            readOnlyVolumes: Set(pod.spec.volumes.filter(\.isProjected).map(\.name)),
            // nil: runc's own cgroup (`/<id>`), which its `delete` removes.
            cgroupsPath: runtime == .runc ? cgroupsPath : nil)
        try (spec.json.jsonText(indent: 2) + "\n").write(toFile: "\(bundle)/config.json", atomically: true, encoding: .utf8)
        return ContainerLaunch(executable: runtime.executable,
                               argv: [runtime.rawValue] + runtime.globalOptions + ["--root", runtimeRoot(paths), "run"] + runtime.runOptions + ["--pid-file", pidFile(bundle: bundle), "--bundle", bundle, id],
                               environment: ["PATH": Spawner.defaultPath], workingDirectory: bundle, logPath: logPath,
                               sandbox: sandbox, mounts: nil, joinsPodNamespaces: false,
                               unifiedCgroupView: runtime.usesUnifiedCgroupView())
    }

    /// `runtime exec ID COMMAND…`: the command in the container's namespaces, root and cgroup,
    /// with the environment, working directory and user of the container's own process (the
    /// runtime takes them from the container's spec). The runtime stays the command's parent,
    /// passes it its stdio and exits with its status, as `run` does; the agent's spawn adds
    /// nothing of the pod's (the runtime joins everything itself).
    ///
    /// With `terminal`, the command gets a terminal of its own in the container (`exec --tty`,
    /// `TERM` set as given): the runtime, in the foreground, makes its own stdin's terminal raw
    /// and copies between it and the container's, and passes a resize (its SIGWINCH) on.
    public static func execRequest(runtime: OCIRuntimeKind, runtimeRoot: String, id: String, command: [String],
                                   terminal: String? = nil) -> SpawnRequest {
        let tty = terminal.map { ["--tty", "--env", "TERM=\($0)"] } ?? []
        var request = SpawnRequest(executable: runtime.executable, arguments: runtime.globalOptions + ["--root", runtimeRoot, "exec"] + tty + [id] + command,
                                   argv0: runtime.rawValue, environment: ["PATH": Spawner.defaultPath], newSession: true)
        request.unifiedCgroupView = runtime.usesUnifiedCgroupView()
        return request
    }

    /// A small file of the image (`/etc/passwd`), read without following a symbolic link
    /// anywhere on its path: the image's links point into the image, not the host.
    static func readImageFile(_ rootfs: String, _ relative: String) -> String {
        var path = rootfs
        for component in relative.split(separator: "/") {
            path += "/\(component)"
            var status = stat()
            guard lstat(path, &status) == 0, status.st_mode & S_IFMT != S_IFLNK else { return "" }
        }
        guard let data = FileManager.default.contents(atPath: path), data.count < 1 << 20 else { return "" }
        return String(decoding: data, as: UTF8.self)
    }

    /// Deletes the runtime's container (killing what is left of it) and the bundle, unmounting
    /// its root first. For a run that ended, a killed agent's leftovers, and pod deletion.
    static func remove(bundle: String, id: String, runtime: OCIRuntimeKind, paths: LabPaths) {
        if access("\(runtimeRoot(paths))/\(id)", F_OK) == 0, access(runtime.executable, X_OK) == 0,
           let child = try? Spawner.spawn(deleteRequest(runtime: runtime, runtimeRoot: runtimeRoot(paths), id: id)) {
            _ = try? child.wait()
        }
        umount2("\(bundle)/rootfs", Int32(MNT_DETACH))
        try? FileManager.default.removeItem(atPath: bundle)
    }

    /// `runtime delete --force ID`.
    static func deleteRequest(runtime: OCIRuntimeKind, runtimeRoot: String, id: String) -> SpawnRequest {
        var request = SpawnRequest(executable: runtime.executable, arguments: runtime.globalOptions + ["--root", runtimeRoot, "delete", "--force", id],
                                   environment: ["PATH": Spawner.defaultPath], stdin: .null, stdout: .null, stderr: .null, newSession: false)
        request.unifiedCgroupView = runtime.usesUnifiedCgroupView()
        return request
    }

    /// Every bundle of a pod (before its directory is removed).
    static func removeAll(podDirectory: String, paths: LabPaths) {
        let directory = "\(podDirectory)/oci"
        for name in (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [] {
            // The bundle's name is `<container>-<restart>`; the runtime's id adds the pod's uid.
            let uid = (podDirectory as NSString).lastPathComponent
            let id = "\(uid.prefix(8))-\(name)"
            for runtime in OCIRuntimeKind.allCases { remove(bundle: "\(directory)/\(name)", id: id, runtime: runtime, paths: paths) }
        }
    }
}

extension OCIContainers {
    /// The runtime a container ID (`runc://…`, `crun://…`) names; nil for another container's.
    public static func runtime(ofContainerID containerID: String) -> OCIRuntimeKind? {
        OCIRuntimeKind.allCases.first { containerID.hasPrefix("\($0.rawValue)://") }
    }

    /// The runtime and the runtime's own container id of a container ID (`runc://ID`); nil for
    /// another container's.
    public static func runtimeContainer(ofContainerID containerID: String) -> (runtime: OCIRuntimeKind, id: String)? {
        runtime(ofContainerID: containerID).map { ($0, String(containerID.dropFirst($0.rawValue.count + "://".count))) }
    }

    /// The Image ID of a container of `image`: `<repository>@<manifest digest>`, as containerd
    /// reports an image it has a repository digest for; the repository the pod named when the
    /// image has several names.
    static func imageID(_ image: ImageStore.Image, reference podReference: String) -> String {
        let named = (try? ImageStore.storedName(podReference)).flatMap { image.names.contains($0) ? $0 : nil }
        guard let name = named ?? image.names.first(where: { !$0.hasPrefix("sha256:") }), let reference = try? ImageReference(parsing: name) else {
            return image.manifestDigest.description
        }
        return "\(reference.name)@\(image.manifestDigest)"
    }
}
