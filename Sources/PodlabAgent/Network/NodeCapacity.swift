import Foundation
import PodNet
#if canImport(Glibc)
import Glibc
#endif

/// What a node offers its pods. Every node of a lab shares the host, so each reports the
/// host's CPUs, memory and root file system, all of it allocatable (podlab reserves nothing
/// for system daemons). The downward API resolves `limits.*` of a container without limits to
/// these values, as the kubelet resolves them to the node's allocatable.
enum NodeCapacity {
    static let host: ResourceList = {
        var resources: ResourceList = ["cpu": Quantity(Int64(max(sysconf(Int32(_SC_NPROCESSORS_ONLN)), 1)))]
        // The kubelet reports memory in Ki, as /proc/meminfo counts it.
        if let meminfo = try? String(contentsOfFile: "/proc/meminfo", encoding: .utf8),
           let line = meminfo.split(separator: "\n").first(where: { $0.hasPrefix("MemTotal:") }),
           let kibibytes = line.split(separator: " ").dropFirst().first.flatMap({ Int64($0) }) {
            resources["memory"] = Quantity(kibibytes * 1024, format: .binarySI)
        }
        var filesystem = statvfs()
        if statvfs("/", &filesystem) == 0 {
            let bytes = Int64(filesystem.f_blocks) * Int64(filesystem.f_frsize)
            resources["ephemeral-storage"] = Quantity(bytes / 1024 * 1024, format: .binarySI)
        }
        return resources
    }()

    /// The resource list as a Node's `status.capacity` / `status.allocatable` JSON.
    static var json: JSONValue { .object(host.mapValues { .string($0.description) }) }
}
