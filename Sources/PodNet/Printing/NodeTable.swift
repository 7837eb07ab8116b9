/// The columns `kubectl get nodes` prints for one node (kubectl's `printNode`).
public struct NodeTableRow: Hashable, Sendable {
    public var name: String
    /// `Ready`, `NotReady` or `Unknown`, plus `,SchedulingDisabled` when cordoned.
    public var status: String
    public var roles: String
    public var age: String
    public var version: String
    public var internalIP: String
    public var externalIP: String
    public var osImage: String
    public var kernelVersion: String
    public var containerRuntime: String

    /// The row for `node` at time `now`.
    public init(node: Node, now: Timestamp) {
        var status: [String] = []
        if let ready = node.status.condition(.ready) {
            status.append(ready.status == .true ? "Ready" : "NotReady")
        } else {
            status.append("Unknown")
        }
        if node.spec.unschedulable { status.append("SchedulingDisabled") }
        let info = node.status.nodeInfo
        self.name = node.metadata.name
        self.status = status.joined(separator: ",")
        self.roles = node.roles.isEmpty ? "<none>" : node.roles.joined(separator: ",")
        self.age = HumanDuration.since(node.metadata.creationTimestamp, now: now)
        self.version = info.kubeletVersion
        self.internalIP = node.internalIP ?? "<none>"
        self.externalIP = node.externalIP ?? "<none>"
        self.osImage = info.osImage.isEmpty ? "<unknown>" : info.osImage
        self.kernelVersion = info.kernelVersion.isEmpty ? "<unknown>" : info.kernelVersion
        self.containerRuntime = info.containerRuntimeVersion.isEmpty ? "<unknown>" : info.containerRuntimeVersion
    }

    /// `NAME STATUS ROLES AGE VERSION`, plus `INTERNAL-IP EXTERNAL-IP OS-IMAGE KERNEL-VERSION CONTAINER-RUNTIME` when wide.
    public static func headers(wide: Bool) -> [String] {
        ["NAME", "STATUS", "ROLES", "AGE", "VERSION"] + (wide ? ["INTERNAL-IP", "EXTERNAL-IP", "OS-IMAGE", "KERNEL-VERSION", "CONTAINER-RUNTIME"] : [])
    }

    /// The cells in header order.
    public func cells(wide: Bool) -> [String] {
        [name, status, roles, age, version] + (wide ? [internalIP, externalIP, osImage, kernelVersion, containerRuntime] : [])
    }

    /// `kubectl get nodes [-o wide]` for these nodes, in the given order.
    public static func table(_ nodes: [Node], wide: Bool = false, now: Timestamp) -> TextTable {
        TextTable(headers: headers(wide: wide), rows: nodes.map { NodeTableRow(node: $0, now: now).cells(wide: wide) })
    }
}
