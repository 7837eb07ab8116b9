#if canImport(Glibc)
import Glibc
#endif
import Addressing
import Netlink
import Netns
import NFTables

/// podlab-cni's verbs. `run` takes what a runtime gives a plugin (environment and stdin) and
/// returns what goes to stdout and the exit status; `main` only calls it.
///
/// The host side is the calling process's own network namespace (the node); the container's
/// is `CNI_NETNS`. Attaching a container is `RouteNetlink.setUpPodInterface`, the same function
/// the agent's pod sandboxes use.
public enum Plugin {
    /// What the process prints and how it exits.
    public struct Outcome: Sendable {
        public var stdout: String
        public var exitCode: Int32
    }

    public static func run(environment: [String: String], stdin: [UInt8]) -> Outcome {
        // Errors answer in the version the caller asked for, when it can be read (the
        // configuration's, or for a configuration that did not parse, whatever stdin names).
        var version: String?
        let trace = PhaseTrace.shared
        trace.enabled = environment["PODLAB_CNI_TRACE"] == "1"
        trace.begin()
        defer { trace.report(environment["CNI_COMMAND"] ?? "?") }
        do {
            let env = try CNIEnvironment(environment)
            if env.command == .version {
                return Outcome(stdout: versionInfo(stdin: stdin).serialized(pretty: true) + "\n", exitCode: 0)
            }
            let config = try NetworkConfiguration(parsing: stdin)
            version = config.cniVersion
            trace.mark("parse")
            switch env.command {
            case .add:
                let result = try add(config, env)
                return Outcome(stdout: result.json(version: config.cniVersion).serialized(pretty: true) + "\n", exitCode: 0)
            case .del:
                try del(config, env)
            case .check:
                try requireVersion(config, atLeast: "0.4.0", for: "CHECK")
                try check(config, env)
            case .gc:
                try requireVersion(config, atLeast: "1.1.0", for: "GC")
                try gc(config)
            case .status:
                try requireVersion(config, atLeast: "1.1.0", for: "STATUS")
                try status(config)
            case .version:
                break
            }
            return Outcome(stdout: "", exitCode: 0)
        } catch {
            var answer = version ?? (try? JSON(parsing: stdin))?["cniVersion"]?.stringValue ?? CNIVersion.current
            if CNIVersion.parse(answer) == nil { answer = CNIVersion.current }
            return Outcome(stdout: error.json(cniVersion: answer).serialized(pretty: true) + "\n", exitCode: 1)
        }
    }

    static func requireVersion(_ config: NetworkConfiguration, atLeast minimum: String, for verb: String) throws(CNIError) {
        if CNIVersion.isOlder(config.cniVersion, than: minimum) {
            throw CNIError(.incompatibleVersion, "config version does not allow \(verb)", details: "cniVersion \(config.cniVersion); \(verb) needs \(minimum) or newer")
        }
    }

    /// VERSION: the versions podlab-cni speaks.
    static func versionInfo(stdin: [UInt8]) -> JSON {
        var asked = (try? JSON(parsing: stdin))?["cniVersion"]?.stringValue ?? CNIVersion.current
        if !CNIVersion.supported.contains(asked) { asked = CNIVersion.current }
        return .object([("cniVersion", .string(asked)), ("supportedVersions", .array(CNIVersion.supported.map { .string($0) }))])
    }

    // MARK: ADD

