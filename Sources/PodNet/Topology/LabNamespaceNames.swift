/// The names of a lab's network namespaces under /run/netns, and the label that marks a
/// namespace as the lab's own.
///
/// Names are built so that no two objects, of one lab or of two labs, can share one:
///
///     <lab>_underlay                      the underlay
///     <lab>_node_<node>                   a node
///     <lab>_pod_<namespace>_<pod>         a pod
///
/// `_` is the separator because no lab, node, namespace or pod name can contain it (lab, node
/// and namespace names are DNS-1123 labels, pod names DNS-1123 subdomains). The lab name ends
/// at the first `_`, the kind is the next field, and a pod's namespace ends at the third `_`.
/// A name longer than `maximumLength` keeps a readable prefix of each field and ends in a
/// hash of the whole object name, as one field more: it has one `_` more than any full name
/// of its kind, so it cannot equal one.
public enum LabNamespaceNames {
    /// The longest namespace name podlab makes (`NetworkNamespace.validate` allows no more).
    public static let maximumLength = 64
    public static let separator = "_"

    /// The lab's underlay namespace, which holds the bridge linking its nodes.
    public static func underlay(lab: String) -> String { "\(lab)_underlay" }

    /// The namespace of node `node`: named after the node, so a node deleted and added again
    /// under its name lives in a namespace of that name again.
    public static func node(lab: String, node: String) -> String {
        let full = "\(lab)_node_\(node)"
        if full.utf8.count <= maximumLength { return full }
        let room = maximumLength - lab.utf8.count - "_node_".utf8.count - 1 - 16
        return "\(lab)_node_\(node.utf8Prefix(room))_\(StableHash.hex("node/\(node)"))"
    }

    /// Every pod namespace of a lab starts with this.
    public static func podPrefix(lab: String) -> String { "\(lab)_pod_" }

    /// True when `name` is a pod's namespace name, of any lab: its second field is `pod`
    /// (the lab name, the first, holds no `_`). A node's or the underlay's never is.
    public static func isPod(_ name: String) -> Bool {
        let fields = name.split(separator: "_", maxSplits: 2, omittingEmptySubsequences: false)
        return fields.count == 3 && !fields[0].isEmpty && fields[1] == "pod"
    }

    /// The namespace of pod `name` in Kubernetes namespace `namespace`.
    public static func pod(lab: String, namespace: String, name: String) -> String {
        let full = podPrefix(lab: lab) + namespace + separator + name
        if full.utf8.count <= maximumLength { return full }
        // Fields cut to share what is left after the prefix, two separators and the hash.
        let room = maximumLength - podPrefix(lab: lab).utf8.count - 2 - 16
        let namespaceRoom = min(namespace.utf8.count, room / 2)
        return podPrefix(lab: lab) + namespace.utf8Prefix(namespaceRoom) + separator + name.utf8Prefix(room - namespaceRoom)
            + separator + StableHash.hex("\(namespace)/\(name)")
    }

    /// The label a lab puts on every namespace it makes (as the alias of its loopback device,
    /// `ip -n NS link show lo` shows it), before the namespace gets its name. `id` is chosen at
    /// random when the lab is first planned, so two labs of one name (under two state
    /// directories) do not take each other's namespaces for their own either.
    public static func label(lab: String, id: String) -> String { "podlab lab=\(lab) id=\(id)" }
}

/// FNV-1a (64 bit) as 16 hex digits: a short, stable name part derived from a longer text
/// (the same on every run and every machine, unlike Swift's `Hasher`).
public enum StableHash {
    public static func hex(_ text: String) -> String {
        var value: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in text.utf8 { value = (value ^ UInt64(byte)) &* 0x100_0000_01b3 }
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: 16 - digits.count) + digits
    }
}

extension String {
    /// The first `count` bytes (names here are ASCII; a cut never splits a character).
    fileprivate func utf8Prefix(_ count: Int) -> String {
        String(decoding: utf8.prefix(max(0, count)), as: UTF8.self)
    }
}
