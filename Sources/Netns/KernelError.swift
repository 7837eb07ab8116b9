/// A failed syscall or netlink request: what was attempted, on which object, in which
/// network namespace, and the kernel's errno (plus its extended-ack message when it sent one).
///
/// `description` reads like `RTM_NEWLINK veth "p1" in netns "lab-n1": File exists (EEXIST)`.
public struct KernelError: Error, Sendable, CustomStringConvertible {
    /// The syscall or netlink message, under its kernel name: `setns`, `RTM_NEWLINK`, `NFT_MSG_NEWRULE`.
    public var operation: String
    /// What it was applied to: `veth "p1"`, `/run/netns/lab-n1`, `table ip podlab`.
    public var object: String
    /// The network namespace the request ran in, when it was not the caller's own.
    public var namespace: String?
    public var errno: Errno
    /// The kernel's extended-ack text, if any ("Error: Nexthop has invalid gateway.").
    public var detail: String?

    public init(operation: String, object: String, namespace: String? = nil, errno: Errno, detail: String? = nil) {
        self.operation = operation
        self.object = object
        self.namespace = namespace
        self.errno = errno
        self.detail = detail
    }

    public var description: String {
        var text = "\(operation) \(object)"
        if let namespace { text += " in netns \"\(namespace)\"" }
        text += ": \(errno)"
        if let detail, !detail.isEmpty { text += ": \(detail)" }
        if errno == .notPermitted || (errno == .permissionDenied && operation != "open") {
            text += " — podlab needs root (CAP_NET_ADMIN and CAP_SYS_ADMIN)"
        }
        return text
    }
}

/// Input that podlab refuses before it reaches the kernel: a bad name, an out-of-range value.
public struct ValidationError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The field or parameter at fault, e.g. `namespace name` or `ifname`.
    public var field: String
    public var value: String
    public var reason: String

    public init(field: String, value: String, reason: String) {
        self.field = field
        self.value = value
        self.reason = reason
    }

    public var description: String { "invalid \(field) \"\(value)\": \(reason)" }
}
