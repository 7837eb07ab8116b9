/// One entry of `spec.hostAliases`: an address and the names the pod's `/etc/hosts` gives it.
public struct HostAlias: Hashable, Sendable {
    public var ip: String
    public var hostnames: [String]

    public init(ip: String, hostnames: [String]) {
        self.ip = ip
        self.hostnames = hostnames
    }
}

extension PodSpec {
    /// `spec.hostNetwork: true`: the pod has no network of its own. Its containers run in its
    /// node's network namespace and its address is the node's.
    public var hostNetwork: Bool { preservedFields["hostNetwork"] == .bool(true) }

    /// `spec.shareProcessNamespace: true`: the pod's containers share one pid namespace, whose
    /// PID 1 is the pod's pause process; they see and may signal each other's processes.
    public var sharesProcessNamespace: Bool { preservedFields["shareProcessNamespace"] == .bool(true) }

    /// `spec.hostAliases`, in order (a field of another type reads as empty: validation says so).
    public var hostAliases: [HostAlias] {
        (preservedFields["hostAliases"]?.arrayValue ?? []).map { entry in
            HostAlias(ip: entry["ip"]?.stringValue ?? "", hostnames: (entry["hostnames"]?.arrayValue ?? []).map { $0.stringValue ?? "" })
        }
    }
}
