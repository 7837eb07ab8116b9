/// A pod's names as the kubelet derives them (`GeneratePodHostNameAndDomain`,
/// `GetNodenameForKernel`), and the files it gives every container from them: `/etc/hosts`
/// (the kubelet's `managedHostsFileContent`) and `/etc/hostname` (as containerd writes it).
public struct PodHostname: Hashable, Sendable {
    /// The kubelet's default cluster domain.
    public static let clusterDomain = "cluster.local"
    /// The kernel's limit for a hostname with its FQDN (64 bytes).
    public static let fqdnMaxLength = 64

    /// `spec.hostname`, else the pod name, cut to 63 bytes without a trailing `-` or `.`.
    public let hostname: String
    /// `<subdomain>.<namespace>.svc.cluster.local` when the pod has a `spec.subdomain`, else "".
    public let domain: String
    /// `spec.setHostnameAsFQDN`.
    public let setHostnameAsFQDN: Bool

    public init(hostname: String, domain: String = "", setHostnameAsFQDN: Bool = false) {
        self.hostname = hostname
        self.domain = domain
        self.setHostnameAsFQDN = setHostnameAsFQDN
    }

    /// A pod with `hostNetwork` has its node's name, as the container runtime gives such a pod
    /// the node's own hostname (the kubelet sets none in its sandbox); `spec.hostname` and
    /// `spec.subdomain` do not apply to it.
    public init(pod: Pod) {
        if pod.spec.hostNetwork {
            self.init(hostname: pod.spec.nodeName)
            return
        }
        let name = pod.spec.hostname.isEmpty ? pod.metadata.name : pod.spec.hostname
        var cut = name
        if cut.utf8.count > 63 {
            cut = String(decoding: cut.utf8.prefix(63), as: UTF8.self)
            while cut.hasSuffix("-") || cut.hasSuffix(".") { cut.removeLast() }
        }
        let subdomain = pod.spec.preservedFields["subdomain"]?.stringValue ?? ""
        let namespace = pod.metadata.namespace.isEmpty ? "default" : pod.metadata.namespace
        self.init(hostname: cut, domain: subdomain.isEmpty ? "" : "\(subdomain).\(namespace).svc.\(PodHostname.clusterDomain)",
                  setHostnameAsFQDN: pod.spec.preservedFields["setHostnameAsFQDN"] == .bool(true))
    }

    /// `hostname.domain`, or nil without a domain.
    public var fqdn: String? { domain.isEmpty ? nil : "\(hostname).\(domain)" }

    /// The hostname the kernel holds (`uname -n`, `/etc/hostname`, `$HOSTNAME`): the FQDN with
    /// `setHostnameAsFQDN` (when it fits), else the hostname.
    public var kernelHostname: String {
        if setHostnameAsFQDN, let fqdn, fqdn.utf8.count <= PodHostname.fqdnMaxLength { return fqdn }
        return hostname
    }

    /// Why the pod's sandbox cannot be made with this name, in the kubelet's words; nil if it can.
    public var kernelHostnameError: String? {
        guard setHostnameAsFQDN, let fqdn, fqdn.utf8.count > PodHostname.fqdnMaxLength else { return nil }
        return "failed to construct FQDN from pod hostname and cluster domain, FQDN \(fqdn) is too long "
            + "(\(PodHostname.fqdnMaxLength) characters is the max, \(fqdn.utf8.count) characters requested)"
    }

    /// The pod's `/etc/hosts`, as the kubelet writes it: localhost, the IPv6 loopback and
    /// multicast names, then each pod IP with the pod's names. One difference: `localhost` is
    /// 127.0.0.1 only. The lab is IPv4-only and its built-in servers listen on IPv4, while
    /// resolvers prefer ::1 for a name that has both (RFC 6724) and clients such as BusyBox's
    /// `wget` try only the first address: `localhost` would miss a sibling container.
    public func hostsFile(podIPs: [String], hostAliases: [HostAlias] = []) -> String {
        var text = "# Kubernetes-managed hosts file.\n"
        text += "127.0.0.1\tlocalhost\n"
        text += "::1\tip6-localhost ip6-loopback\n"
        text += "fe00::0\tip6-localnet\n"
        text += "fe00::0\tip6-mcastprefix\n"
        text += "fe00::1\tip6-allnodes\n"
        text += "fe00::2\tip6-allrouters\n"
        for ip in podIPs {
            text += domain.isEmpty ? "\(ip)\t\(hostname)\n" : "\(ip)\t\(hostname).\(domain)\t\(hostname)\n"
        }
        return text + PodHostname.hostAliasEntries(hostAliases)
    }

    /// The `/etc/hosts` of a pod with `hostNetwork`, as the kubelet writes it
    /// (`nodeHostsFileContent`): its own header, the node's hosts file, the `hostAliases`.
    public static func hostNetworkHostsFile(nodeHosts: String, hostAliases: [HostAlias] = []) -> String {
        "# Kubernetes-managed hosts file (host network).\n" + nodeHosts + hostAliasEntries(hostAliases)
    }

    /// The hosts file of a lab node. A node of the lab is a network namespace on the host, with
    /// no file system of its own, and the host's `/etc/hosts` names the host, not the node: so
    /// it is written as a node's own would read, localhost and the node's name at its address
    /// (localhost 127.0.0.1 only, as in `hostsFile`).
    public static func nodeHostsFile(nodeName: String, nodeIP: String) -> String {
        "127.0.0.1\tlocalhost\n" + "\(nodeIP)\t\(nodeName)\n"
    }

    /// The kubelet's `hostsEntriesFromHostAliases`: after an empty line and a comment, one line
    /// per entry with all its names; nothing without entries.
    static func hostAliasEntries(_ aliases: [HostAlias]) -> String {
        guard !aliases.isEmpty else { return "" }
        return "\n# Entries added by HostAliases.\n" + aliases.map { "\($0.ip)\t\($0.hostnames.joined(separator: "\t"))\n" }.joined()
    }

    /// The pod's `/etc/hostname`.
    public var hostnameFile: String { kernelHostname + "\n" }
}
