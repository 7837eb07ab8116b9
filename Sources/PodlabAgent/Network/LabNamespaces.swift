import Netlink
import Netns
import PodNet

/// Makes, recognises and deletes the network namespaces of one lab, and only those.
///
/// Every namespace the lab makes carries its label (`LabPlan.namespaceLabel`) as the alias of
/// its loopback device, set while the namespace is still nameless (held by a descriptor): a
/// namespace under /run/netns is the lab's exactly when its `lo` has that alias. Before the lab
/// adopts or deletes a namespace by name, it checks the label, so a namespace of another lab,
/// of an earlier lab of the same name, or of the host's own is never taken or removed.
struct LabNamespaces: Sendable {
    let label: String

    init(label: String) { self.label = label }
    init(_ plan: LabPlan) { self.init(label: plan.namespaceLabel) }

    /// A namespace at /run/netns/NAME that is not the lab's.
    struct NotOwned: Error, CustomStringConvertible {
        let name: String
        let found: String?
        let expected: String

        var description: String {
            let whose = found.map { "it carries another label (\"\($0)\")" } ?? "it carries no podlab label"
            return "network namespace \"\(name)\" exists but is not this lab's: \(whose), not \"\(expected)\"; "
                + "podlab leaves it alone (if it is a leftover, remove it with: ip netns delete \(name))"
        }
    }

    /// A new nameless namespace (held by its descriptor) with an rtnetlink socket inside,
    /// already labelled: `lo` up, with the label as alias. Closed again if labelling fails.
    func makeLabelled() throws -> SpareNetworkNamespace {
        let spare = try SpareNetworkNamespace.make(openingSocket: .route)
        do {
            try RouteNetlink(transport: spare.socket).perform(batch: [try .setLink(.name("lo"), LinkChanges(up: true, alias: label))])
        } catch {
            spare.close()
            throw error
        }
        return spare
    }

    /// A new, labelled namespace named `name` (EEXIST if the name is taken).
    func create(_ name: String) throws -> (NetworkNamespace, RouteNetlink) {
        try NamespaceWorker.shared.sync {
            let spare = try makeLabelled()
            let (namespace, socket) = try NetworkNamespace.create(name, using: spare, owner: label)
            return (namespace, RouteNetlink(transport: socket))
        }
    }

    /// The namespace `name`: the lab's own, adopted, or a new one. One that exists without the
    /// lab's label is an error (`NotOwned`), and is left as it is.
    func openOrCreate(_ name: String) throws -> (NetworkNamespace, RouteNetlink) {
        if LabNamespaces.isUnboundMountPoint(name) {
            try deleteUnbound(name)
            return try create(name)
        }
        guard NetworkNamespace.exists(name) else { return try create(name) }
        let namespace = try NetworkNamespace.open(name)
        let netlink = try RouteNetlink(namespace: namespace)
        let found = try netlink.link(named: "lo").alias
        guard found == label else { throw NotOwned(name: name, found: found, expected: label) }
        return (namespace, netlink)
    }

    /// True when /run/netns/NAME exists but no namespace is bound on it: the empty file a
    /// creation makes first (`ip netns add` likewise), left behind by a process killed before
    /// the bind. Such a file holds nothing and cannot be entered (`setns` says EINVAL).
    static func isUnboundMountPoint(_ name: String) -> Bool {
        NetworkNamespace.exists(name) && !NamespaceFile.isBound(NetworkNamespace(unchecked: name).path)
    }

    /// Deletes such a file when it carries the lab's label (`NamespaceMountPoint`: the lab made
    /// it and was killed before it bound the namespace); anyone else's is left (`NotOwned`).
    private func deleteUnbound(_ name: String) throws {
        let found = NamespaceMountPoint.owner(of: NetworkNamespace(unchecked: name).path)
        guard found == label else { throw NotOwned(name: name, found: found, expected: label) }
        try NetworkNamespace.delete(name, ignoreMissing: true)
    }

    /// The label of namespace `name`; nil when it has none. Throws when it cannot be read
    /// (ENOENT when the namespace does not exist).
    static func label(of name: String) throws -> String? {
        try RouteNetlink(namespace: NetworkNamespace.open(name)).link(named: "lo").alias
    }

    /// Deletes the namespace `name` if it is the lab's; one that is gone already is fine, one
    /// that is not the lab's is left as it is (`NotOwned`).
    func delete(_ name: String) throws {
        guard NetworkNamespace.exists(name) else { return }
        if LabNamespaces.isUnboundMountPoint(name) {
            try deleteUnbound(name)
            return
        }
        let found: String?
        do { found = try LabNamespaces.label(of: name) } catch let error as KernelError where error.errno == .noSuchFileOrDirectory {
            return
        }
        guard found == label else { throw NotOwned(name: name, found: found, expected: label) }
        try NetworkNamespace.delete(name, ignoreMissing: true)
    }
}