    static func add(_ config: NetworkConfiguration, _ env: CNIEnvironment) throws(CNIError) -> CNIResult {
        let attachment = env.attachment
        let trace = PhaseTrace.shared
        let (podNamespace, pod) = try openContainerNamespace(env.netns ?? "", unknownIsContainerError: false)
        trace.mark("container socket")
        let host = try hostNetlink()
        // A taken CNI_IFNAME shows when the veth's creation fails (below), which saves a look-up
        // on every ADD; but the first ADD of a network looks first, as it would leave a bridge.
        func refuseTakenIfname() throws(CNIError) {
            if (try? pod.linkIfPresent(named: attachment.ifname)) != nil {
                throw CNIError(.invalidEnvironment, "CNI_IFNAME \"\(attachment.ifname)\" is taken",
                               details: "the container's namespace \(podNamespace.path) already has a link of that name")
            }
        }
        let bridge = try ensureBridge(config, host, beforeCreating: refuseTakenIfname)
        trace.mark("bridge")
        let store = IPAMStore(directory: config.dataDir)
        let table = NetworkTable(network: config.name, subnet: config.subnet)
        let (record, allocatedHere) = try kernel("allocate an address") {
            try store.withLockedAllocations { allocations in
                let held = allocations.record(for: attachment) != nil
                return (try allocations.allocate(attachment, portMappings: config.portMappings, in: config.ranges, network: config.name), !held)
            }
        }
        trace.mark("allocate")
        do {
            let routed = config.mode == .routed
            var routes = config.routes
            if routes.isEmpty && (routed || config.isDefaultGateway) { routes = PodInterfaceConfiguration.defaultRoutes }
            let interfaceConfig = PodInterfaceConfiguration(
                hostInterfaceName: hostInterfaceName(attachment), podInterfaceName: attachment.ifname, address: record.address,
                gateway: config.gateway, mtu: config.mtu, podMAC: MACAddress.derived(from: record.address), ipv6LinkLocal: !routed, prefixLength: config.containerPrefixLength,
                routes: routes, permanentNeighbors: config.isGateway, loopbackUp: false)
            let made = try host.setUpPodInterface(interfaceConfig, bridge: bridge, pod: pod, podNamespace: podNamespace)
            trace.mark("interface")
            do {
                if config.hairpinMode { try host.setBridgePortHairpin(index: made.hostIndex, name: made.hostName, true) }
                if !record.portMappings.isEmpty {
                    // Connections to 127.0.0.1:hostPort in the node are DNATed into the bridge.
                    try writeSysctl("net/ipv4/conf/\(bridge.name)/route_localnet", "1")
                }
                if config.ipMasq || !record.portMappings.isEmpty {
                    try addElements(table, config: config, record: record, store: store)
                    trace.mark("nftables")
                }
            } catch {
                try? host.deleteLink(.index(made.hostIndex, name: made.hostName))
                throw error
            }
            return result(config, env, interface: made, bridge: bridge, routes: routes)
        } catch {
            // Nothing of this attachment stays: the link went with setUpPodInterface's own
            // rollback (or the delete above), the elements were never added or went with the batch.
            // (An attachment that already held its address, a repeated ADD, keeps it.)
            if allocatedHere { _ = try? store.withLockedAllocations { _ = $0.release(attachment) } }
            if let e = error as? KernelError, e.errno == .fileExists { try refuseTakenIfname() }
            throw cniError(error, doing: "attach \(attachment.containerID)/\(attachment.ifname)")
        }
    }

    static func result(_ config: NetworkConfiguration, _ env: CNIEnvironment, interface made: PodInterface, bridge: Link,
                       routes: [IPv4Prefix]) -> CNIResult {
        var result = config.prevResult ?? CNIResult()
        let base = result.interfaces.count
        result.interfaces += [
            .init(name: bridge.name, mac: bridge.mac?.description ?? "", mtu: config.mtu),
            .init(name: made.hostName, mac: made.hostMAC?.description ?? "", mtu: config.mtu),
            .init(name: made.podName, mac: made.podMAC.description, sandbox: env.netns, mtu: config.mtu),
        ]
        result.ips.append(.init(address: try! IPv4Interface(made.address, length: config.containerPrefixLength), gateway: config.gateway,
                                interface: base + 2))
        // As host-local reports them: no `gw` means via the IP's gateway.
        result.routes += routes.map { .init(destination: $0) }
        return result
    }

    /// Adds a container's elements. When the table or one of its sets is missing (the first
    /// container of a network, a table of an older layout, or one someone deleted), the table is
    /// made again under the store's lock from every allocation the store holds, in one
    /// transaction that replaces whatever table of that name is there: two first containers do
    /// not both add the rules, and no other container's elements are lost.
    static func addElements(_ table: NetworkTable, config: NetworkConfiguration, record: AllocationRecord, store: IPAMStore) throws {
        let nft = try hostNFTables()
        do {
            try nft.apply(table.adding(container(config, record)))
        } catch let error as KernelError where error.errno == .noSuchFileOrDirectory {
            try store.withLockedAllocations { allocations in
                let containers = allocations.records.filter { config.ipMasq || !$0.portMappings.isEmpty }.map { container(config, $0) }
                try nft.apply(table.creation(containers, replacing: true))
            }
        }
    }

