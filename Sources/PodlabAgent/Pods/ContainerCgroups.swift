import Foundation
import CNetlink
import Netns
import PodNet
#if canImport(Glibc)
import Glibc
#endif

/// The cgroups that enforce a lab's container limits: a subtree the lab owns,
/// `<hierarchy>/podlab/<lab>/<pod uid>/<container>`, in the cgroup v2 hierarchy where
/// `/sys/fs/cgroup` is one, else in the cgroup v1 `memory` and `cpu` hierarchies. A container
/// with limits gets a cgroup of its own, made anew before each of its runs, and its process is
/// in it before it execs (`SpawnCgroup`). Nothing outside the subtree is written to: where the
/// v2 root does not hand the controllers down, limits are refused instead.
struct ContainerCgroups: Sendable {
    /// Where the lab's cgroups live.
    enum Hierarchy: Sendable, Equatable {
        /// The unified hierarchy's mount point.
        case v2(root: String)
        /// The mount point of each v1 controller's hierarchy (`memory`, `cpu`).
        case v1(roots: [String: String])
    }

    /// The host's hierarchy, or why limits cannot be enforced on it.
    let hierarchy: Result<Hierarchy, Unavailable>
    let lab: String

    struct Unavailable: Error, Equatable, CustomStringConvertible {
        var description: String
    }

    /// The directory of podlab's subtrees in each hierarchy; one per lab below it.
    static let subtree = "podlab"
    /// The controllers podlab sets limits with.
    static let controllers = ["memory", "cpu"]
    static let cgroup2Magic = 0x6367_7270  // CGROUP2_SUPER_MAGIC

    init(lab: String, mountPoint: String = "/sys/fs/cgroup", mountTable: String = "/proc/self/mountinfo") {
        self.lab = lab
        hierarchy = Self.detect(mountPoint: mountPoint, mountTable: mountTable)
    }

    static func detect(mountPoint: String, mountTable: String) -> Result<Hierarchy, Unavailable> {
        var type = 0
        if pl_statfs_type(mountPoint, &type) == 0, type == cgroup2Magic {
            // The root's own controllers are not podlab's to change: they must be handed down already.
            let enabled = (MountTable.readFile("\(mountPoint)/cgroup.subtree_control") ?? "").split(whereSeparator: \.isWhitespace).map(String.init)
            let missing = controllers.filter { !enabled.contains($0) }
            guard missing.isEmpty else {
                return .failure(Unavailable(description: "the host's cgroup v2 root (\(mountPoint)) does not enable the \(missing.joined(separator: " and ")) controller(s) for its children"))
            }
            return .success(.v2(root: mountPoint))
        }
        var roots: [String: String] = [:]
        for entry in MountTable.entries(of: mountTable) where entry.fileSystemType == "cgroup" {
            for controller in controllers where roots[controller] == nil && entry.superOptions.contains(controller) {
                roots[controller] = entry.mountPoint
            }
        }
        let missing = controllers.filter { roots[$0] == nil }
        guard missing.isEmpty else {
            return .failure(Unavailable(description: "the host has neither cgroup v2 at \(mountPoint) nor cgroup v1 hierarchies for \(missing.joined(separator: " and "))"))
        }
        return .success(.v1(roots: roots))
    }

    /// The lab's directory in each hierarchy (none without cgroups).
    var labDirectories: [String] {
        switch hierarchy {
        case let .success(.v2(root)): ["\(root)/\(Self.subtree)/\(lab)"]
        case let .success(.v1(roots)): Self.controllers.compactMap { roots[$0] }.map { "\($0)/\(Self.subtree)/\(lab)" }
        case .failure: []
        }
    }

    func podDirectories(uid: String) -> [String] { labDirectories.map { "\($0)/\(uid)" } }

    /// Makes the container's cgroup anew (whatever a previous run left in it is killed) with its
    /// limits, and says how its process joins it.
    func prepare(uid: String, container: String, limits: ContainerCgroupLimits) throws -> SpawnCgroup {
        let hierarchy = try hierarchy.get()
        try remove(directories: podDirectories(uid: uid).map { "\($0)/\(container)" })
        switch hierarchy {
        case let .v2(root):
            // Each level below the root hands the controllers on; only the leaf holds a process.
            var directory = root
            for component in [Self.subtree, lab, uid] {
                directory += "/" + component
                try Self.makeDirectory(directory)
                try Self.write(limits.v2Controllers.map { "+" + $0 }.joined(separator: " "), to: "\(directory)/cgroup.subtree_control")
            }
            directory += "/" + container
            try Self.makeDirectory(directory)
            try Self.apply(limits.v2Settings, in: { _ in directory })
            return SpawnCgroup(directory: directory)
        case let .v1(roots):
            var leaves: [String: String] = [:]
            for controller in limits.v1Controllers {
                guard let root = roots[controller] else { continue }
                var directory = root
                for component in [Self.subtree, lab, uid, container] {
                    directory += "/" + component
                    try Self.makeDirectory(directory)
                }
                leaves[controller] = directory
            }
            try Self.apply(limits.v1Settings, in: { leaves[$0] })
            return SpawnCgroup(procsFiles: limits.v1Controllers.compactMap { leaves[$0] }.map { "\($0)/cgroup.procs" })
        }
    }

