/// A pod's resolver settings, as the kubelet composes them (`pkg/kubelet/network/dns`) from its
/// `dnsPolicy`, `dnsConfig`, the cluster DNS and the node's own resolver, and the
/// `/etc/resolv.conf` written from them.
///
/// A lab node has no file system of its own, so it has no resolv.conf: the host's points outside
/// the lab, where no pod may send a packet. The node's resolver is therefore empty, as a kubelet
/// started with `--resolv-conf=""` sees it: `Default` (and `ClusterFirst` with `hostNetwork`)
/// give a file with no nameserver unless `dnsConfig` adds some.
public struct PodDNSSettings: Equatable, Sendable {
    public var nameservers: [String] = []
    public var searches: [String] = []
    /// `ndots:5`, `edns0`: a name, with `:value` when it has one.
    public var options: [String] = []

    public init(nameservers: [String] = [], searches: [String] = [], options: [String] = []) {
        self.nameservers = nameservers
        self.searches = searches
        self.options = options
    }

    /// The file as containerd writes it from the sandbox's DNS config: search, nameservers,
    /// options; an empty file when there is nothing to say.
    public var resolvConf: String {
        var lines: [String] = []
        if !searches.isEmpty { lines.append("search " + searches.joined(separator: " ")) }
        lines += nameservers.map { "nameserver " + $0 }
        if !options.isEmpty { lines.append("options " + options.joined(separator: " ")) }
        return lines.map { $0 + "\n" }.joined()
    }
}

public enum PodDNS {
    /// The kubelet's limits (`validation.MaxDNSNameservers`, `MaxDNSSearchPaths`, `MaxDNSSearchListChars`).
    public static let maximumNameservers = 3
    public static let maximumSearchPaths = 32
    public static let maximumSearchListCharacters = 2048

    /// The cluster DNS's address: the tenth address of the service CIDR (10.96.0.10 in
    /// 10.96.0.0/16), as kubeadm chooses it.
    public static func clusterDNSAddress(serviceCIDR: IPv4Prefix) -> IPv4Address? {
        serviceCIDR.address(at: 10)
    }

    /// What the kubelet writes for `pod`, with the cluster DNS at `clusterDNS` (nil: none)
    /// and the node's resolver `node` (empty for a lab node).
    public static func settings(for pod: Pod, clusterDNS: String?, clusterDomain: String = PodHostname.clusterDomain,
                                node: PodDNSSettings = PodDNSSettings()) -> PodDNSSettings {
        var settings: PodDNSSettings
        let policy = pod.spec.dnsPolicy ?? .clusterFirst
        let useCluster: Bool
        switch policy {
        case DNSPolicy.none: useCluster = false
        case .clusterFirstWithHostNet: useCluster = true
        case .default: useCluster = false
        default: useCluster = !pod.spec.hostNetwork  // ClusterFirst: a host-network pod gets the node's
        }
        if policy == DNSPolicy.none {
            settings = PodDNSSettings()
        } else if useCluster, let clusterDNS {
            let namespace = pod.metadata.namespace.isEmpty ? "default" : pod.metadata.namespace
            settings = PodDNSSettings(nameservers: [clusterDNS],
                                      searches: ["\(namespace).svc.\(clusterDomain)", "svc.\(clusterDomain)", clusterDomain] + node.searches,
                                      options: ["ndots:5"])
        } else {
            settings = node
        }
        if let config = pod.spec.preservedFields["dnsConfig"], config != .null {
            settings.nameservers = uniqued(settings.nameservers + strings(config["nameservers"]))
            settings.searches = uniqued(settings.searches + strings(config["searches"]))
            settings.options = mergedOptions(settings.options, config["options"]?.arrayValue ?? [])
        }
        return settings
    }

    /// `mergeDNSOptions`: the pod's options replace the ones of the same name, in place; new
    /// ones are appended.
    static func mergedOptions(_ base: [String], _ podOptions: [JSONValue]) -> [String] {
        var options = base
        func name(_ option: String) -> Substring { option.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false).first ?? "" }
        for option in podOptions {
            guard let optionName = option["name"]?.stringValue, !optionName.isEmpty else { continue }
            let text = option["value"]?.stringValue.map { "\(optionName):\($0)" } ?? optionName
            if let index = options.firstIndex(where: { name($0) == optionName }) { options[index] = text } else { options.append(text) }
        }
        return options
    }

    static func uniqued(_ list: [String]) -> [String] {
        var seen: Set<String> = []
        return list.filter { seen.insert($0).inserted }
    }

    static func strings(_ value: JSONValue?) -> [String] {
        (value?.arrayValue ?? []).compactMap(\.stringValue)
    }

    /// `validatePodDNSConfig` and `validateDNSPolicy`'s rule for `None`, with the API server's messages.
    public static func validate(_ spec: PodSpec, path: FieldPath) -> [FieldError] {
        var errors: [FieldError] = []
        let configPath = path.child("dnsConfig")
        let config = spec.preservedFields["dnsConfig"].flatMap { $0 == .null ? nil : $0 }
        if spec.dnsPolicy == DNSPolicy.none {
            guard let config else { return [.required(configPath, "must provide `dnsConfig` when `dnsPolicy` is None")] }
            if strings(config["nameservers"]).isEmpty {
                return [.required(configPath.child("nameservers"), "must provide at least one DNS nameserver when `dnsPolicy` is None")]
            }
        }
        guard let config else { return [] }
        let nameservers = strings(config["nameservers"])
        if nameservers.count > maximumNameservers {
            errors.append(.invalid(configPath.child("nameservers"), .strings(nameservers), "must not have more than \(maximumNameservers) nameservers"))
        }
        for (index, nameserver) in nameservers.enumerated() where IPAddress(nameserver) == nil {
            errors.append(.invalid(configPath.child("nameservers").index(index), .string(nameserver), "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"))
        }
        let searches = strings(config["searches"])
        if searches.count > maximumSearchPaths {
            errors.append(.invalid(configPath.child("searches"), .strings(searches), "must not have more than \(maximumSearchPaths) search paths"))
        }
        if searches.joined(separator: " ").count > maximumSearchListCharacters {
            errors.append(.invalid(configPath.child("searches"), .strings(searches),
                                   "must not have more than \(maximumSearchListCharacters) characters (including spaces) in the search list"))
        }
        for (index, search) in searches.enumerated() {
            // A trailing dot is fine.
            let name = search.hasSuffix(".") ? String(search.dropLast()) : search
            errors += KubernetesNames.dns1123SubdomainErrors(name).map { .invalid(configPath.child("searches").index(index), .string(name), $0) }
        }
        for (index, option) in (config["options"]?.arrayValue ?? []).enumerated() where (option["name"]?.stringValue ?? "").isEmpty {
            errors.append(.required(configPath.child("options").index(index), "must not be empty"))
        }
        return errors
    }
}