    static func container(_ config: NetworkConfiguration, _ record: AllocationRecord) -> NetworkTable.Container {
        NetworkTable.Container(address: record.address, masquerade: config.ipMasq, portMappings: record.portMappings)
    }

    // MARK: DEL

    static func del(_ config: NetworkConfiguration, _ env: CNIEnvironment) throws(CNIError) {
        let attachment = env.attachment
        let store = IPAMStore(directory: config.dataDir)
        let table = NetworkTable(network: config.name, subnet: config.subnet)
        let trace = PhaseTrace.shared
        try kernel("delete \(attachment.containerID)/\(attachment.ifname)") {
            let host = try hostNetlink()
            let nft = try hostNFTables()
            try store.withLockedAllocations { allocations in
                // No allocation (already deleted, or ADD failed): only a link may be left.
                guard let record = allocations.record(for: attachment) else { return }
                try removeAttachments([record], config: config, table: table, host: host, nft: nft)
                _ = allocations.release(attachment)
            }
            trace.mark("elements, neighbour, store")
            // Outside the lock: a link's delete waits for an RCU grace period, and other
            // containers' ADDs and DELs need not wait for it.
            try removeLinks(host, names: [hostInterfaceName(attachment)])
            trace.mark("link")
            // Only now may the nftables socket close (see `removeAttachments`).
            withExtendedLifetime(nft) {}
        }
        trace.mark("close")
    }

    /// Removes what ADD made for these records in the host and must go before their addresses
    /// are free again: their elements in one transaction, and the node's neighbour entries for
    /// them (a later container given the same address gets its own). What is already gone is
    /// not an error.
    ///
    /// Closing an nftables socket waits for the kernel to free what earlier transactions deleted
    /// (`nft_rcv_nl_event` flushes that work, which waits for an RCU grace period: 11–16 ms
    /// here). The caller keeps `nft` open until after its link delete, whose own grace period
    /// then covers that one: the two run side by side instead of one after the other, and the
    /// store's lock is not held across either.
    static func removeAttachments(_ records: [AllocationRecord], config: NetworkConfiguration, table: NetworkTable, host: RouteNetlink,
                                  nft: NFTablesConnection) throws {
        guard !records.isEmpty else { return }
        var transaction = Transaction()
        for r in records {
            transaction.append(contentsOf: table.removing(address: r.address, portMappings: r.portMappings))
        }
        do {
            try nft.apply(transaction)
        } catch let error as KernelError where error.errno == .noSuchFileOrDirectory {
            // No table: no elements to remove.
        }
        if let bridge = try host.linkIfPresent(named: config.bridge) {
            let requests = try records.map { try NetlinkRequest.deleteNeighbor(Neighbor(interfaceIndex: bridge.index, address: .v4($0.address), mac: nil)) }
            try ignoringGone(try host.performIndividually(batch: requests))
        }
    }

    /// Deletes host veth ends, in one datagram (deleting one end of a pair removes both; the
    /// kernel waits one RCU grace period per message). Links already gone are not an error.
    static func removeLinks(_ host: RouteNetlink, names: [String]) throws {
        guard !names.isEmpty else { return }
        try ignoringGone(try host.performIndividually(batch: try names.map { try .deleteLink(.name($0)) }))
    }

    static func ignoringGone(_ errors: [KernelError?]) throws {
        let gone: Set<Errno> = [.noSuchFileOrDirectory, .noSuchDevice]
        for case let error? in errors where !gone.contains(error.errno) { throw error }
    }

    // MARK: CHECK

