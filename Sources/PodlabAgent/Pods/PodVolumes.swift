import Foundation
import Netns
import PodNet
#if canImport(Glibc)
import Glibc
#endif

/// A volume the kubelet could not set up, in its words:
/// `MountVolume.SetUp failed for volume "data" : hostPath type check failed: /srv is not a directory`.
struct VolumeSetUpError: Error, CustomStringConvertible {
    var volume: String
    var reason: String
    var description: String { "MountVolume.SetUp failed for volume \"\(volume)\" : \(reason)" }
}

/// What the kubelet prepares for a pod on the node before its sandbox: the pod's directory
/// with its `/etc/hosts` and `/etc/hostname`, its `emptyDir` volumes, its `hostPath` volumes
/// checked (and made, for the `…OrCreate` types), the files of its `configMap`, `secret`,
/// `downwardAPI` and `projected` volumes; and how each container's mounts are made.
enum PodVolumes {
    static func hostsFile(_ directory: String) -> String { "\(directory)/etc-hosts" }
    static func hostnameFile(_ directory: String) -> String { "\(directory)/etc-hostname" }
    static func resolvConfFile(_ directory: String) -> String { "\(directory)/etc-resolv.conf" }
    /// Where the kubelet keeps them too: `volumes/kubernetes.io~empty-dir/<name>`.
    static func emptyDir(_ directory: String, volume: String) -> String { "\(directory)/volumes/kubernetes.io~empty-dir/\(volume)" }
    /// The directory of a volume whose files the kubelet writes (`configMap`, `secret`,
    /// `downwardAPI`, `projected`), under the plugin's name as the kubelet lays them out.
    static func projectedDirectory(_ directory: String, volume: Volume) -> String? {
        let plugin: String
        if volume.configMap != nil { plugin = "configmap" }
        else if volume.secret != nil { plugin = "secret" }
        else if volume.downwardAPI != nil { plugin = "downward-api" }
        else if volume.projected != nil { plugin = "projected" }
        else { return nil }
        return "\(directory)/volumes/kubernetes.io~\(plugin)/\(volume.name)"
    }

    /// Where a volume's files are on the host: the `hostPath`, or the pod's directory for it.
    static func hostDirectory(_ directory: String, volume: Volume) -> String {
        volume.hostPath?.path ?? projectedDirectory(directory, volume: volume) ?? emptyDir(directory, volume: volume.name)
    }

    /// Writes the files of the pod's projected volumes that `selected` picks (all of them at
    /// set-up); unchanged files are left as they are. Secrets' volumes sit in a directory only
    /// root may enter (`kubernetes.io~secret`, 0700): the node's other users cannot read them,
    /// the containers see each volume through their mount.
    static func writeProjected(_ pod: Pod, directory: String, objects: ConfigObjects, tokens: ServiceAccountTokenIssuer?,
                               selected: (Volume) -> Bool = { _ in true }) throws {
        // The pod's directory is made by `setUp` alone: a rewrite never makes it again once the
        // pod's removal took it.
        guard access(directory, F_OK) == 0 else { return }
        for volume in pod.spec.volumes where volume.isProjected && selected(volume) {
            guard let target = projectedDirectory(directory, volume: volume) else { continue }
            do {
                let payload = try VolumeFiles.payload(for: volume, pod: pod, objects: objects, nodeAllocatable: NodeCapacity.host,
                                                      tokens: tokens) ?? [:]
                let parent = (target as NSString).deletingLastPathComponent
                try FileManager.default.createDirectory(atPath: parent, withIntermediateDirectories: true,
                                                        attributes: [.posixPermissions: volume.secret != nil ? 0o700 : 0o755])
                if VolumeFiles.isMemoryBacked(volume) { try mountMemory(at: target) }
                try AtomicVolumeWriter.write(payload, to: target)
            } catch let error as VolumeSourceError {
                throw VolumeSetUpError(volume: volume.name, reason: error.description)
            } catch {
                throw VolumeSetUpError(volume: volume.name, reason: "\(error)")
            }
        }
    }

