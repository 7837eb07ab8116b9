import Foundation
import Logging
import Netlink
import Netns
import PodNet
#if canImport(Glibc)
import Glibc
#endif

/// The control plane of one lab: desired state in the store, the lab network, and a pod
/// runtime per pod. All state changes go through this actor, one at a time.
public actor Controller: APIBackend {
    let paths: LabPaths
    let options: AgentOptions
    let logger: Logger
    let store: Store
    let hub = WatchHub()
    let backoff: RestartBackoff

    /// Creating → Ready → Deleting (or Failed).
    var phase = "Creating"
    var message = "starting"
    var plan: LabPlan?
    var createdAt = Timestamp.now()
    let agentStarted = Timestamp.now()
    var nodes: [String: NodeNetwork] = [:]
    /// Pods by `namespace/name`, the store's content kept in memory.
    var pods: [String: Pod] = [:]
    /// Runtime state of pods by uid.
    var runtimes: [String: PodRuntime] = [:]
    var shutdown: (@Sendable () async -> Void)?
    /// Milliseconds each pod's sandbox (namespaces + network) took to build.
    var sandboxMillis: [Double] = []
    /// Per node, the pod network made ahead of the next pod.
    let spares = SparePool()
    /// Pending retries of sandboxes that failed to build, by pod uid.
    var sandboxRetries: [String: Task<Void, Never>] = [:]
    /// Milliseconds from a pod's creation request to all its containers running.
    var startMillis: [Double] = []
    /// When each pod's creation was requested, by uid (until it runs).
    var createdClock: [String: ContinuousClock.Instant] = [:]

    public init(paths: LabPaths, options: AgentOptions, logger: Logger) throws {
        self.paths = paths
        self.options = options
        self.logger = logger
        self.backoff = RestartBackoff(base: .milliseconds(Int64(options.restartBackoffSeconds * 1000)))
        try FileManager.default.createDirectory(atPath: paths.logs, withIntermediateDirectories: true)
        store = try Store(path: paths.database)
    }

    func setShutdown(_ action: @escaping @Sendable () async -> Void) { shutdown = action }

    // MARK: Start-up and shut-down

    /// Builds or adopts the lab network, then adopts or finishes every stored pod.
    func start() async {
        let plan: LabPlan
        do {
            plan = try loadPlan()
        } catch {
            // Nothing was created yet: say why, forget the half-written state, and exit.
            phase = "Failed"
            message = "\(error)"
            logger.error("lab start failed: \(error)")
            for file in [paths.database, paths.database + "-wal", paths.database + "-shm"] { unlink(file) }
            try? await Task.sleep(for: .milliseconds(300))
            await shutdown?()
            return
        }
        do {
            self.plan = plan
            message = "building the lab network"
            nodes = try LabNetwork.ensure(plan) { step in
                self.logger.info("\(step)")
            }
            message = "adopting pods"
            let stored = try store.read { try $0.objects(kind: "Pod") }
            for object in stored {
                guard let pod = try? Pod(json: JSONReader.value(from: String(decoding: object.json, as: UTF8.self))) else { continue }
                pods[key(pod)] = pod
            }
            // After the stored pods are known: before, every pod namespace looks like an orphan.
            try removeOrphanPodNamespaces(plan)
            for pod in pods.values.sorted(by: { $0.metadata.name < $1.metadata.name }) {
                await adopt(pod)
            }
            phase = "Ready"
            for node in nodes.values { spares.refill(node, mtu: UInt32(plan.podMTU), namespaces: labNamespaces) }
            try await createTopologyPods(plan)
            message = "lab \(paths.lab) is ready: \(plan.nodes.count) node(s), \(pods.count) pod(s)"
            logger.info("\(message)")
        } catch {
            phase = "Failed"
            message = "\(error)"
            logger.error("lab start failed: \(error)")
        }
    }

    /// Stops watchers; containers and namespaces stay (they are adopted on the next start)
    /// unless the lab was deleted.
    func stop() {
        hub.finishAll()
    }

    func loadPlan() throws -> LabPlan {
        if let saved = try store.read({ try $0.meta("plan") }),
           let plan = try? JSONDecoder().decode(LabPlan.self, from: Data(saved.utf8)) {
            if let created = try store.read({ try $0.meta("createdAt") }), let seconds = Int64(created) {
                createdAt = Timestamp(secondsSince1970: seconds)
            }
            return plan
        }
        let plan = try LabPlan.load(lab: paths.lab, topologyPath: options.topologyPath)
        let text = String(decoding: try JSONEncoder().encode(plan), as: UTF8.self)
        try store.write { tx in
            try tx.setMeta("plan", text)
            try tx.setMeta("createdAt", String(createdAt.secondsSince1970))
        }
        return plan
    }

    /// The pods a topology declares are created once, when the lab is first built.
    func createTopologyPods(_ plan: LabPlan) async throws {
        guard try store.read({ try $0.meta("topologyPodsCreated") }) == nil else { return }
        for pod in plan.pods {
            let namespace = pod.metadata.namespace.isEmpty ? "default" : pod.metadata.namespace
            if pods["\(namespace)/\(pod.metadata.name)"] != nil { continue }
            do {
                _ = try await createPod(namespace: namespace, body: Data(pod.json.jsonText(indent: 0).utf8))
            } catch {
                logger.error("topology pod \(pod.metadata.name): \(error)")
            }
        }
        try store.write { try $0.setMeta("topologyPodsCreated", "true") }
    }

    /// The lab's namespaces, recognised by its label (nothing before the plan is known).
    var labNamespaces: LabNamespaces { LabNamespaces(label: plan?.namespaceLabel ?? "") }

    /// Pod namespaces of this lab that no stored pod owns: left by a crash between creating a
    /// namespace and storing its pod, or by a pod whose record is gone. Only namespaces that
    /// carry the lab's label go; others of a matching name are left (and logged).
    func removeOrphanPodNamespaces(_ plan: LabPlan) throws {
        let stored = Set(pods.values.map { PodRuntime.netnsName(lab: paths.lab, pod: $0) })
        let namespaces = LabNamespaces(plan)
        for name in try NetworkNamespace.list() where name.hasPrefix(LabNamespaceNames.podPrefix(lab: paths.lab)) && !stored.contains(name) {
            do {
                try namespaces.delete(name)
                logger.info("removed orphan pod namespace \(name)")
            } catch {
                logger.warning("left network namespace \(name) alone: \(error)")
            }
        }
    }

    // MARK: Lab

    public func labStatus() async throws -> Data {
        var nodesJSON: [JSONValue] = []
        for node in plan?.nodes ?? [] {
            let count = pods.values.filter { $0.spec.nodeName == node.name }.count
            nodesJSON.append(.object([
                "name": .string(node.name), "namespace": .string(node.namespace),
                "underlayIP": .string(node.underlayAddress.address.description), "podCIDR": .string(node.podCIDR.description),
                "gateway": .string(node.gateway.address.description), "pods": .integer(Int64(count)),
                "ready": .bool(nodes[node.name] != nil),
            ]))
        }
        let value: JSONValue = .object([
            "name": .string(paths.lab), "phase": .string(phase), "message": .string(message),
            "routing": .string(plan?.routing.rawValue ?? ""), "clusterCIDR": .string(plan?.clusterCIDR.description ?? ""),
            "serviceCIDR": .string(plan?.serviceCIDR.description ?? ""), "underlayCIDR": .string(plan?.underlayCIDR.description ?? ""),
            "underlayNamespace": .string(plan?.underlayNamespace ?? ""),
            "createdAt": .string(createdAt.description),
            "agent": .object(["pid": .integer(Int64(getpid())), "startTime": .string(agentStarted.description)]),
            "nodes": .array(nodesJSON),
        ])
        return Data(value.jsonText(indent: 0).utf8)
    }

    public func deleteLab() async throws -> Data {
        if phase != "Deleting" {
            phase = "Deleting"
            message = "deleting \(pods.count) pod(s) and the lab network"
            Task { await self.tearDownLab() }
        }
        return try await labStatus()
    }

    func tearDownLab() async {
        for runtime in runtimes.values {
            runtime.deleting = true
            runtime.cancelRestarts()
        }
        for retry in sandboxRetries.values { retry.cancel() }
        sandboxRetries.removeAll()
        spares.close()
        let processes = runtimes.values.flatMap { $0.processes.values }
        await withTaskGroup(of: Void.self) { group in
            for process in processes { group.addTask { await ContainerRuntime.stop(process, grace: .seconds(5)) } }
        }
        for pod in Array(pods.values) {
            try? PodRuntime.removeSandbox(lab: paths.lab, namespaces: labNamespaces, paths: paths, pod: pod)
        }
        if let plan {
            do { try LabNetwork.remove(plan) } catch { logger.error("removing the lab network: \(error)") }
        }
        pods.removeAll()
        runtimes.removeAll()
        // The state directory goes too: nothing of the lab remains on the host.
        try? FileManager.default.removeItem(atPath: paths.logs)
        try? FileManager.default.removeItem(atPath: paths.pods)
        umount2(paths.namespaces, Int32(MNT_DETACH))  // labs made by older versions bind-mounted it
        // Namespace files no stored pod owned (a crash between making and storing a pod).
        for file in (try? FileManager.default.contentsOfDirectory(atPath: paths.namespaces)) ?? [] {
            try? NamespaceFile.remove(at: "\(paths.namespaces)/\(file)")
        }
        try? FileManager.default.removeItem(atPath: paths.namespaces)
        for file in [paths.database, paths.database + "-wal", paths.database + "-shm"] { unlink(file) }
        message = "lab deleted"
        logger.info("lab \(paths.lab) deleted")
        // Open watches would hold the server's graceful shutdown forever: end them first.
        hub.finishAll()
        await shutdown?()
    }

    /// Figures for benchmarks: per-pod sandbox and start times, pod count, agent memory.
    public func metrics() async throws -> Data {
        let rss = readSmallFile("/proc/self/status")?.split(separator: "\n").first { $0.hasPrefix("VmRSS:") }
            .flatMap { Int64($0.split(separator: " ").dropFirst().first ?? "") } ?? 0
        let value: JSONValue = .object([
            "pods": .integer(Int64(pods.count)),
            "runningPods": .integer(Int64(pods.values.filter { $0.status.phase == .running }.count)),
            "sandboxSetupMillis": .array(sandboxMillis.map { .number($0) }),
            "spareNamespaceMillis": .array(spares.madeMillis.withLock { $0 }.map { .number($0) }),
            "podStartMillis": .array(startMillis.map { .number($0) }),
            "agentRSSBytes": .integer(rss * 1024),
        ])
        return Data(value.jsonText(indent: 0).utf8)
    }

    // MARK: Nodes

    func nodeObject(_ node: NodePlan) -> Node {
        var info = utsname()
        uname(&info)
        let kernel = withUnsafeBytes(of: info.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        let ready = nodes[node.name] != nil
        var object = Node(
            metadata: ObjectMeta(name: node.name, labels: ["kubernetes.io/hostname": node.name, "kubernetes.io/os": "linux",
                                                           "podlab.dev/lab": paths.lab, "podlab.dev/netns": node.namespace],
                                 uid: stableUID("node/\(paths.lab)/\(node.name)"), resourceVersion: "1", creationTimestamp: createdAt),
            spec: NodeSpec(podCIDR: node.podCIDR.description, podCIDRs: [node.podCIDR.description]),
            status: NodeStatus(addresses: [NodeAddress(type: .internalIP, address: node.underlayAddress.address.description),
                                           NodeAddress(type: .hostname, address: node.name)],
                               conditions: [NodeCondition(type: .ready, status: ready ? .true : .false, lastHeartbeatTime: .now(),
                                                          lastTransitionTime: createdAt, reason: ready ? "KubeletReady" : "NetworkNotReady",
                                                          message: ready ? "podlab node network is ready" : "the node network is not built yet")],
                               nodeInfo: NodeSystemInfo(kernelVersion: kernel, osImage: "podlab (network namespace \(node.namespace))",
                                                        containerRuntimeVersion: "podlab://0.1.0", kubeletVersion: "v1.31.0-podlab",
                                                        kubeProxyVersion: "v1.31.0-podlab", operatingSystem: "linux", architecture: "amd64")))
        object.status.preservedFields["capacity"] = NodeCapacity.json
        object.status.preservedFields["allocatable"] = NodeCapacity.json
        return object
    }

    public func listNodes(options: ListOptions) async throws -> Data {
        let items = (plan?.nodes ?? []).map(nodeObject)
        return Data(NodeList(items: items, resourceVersion: "1").json.jsonText(indent: 0).utf8)
    }

    public func getNode(name: String) async throws -> Data {
        guard let node = plan?.nodes.first(where: { $0.name == name }) else { throw APIStatus.notFound(resource: "nodes", name: name) }
        return Data(nodeObject(node).json.jsonText(indent: 0).utf8)
    }

    // MARK: Helpers

    func key(_ pod: Pod) -> String { "\(pod.metadata.namespace)/\(pod.metadata.name)" }

    func requireReady() throws {
        guard phase == "Ready" else {
            throw APIStatus(message: "the lab is not ready (\(phase): \(message))", reason: "ServiceUnavailable", code: 503)
        }
    }
}

/// A deterministic UUID-shaped id from a string (nodes have no stored uid).
func stableUID(_ text: String) -> String {
    var hash: UInt64 = 0xcbf2_9ce4_8422_2325
    for byte in text.utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
    let hex = String(hash, radix: 16)
    let padded = String(repeating: "0", count: 16 - hex.count) + hex
    return "\(padded.prefix(8))-\(padded.dropFirst(8).prefix(4))-4\(padded.dropFirst(12).prefix(3))-8\(padded.prefix(3))-\(padded)\(padded.prefix(4))".prefix(36).description
}