    static func check(_ config: NetworkConfiguration, _ env: CNIEnvironment) throws(CNIError) {
        let attachment = env.attachment
        let store = IPAMStore(directory: config.dataDir)
        guard let record = try kernel("read the IPAM store", { try store.read() }).record(for: attachment) else {
            throw CNIError(.unknownContainer, "no attachment \(attachment.containerID)/\(attachment.ifname) on network \(config.name)")
        }
        let (_, pod) = try openContainerNamespace(env.netns ?? "", unknownIsContainerError: true)
        let differences = try kernel("check \(attachment.containerID)/\(attachment.ifname)") {
            try AttachmentCheck.differences(config, record: record, pod: pod, host: try hostNetlink(), nft: try hostNFTables(),
                                            hostInterfaceName: hostInterfaceName(attachment))
        }
        if !differences.isEmpty {
            throw CNIError(.checkFailed, "attachment \(attachment.containerID)/\(attachment.ifname) differs from what ADD made",
                           details: differences.joined(separator: "; "))
        }
    }

    // MARK: GC

    static func gc(_ config: NetworkConfiguration) throws(CNIError) {
        guard let valid = config.validAttachments else {
            throw CNIError(.invalidNetworkConfig, "invalid network configuration", details: "cni.dev/valid-attachments: required for GC")
        }
        let keep = Set(valid)
        let store = IPAMStore(directory: config.dataDir)
        let table = NetworkTable(network: config.name, subnet: config.subnet)
        try kernel("collect stale attachments") {
            let host = try hostNetlink()
            let nft = try hostNFTables()
            let stale = try store.withLockedAllocations { allocations in
                let stale = allocations.records.filter { !keep.contains($0.attachment) }
                try removeAttachments(stale, config: config, table: table, host: host, nft: nft)
                for r in stale { _ = allocations.release(r.attachment) }
                return stale
            }
            try removeLinks(host, names: stale.map { hostInterfaceName($0.attachment) })
            withExtendedLifetime(nft) {}  // closed after the links' grace period, as in DEL
        }
    }

    // MARK: STATUS

    static func status(_ config: NetworkConfiguration) throws(CNIError) {
        let store = IPAMStore(directory: config.dataDir)
        let allocations: Allocations
        do {
            allocations = try store.withLockedAllocations { $0 }
        } catch {
            throw CNIError(.pluginNotAvailable, "the IPAM store of network \(config.name) cannot be used", details: "\(error)")
        }
        if allocations.nextFree(in: config.ranges) == nil {
            throw CNIError(.pluginNotAvailable, "no IP addresses available in network \(config.name)",
                           details: "all \(allocations.count) addresses are allocated")
        }
    }

    // MARK: Host and container

    /// The host end of an attachment's veth pair: `veth` and 8 hex digits of a hash of container
    /// id and interface name, so DEL finds it without a record (the reference plugins' names are
    /// random and need the container's namespace to find).
    public static func hostInterfaceName(_ attachment: ContainerAttachment) -> String {
        let hash = String(fnv1a(attachment.containerID + "/" + attachment.ifname), radix: 16)
        return "veth" + String(repeating: "0", count: 8 - hash.count) + hash
    }

    static func hostNetlink() throws(CNIError) -> RouteNetlink {
        try kernel("open rtnetlink") { RouteNetlink(transport: try NetlinkSocket(bus: .route)) }
    }

    static func hostNFTables() throws -> NFTablesConnection {
        NFTablesConnection(transport: try NetlinkSocket(bus: .netfilter))
    }

    /// The container's namespace and a netlink socket inside it. A path that does not exist or is
    /// not a network namespace is an invalid environment (ADD) or an unknown container (CHECK).
    static func openContainerNamespace(_ path: String, unknownIsContainerError: Bool) throws(CNIError) -> (NetworkNamespace, RouteNetlink) {
        let code: CNIError.Code = unknownIsContainerError ? .unknownContainer : .invalidEnvironment
        guard access(path, F_OK) == 0 else {
            throw CNIError(code, "CNI_NETNS \"\(path)\" cannot be opened", details: String(cString: strerror(errno)))
        }
        let namespace = NetworkNamespace(path: path)
        do {
            // The plugin has one thread: it enters the namespace itself, for the socket only.
            return (namespace, RouteNetlink(transport: try namespace.openSocketFromOnlyThread(.route)))
        } catch let error as KernelError where error.errno == .invalidArgument {
            // setns(CLONE_NEWNET) refuses a plain file and any other kind of namespace alike.
            throw CNIError(code, "CNI_NETNS \"\(path)\" is not a network namespace", details: "setns refused it")
        } catch {
            throw CNIError(code, "CNI_NETNS \"\(path)\" cannot be entered", details: "\(error)")
        }
    }