    /// Mounts a tmpfs on a volume's directory, in the host's mount namespace as the kubelet
    /// does, unless one is there already (the volume written before, by this agent or an earlier
    /// one): nothing of a Secret or a token reaches the disk. It stays until the pod's volumes
    /// are torn down (`tearDownMemory`).
    static func mountMemory(at directory: String) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
        guard let mounted = isMountPoint(directory) else { throw KernelError(operation: "stat", object: directory, errno: .current) }
        if mounted { return }
        guard mount("tmpfs", directory, "tmpfs", UInt(MS_NOSUID | MS_NODEV), "mode=0755") == 0 else {
            throw KernelError(operation: "mount(tmpfs)", object: directory, errno: .current)
        }
    }

    /// Whether `directory` is a mount point (on another device than its parent); nil when it
    /// cannot be read.
    static func isMountPoint(_ directory: String) -> Bool? {
        var own = stat(), parent = stat()
        guard stat(directory, &own) == 0, stat(directory + "/..", &parent) == 0 else { return nil }
        return own.st_dev != parent.st_dev
    }

    /// Unmounts the tmpfs of the pod's memory-backed volumes, their files going with them: each
    /// mount on a volume's directory (`volumes/<plugin>/<name>`), on a plugin's or on `volumes`
    /// itself, deepest first, as many as are stacked there. A detached mount takes whatever is
    /// mounted below it along. Found by looking at those directories, not by reading the mount
    /// table, whose length grows with the lab (every pod's namespaces are mounted).
    static func tearDownMemory(_ directory: String) {
        let volumes = "\(directory)/volumes"
        guard let plugins = try? FileManager.default.contentsOfDirectory(atPath: volumes) else { return }
        func detach(_ point: String) {
            var stacked = 0
            while isMountPoint(point) == true, stacked < 64, umount2(point, Int32(MNT_DETACH)) == 0 { stacked += 1 }
        }
        for plugin in plugins {
            let pluginDirectory = "\(volumes)/\(plugin)"
            for name in (try? FileManager.default.contentsOfDirectory(atPath: pluginDirectory)) ?? [] {
                detach("\(pluginDirectory)/\(name)")
            }
            detach(pluginDirectory)
        }
        detach(volumes)
    }

    /// An empty directory to build a container's root on (see `MountNamespace.ContainerSetup`).
    static func scratchDirectory(_ directory: String, container: String) -> String { "\(directory)/containers/\(container)/root" }

    /// Writes the pod's files and prepares its volumes; on failure the pod cannot start yet
    /// (the kubelet retries; so does the agent). `node` is the pod's node, whose hosts file a
    /// pod with `hostNetwork` gets; `clusterDNS` the cluster DNS's address its `/etc/resolv.conf`
    /// names (see `PodDNS`).
    static func setUp(_ pod: Pod, sandbox: PodSandboxPaths, node: NodePlan?, clusterDNS: String?, objects: ConfigObjects,
                      tokens: ServiceAccountTokenIssuer?) throws {
        let directory = sandbox.directory
        let names = PodHostname(pod: pod)
        if mkdir(directory, 0o755) != 0 && Errno.current != .fileExists {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        }
        try write(hostsFileContent(pod, names: names, node: node), to: hostsFile(directory))
        try write(names.hostnameFile, to: hostnameFile(directory))
        try write(PodDNS.settings(for: pod, clusterDNS: clusterDNS).resolvConf, to: resolvConfFile(directory))
        for volume in pod.spec.volumes {
            if volume.emptyDir != nil {
                let path = emptyDir(directory, volume: volume.name)
                do {
                    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
                    // As the kubelet makes it: anyone in the pod may write.
                    try FileManager.default.setAttributes([.posixPermissions: 0o777], ofItemAtPath: path)
                } catch {
                    throw VolumeSetUpError(volume: volume.name, reason: "\(error)")
                }
            } else if let hostPath = volume.hostPath {
                do { try checkHostPath(hostPath) } catch let reason as HostPathCheckFailure {
                    throw VolumeSetUpError(volume: volume.name, reason: reason.message)
                }
            }
        }
        try writeProjected(pod, directory: directory, objects: objects, tokens: tokens)
        for container in pod.spec.allContainers where !container.volumeMounts.isEmpty {
            try FileManager.default.createDirectory(atPath: scratchDirectory(directory, container: container.name),
                                                    withIntermediateDirectories: true)
        }
    }

    /// The pod's `/etc/hosts` as the kubelet writes it (`ensureHostsFile`): the managed file with
    /// the pod's IPs, or with `hostNetwork` the node's hosts file under its own header; the
    /// `hostAliases` at the end of either.
    static func hostsFileContent(_ pod: Pod, names: PodHostname, node: NodePlan?) -> String {
        guard pod.spec.hostNetwork else { return names.hostsFile(podIPs: pod.status.podIPs.map(\.ip), hostAliases: pod.spec.hostAliases) }
        let nodeIP = node?.underlayAddress.address.description ?? pod.status.hostIP
        return PodHostname.hostNetworkHostsFile(nodeHosts: PodHostname.nodeHostsFile(nodeName: pod.spec.nodeName, nodeIP: nodeIP),
                                                hostAliases: pod.spec.hostAliases)
    }

    /// Small files written the way the kubelet writes them: whole, mode 0644.
    static func write(_ text: String, to path: String) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw KernelError(operation: "open", object: path, errno: .current) }
        defer { close(fd) }
        let bytes = Array(text.utf8)
        let written = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        guard written == bytes.count else { throw KernelError(operation: "write", object: path, errno: .current) }
    }

    struct HostPathCheckFailure: Error {
        var message: String
    }

    /// The kubelet's `checkTypeInternal`, with its messages. An unset type checks nothing; a
    /// missing path is then made a directory when the container starts, as containerd does.
    static func checkHostPath(_ source: HostPathVolumeSource) throws {
        let path = source.path
        var info = stat()
        let exists = stat(path, &info) == 0
        let kind = info.st_mode & S_IFMT
        func fail(_ what: String) -> HostPathCheckFailure { HostPathCheckFailure(message: "hostPath type check failed: \(path) \(what)") }
        switch source.type ?? .unset {
        case .unset:
            if !exists { try makeDirectory(path) }
        case .directoryOrCreate where !exists:
            try makeDirectory(path)
        case .directoryOrCreate, .directory:
            guard exists else { throw fail("does not exist") }
            guard kind == S_IFDIR else { throw fail("is not a directory") }
        case .fileOrCreate where !exists:
            let fd = open(path, O_RDONLY | O_CREAT | O_CLOEXEC, 0o644)
            guard fd >= 0 else { throw HostPathCheckFailure(message: "open \(path): \(Errno.current)") }
            close(fd)
        case .fileOrCreate, .file:
            guard exists else { throw fail("does not exist") }
            guard kind == S_IFREG else { throw fail("is not a file") }
        case .socket:
            guard exists, kind == S_IFSOCK else { throw fail("is not a socket file") }
        case .charDevice:
            guard exists, kind == S_IFCHR else { throw fail("is not a character device") }
        case .blockDevice:
            guard exists, kind == S_IFBLK else { throw fail("is not a block device") }
        default:
            throw HostPathCheckFailure(message: "\(source.type?.rawValue ?? "") is an invalid volume type")
        }
    }

    /// `os.MkdirAll(path, 0755)`.
    static func makeDirectory(_ path: String) throws {
        do {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
        } catch {
            throw HostPathCheckFailure(message: "mkdir \(path): \((error as NSError).localizedDescription)")
        }
    }

    /// What the pod's mount namespace holds: the kubelet's files over the host's, and a tmpfs
    /// for each memory-backed `emptyDir` (its `sizeLimit`, else the node's memory, as the
    /// kubelet sizes it for a pod without limits).
    static func podMountSetup(_ pod: Pod, sandbox: PodSandboxPaths) -> MountNamespace.PodSetup {
        let directory = sandbox.directory
        let memory = NodeCapacity.host["memory"].map { Int64(clamping: $0.value) }
        let tmpfs = pod.spec.volumes.compactMap { volume -> MountNamespace.Tmpfs? in
            guard let source = volume.emptyDir, source.medium == EmptyDirVolumeSource.memory else { return nil }
            let limit = source.sizeLimit.flatMap { $0 > .zero ? Int64(clamping: $0.value) : nil }
            return MountNamespace.Tmpfs(directory: emptyDir(directory, volume: volume.name), size: limit ?? memory)
        }
        return MountNamespace.PodSetup(path: sandbox.mnt, files: [
            MountNamespace.FileBind(source: hostsFile(directory), target: "/etc/hosts"),
            MountNamespace.FileBind(source: hostnameFile(directory), target: "/etc/hostname"),
            MountNamespace.FileBind(source: resolvConfFile(directory), target: "/etc/resolv.conf"),
        ], tmpfs: tmpfs)
    }

    /// The mounts of a container; nil when it has none (it runs in the pod's mount namespace).
    static func containerSetup(_ pod: Pod, container: Container, sandbox: PodSandboxPaths) -> MountNamespace.ContainerSetup? {
        guard !container.volumeMounts.isEmpty else { return nil }
        let volumes = Dictionary(pod.spec.volumes.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        let mounts = container.volumeMounts.compactMap { mount -> MountNamespace.Mount? in
            guard let volume = volumes[mount.name] else { return nil }
            let source: MountNamespace.Mount.Source
            if let hostPath = volume.hostPath {
                source = .host(hostPath.path)
            } else if VolumeFiles.isMemoryBacked(volume) {
                // Its tmpfs is mounted in the host's mount namespace, after the pod's was copied:
                // taken from there, with the mount.
                source = .host(hostDirectory(sandbox.directory, volume: volume))
            } else {
                source = .pod(hostDirectory(sandbox.directory, volume: volume))
            }
            // The kubelet mounts the volumes it writes read-only, whatever the mount says.
            return MountNamespace.Mount(source: source, subPath: mount.subPath, target: mount.mountPath,
                                        readOnly: mount.readOnly || volume.isProjected)
        }
        return MountNamespace.ContainerSetup(mounts: mounts, scratchDirectory: scratchDirectory(sandbox.directory, container: container.name))
    }
}