    /// The container's cgroup below each hierarchy's root (`/podlab/<lab>/<uid>/<container>`),
    /// as an OCI runtime's `cgroupsPath` names it.
    func relativePath(uid: String, container: String) -> String {
        "/\(Self.subtree)/\(lab)/\(uid)/\(container)"
    }

    /// How a process joins the container's cgroup made by `prepare`; nil when it has none.
    func existing(uid: String, container: String, limits: ContainerCgroupLimits) -> SpawnCgroup? {
        guard !limits.isEmpty else { return nil }
        switch hierarchy {
        case let .success(.v2(root)):
            let directory = "\(root)/\(Self.subtree)/\(lab)/\(uid)/\(container)"
            return access(directory, F_OK) == 0 ? SpawnCgroup(directory: directory) : nil
        case let .success(.v1(roots)):
            let files = limits.v1Controllers.compactMap { roots[$0] }.map { "\($0)/\(Self.subtree)/\(lab)/\(uid)/\(container)/cgroup.procs" }
            return files.allSatisfy({ access($0, F_OK) == 0 }) ? SpawnCgroup(procsFiles: files) : nil
        case .failure:
            return nil
        }
    }

    /// How many times the kernel's OOM killer killed a process of the container's current run.
    func oomKills(uid: String, container: String) -> Int {
        let file: String
        switch hierarchy {
        case let .success(.v2(root)): file = "\(root)/\(Self.subtree)/\(lab)/\(uid)/\(container)/memory.events"
        case let .success(.v1(roots)):
            guard let memory = roots["memory"] else { return 0 }
            file = "\(memory)/\(Self.subtree)/\(lab)/\(uid)/\(container)/memory.oom_control"
        case .failure: return 0
        }
        return MountTable.readFile(file).map(ContainerCgroupLimits.oomKills(in:)) ?? 0
    }

    /// Removes a pod's cgroups (after its containers stopped).
    func removePod(uid: String) throws {
        try remove(directories: podDirectories(uid: uid))
    }

    /// Removes the lab's whole subtree, and podlab's directory when no other lab has one.
    func removeLab() throws {
        try remove(directories: labDirectories)
        for directory in labDirectories {
            rmdir((directory as NSString).deletingLastPathComponent)
        }
    }

    /// The uids of the pods that have cgroups in the lab's subtree.
    func podUIDs() -> Set<String> {
        Set(labDirectories.flatMap { directory in Self.subdirectories(of: directory).map { ($0 as NSString).lastPathComponent } })
    }

    // MARK: Files

    /// Removes cgroup directories, children first. A process still in one (left behind by a
    /// container, in the background) is the lab's own: it is killed, as the kubelet kills
    /// everything in a container's cgroup, and the directory removed once the kernel lets it go.
    func remove(directories: [String]) throws {
        for directory in directories {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else { continue }
            try remove(directories: Self.subdirectories(of: directory))
            let deadline = ContinuousClock.now + .seconds(5)
            while rmdir(directory) != 0 {
                let error = Errno.current
                guard error == .busy, ContinuousClock.now < deadline else {
                    if error == .noSuchFileOrDirectory { break }
                    throw KernelError(operation: "rmdir cgroup", object: directory, errno: error)
                }
                for pid in Self.processes(in: directory) { _ = pl_kill(pid, SIGKILL) }
                usleep(5_000)
            }
        }
    }

    /// The child cgroups of a cgroup directory (its other entries are the kernel's files).
    static func subdirectories(of directory: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).sorted().map { "\(directory)/\($0)" }.filter { child in
            var isDirectory: ObjCBool = false
            return FileManager.default.fileExists(atPath: child, isDirectory: &isDirectory) && isDirectory.boolValue
        }
    }

    static func processes(in directory: String) -> [Int32] {
        (MountTable.readFile("\(directory)/cgroup.procs") ?? "").split(separator: "\n").compactMap { Int32($0) }
    }

    static func makeDirectory(_ path: String) throws {
        guard mkdir(path, 0o755) == 0 || errno == EEXIST else {
            throw KernelError(operation: "mkdir cgroup", object: path, errno: .current)
        }
    }

    /// Writes each setting into its controller's directory; an optional file the kernel lacks
    /// (swap accounting off, an older kernel) is skipped.
    static func apply(_ settings: [ContainerCgroupLimits.Setting], in directory: (String) -> String?) throws {
        for setting in settings {
            guard let base = directory(setting.controller) else { continue }
            let file = "\(base)/\(setting.file)"
            if setting.optional, access(file, F_OK) != 0 { continue }
            try write(setting.value, to: file)
        }
    }

    static func write(_ value: String, to file: String) throws {
        let fd = open(file, O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else { throw KernelError(operation: "open", object: file, errno: .current) }
        defer { close(fd) }
        let bytes = Array(value.utf8)
        let written = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        guard written == bytes.count else {
            throw KernelError(operation: "write \"\(value)\"", object: file, errno: written < 0 ? .current : Errno(EIO))
        }
    }
}