    /// The network's bridge, made if missing (with a fixed MAC: see `NetlinkRequest.createBridge`),
    /// up, with the gateway's address when it is the gateway; forwarding on for a gateway, and
    /// ICMP redirects off in routed mode (the node routes between containers on one bridge).
    /// `beforeCreating` runs only when the bridge is about to be made, and may refuse.
    static func ensureBridge(_ config: NetworkConfiguration, _ host: RouteNetlink,
                             beforeCreating: () throws(CNIError) -> Void = {}) throws(CNIError) -> Link {
        try kernel("set up bridge \(config.bridge)") {
            var bridge: Link
            if let existing = try host.linkIfPresent(named: config.bridge) {
                guard existing.kind == "bridge" else {
                    throw CNIError(.invalidNetworkConfig, "bridge \"\(config.bridge)\" is not a bridge",
                                   details: "a link of that name exists in the host's namespace" + (existing.kind.map { " (kind \($0))" } ?? ""))
                }
                bridge = existing
                if !bridge.isUp { try host.setUp(bridge.reference) }
            } else {
                try beforeCreating()
                do {
                    bridge = try host.createBridge(name: config.bridge, mtu: config.mtu, up: true)
                } catch Errno.fileExists {
                    bridge = try host.link(named: config.bridge)  // another plugin process made it meanwhile
                }
            }
            if config.isGateway {
                // Added unless it is there (EEXIST): one message, where a dump of the namespace's
                // addresses grew with every link in it.
                var added = true
                do {
                    try host.addAddress(InterfaceAddress(interfaceIndex: bridge.index, config.gatewayInterface), interfaceName: bridge.name)
                } catch Errno.fileExists {
                    added = false
                }
                if added {
                    try writeSysctl("net/ipv4/ip_forward", "1")
                    if config.mode == .routed {
                        try writeSysctl("net/ipv4/conf/\(bridge.name)/send_redirects", "0")
                        try writeSysctl("net/ipv4/conf/all/send_redirects", "0")
                    }
                }
            }
            return bridge
        }
    }

    /// Writes a sysctl of the calling process's own network namespace (the host side).
    static func writeSysctl(_ key: String, _ value: String) throws {
        let path = "/proc/sys/" + key
        let fd = open(path, O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else { throw KernelError(operation: "open", object: path, errno: .current) }
        defer { close(fd) }
        let bytes = Array(value.utf8)
        if bytes.withUnsafeBytes({ write(fd, $0.baseAddress, $0.count) }) < 0 {
            throw KernelError(operation: "write", object: path, errno: .current)
        }
    }

    /// Runs kernel work, turning its errors into CNI errors.
    static func kernel<T>(_ doing: String, _ body: () throws -> T) throws(CNIError) -> T {
        do {
            return try body()
        } catch {
            throw cniError(error, doing: doing)
        }
    }

    static func cniError(_ error: any Error, doing: String) -> CNIError {
        switch error {
        case let e as CNIError: return e
        case let e as ValidationError: return CNIError(.invalidNetworkConfig, "invalid network configuration", details: e.description)
        case let e as KernelError:
            let busy: Set<Errno> = [.resourceTemporarilyUnavailable, .busy, .noBufferSpace]
            return CNIError(busy.contains(e.errno) ? .tryAgainLater : .kernelFailure, "failed to \(doing)", details: e.description)
        default: return CNIError(.ioFailure, "failed to \(doing)", details: "\(error)")
        }
    }
}

extension Transaction {
    mutating func append(contentsOf other: Transaction) {
        for operation in other.operations {
            switch operation {
            case .addElements(let set, let items): add(items, to: set)
            case .deleteElements(let set, let items): delete(items, from: set)
            default: break
            }
        }
    }
}
