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
    /// The stored objects' JSON, made once per change (`EncodedObjects`).
    let encodedObjects = EncodedObjects()
    let backoff: RestartBackoff
    let pullBackoff: ImagePullBackoff

    /// Creating → Ready → Deleting (or Failed).
    var phase = LabPhase.creating
    var message = "starting"
    var plan: LabPlan?
    var createdAt = Timestamp.now()
    let agentStarted = Timestamp.now()
    /// The nodes whose network is built, by name.
    var nodes: [String: NodePlan] = [:]
    /// Builds and removes what needs root: the lab network, sandboxes, container processes.
    let sandboxRuntime: any PodSandboxRuntime
    /// Pods by `namespace/name`, the store's content kept in memory.
    var pods: [String: Pod] = [:]
    /// Runtime state of pods by uid.
    var runtimes: [String: PodRuntime] = [:]
    /// Registry pulls under way, by image reference: containers that want an image while it is
    /// being pulled wait for that pull (`sharedPull`).
    var imagePulls: [String: Task<ImagePullOutcome, Never>] = [:]
    /// Namespaces by name, services and endpoint slices by `namespace/name`: the store's
    /// content kept in memory, as for pods.
    var namespaces: [String: Namespace] = [:]
    var services: [String: Service] = [:]
    var endpointSlices: [String: EndpointSlice] = [:]
    /// The services' virtual addresses and node ports (rebuilt from the stored services).
    var serviceAllocation = ServiceAllocation(serviceCIDR: IPv4Prefix("10.96.0.0/16")!)
    /// Services (`namespace/name`) whose endpoint slices must be computed again (their pods or
    /// the services themselves changed).
    var staleEndpointServices: Set<String> = []
    var endpointSyncScheduled = false
    /// Indexes that keep a pod's change from costing a scan of every service (10 000 here):
    /// the service keys by `namespace`, selector key and value (one pair of each selector);
    /// the service keys whose slices list a pod, by pod key; the slice keys of each service.
    var servicesBySelectorLabel: [String: Set<String>] = [:]
    var endpointServicesOfPod: [String: Set<String>] = [:]
    var endpointSliceKeysOfService: [String: Set<String>] = [:]
    /// The dataplane's view of each service (by key), kept up to date for the keys that change,
    /// and the keys changed since the last dataplane sync (all of them when `allServicesChanged`).
    var serviceEntries: [String: ServiceEntry] = [:]
    var changedServiceKeys: Set<String> = []
    var allServicesChanged = true
    /// A dataplane sync is running, and whether another must follow it (changes meanwhile).
    var dataplaneSyncRunning = false
    var dataplaneSyncPending = false
    /// Milliseconds from a change of services or endpoints to every node's rules in force.
    var dataplaneSyncMillis: [Double] = []
    /// Which service and endpoint changes every node's rules carry, and the deletions waiting
    /// for theirs (`drainServiceEndpoints`).
    var serviceRulesProgress = ServiceRulesProgress<CheckedContinuation<Void, Never>>()
    /// When the oldest change not yet in a node's rules came (nil: none pending).
    var dataplaneChangedSince: ContinuousClock.Instant?
    /// Deployments and ReplicaSets by `namespace/name`, as for services.
    var deployments: [String: Deployment] = [:]
    var replicaSets: [String: ReplicaSet] = [:]
    /// ConfigMaps and Secrets by `namespace/name`.
    var configMaps: [String: ConfigMap] = [:]
    var secrets: [String: Secret] = [:]
    /// NetworkPolicies by `namespace/name`, and the state of the nodes' policy rules.
    var networkPolicies: [String: NetworkPolicy] = [:]
    var policySync = PolicySyncState()
    /// The last drops of each logged NetworkPolicy (`PolicyLog`), read from the nodes' nflog groups.
    var policyLogBook = PolicyLog.Book()
    /// MeshPolicies by `namespace/name` (the sidecars follow them by watch and enforce them).
    var meshPolicies: [String: MeshPolicy] = [:]
    /// Routes by `namespace/name` (the clients' sidecars follow them by watch and shape their requests).
    var meshRoutes: [String: MeshRoute] = [:]
    /// Namespaces whose ReplicaSets and Deployments must be synced again (their pods changed).
    var staleWorkloadNamespaces: Set<String> = []
    var workloadSyncScheduled = false
    /// A pod a ReplicaSet needs could not be made (no address left, say): the sync runs again later.
    var workloadRetryNamespaces: Set<String> = []
    /// Deployments whose progress deadline is being waited for (`namespace/name`).
    var progressDeadlineChecks: Set<String> = []
    var shutdown: (@Sendable () async -> Void)?
    /// Milliseconds each pod's sandbox (namespaces + network) took to build.
    var sandboxMillis: [Double] = []
    /// The Image IDs of the built-in images (digests of the executables that serve them).
    let imageIdentity = ImageIdentity(toolsPath: ContainerRuntime.toolsExecutable, busyboxPath: ContainerRuntime.busyboxExecutable)
    /// Pending retries of sandboxes that failed to build, by pod uid.
    var sandboxRetries: [String: Task<Void, Never>] = [:]
    /// How adopted containers ended, as the lab's keeper recorded it (`LabKeeper`).
    let exitRecords: ExitRecords
    /// Milliseconds from a pod's creation request to all its containers running.
    var startMillis: [Double] = []
    /// When each pod's creation was requested, by uid (until it runs).
    var createdClock: [String: ContinuousClock.Instant] = [:]
    /// The cgroups that enforce the containers' limits.
    let cgroups: ContainerCgroups
    /// Runs the containers' probes (made at start, before pods are adopted).
    var containerProber: ContainerProber?
    /// Events by what makes repeats one event (`EventRetention.key`), the store's `events`
    /// table kept in memory.
    var events: [String: Event] = [:]
    /// The last resourceVersion given to an event (events count their own: no store write each).
    var eventVersion: Int64 = 0
    /// How long and how many events are kept.
    var eventRetention = EventRetention.standard
    /// Events changed (by key) and removed (`namespace/name`) since the last write of the
    /// `events` table, and whether that write is scheduled.
    var eventsToStore: Set<String> = []
    var eventsToDelete: Set<EventName> = []
    var eventWriteScheduled = false
    /// What the mesh's sidecars show the mesh socket (`MeshAPIListener`), given them at start.
    let meshToken: String
    /// The lab's mesh CA, which signs every meshed pod's workload certificate.
    let meshAuthority: CertificateAuthority
    /// Workload certificates' lifetime and renewal (1 h, renewed at 40 min).
    var meshCertificateSchedule = MeshCertificateSchedule.standard
    /// Each meshed pod's next certificate, by pod uid.
    var meshCertificateRenewals: [String: Task<Void, Never>] = [:]
    /// Each meshed pod's sidecar as last started, by pod uid: its mTLS mode and the notAfter of
    /// the certificate last issued to it (`podlab mesh status`).
    var meshSidecars: [String: (mode: MeshTLSMode, notAfter: Date?)] = [:]
    /// When the lines of running containers' logs arrived (`pods/log` `timestamps`, `sinceSeconds`).
    let logTimes: LogTimeRecorder
    /// Signs the pods' projected service account tokens and keeps each until it needs a refresh.
    let serviceAccounts: ServiceAccountIssuer
    /// The periodic rewrite of the pods' configMap, secret, downwardAPI and projected volumes.
    var volumeSync: Task<Void, Never>?

    public init(paths: LabPaths, options: AgentOptions, logger: Logger) throws {
        try self.init(paths: paths, options: options, logger: logger, runtime: KernelSandboxRuntime())
    }

    init(paths: LabPaths, options: AgentOptions, logger: Logger, runtime: any PodSandboxRuntime,
         clock: @escaping @Sendable () -> Int64 = { Int64(Date().timeIntervalSince1970) }) throws {
        self.paths = paths
        self.sandboxRuntime = runtime
        self.options = options
        self.logger = logger
        let base = Duration.milliseconds(Int64(options.restartBackoffSeconds * 1000))
        self.backoff = RestartBackoff(base: base)
        // The kubelet's image pull back-off starts from the same 10 s.
        self.pullBackoff = ImagePullBackoff(base: base)
        self.exitRecords = ExitRecords(directory: paths.exits)
        try FileManager.default.createDirectory(atPath: paths.logs, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: paths.exits, withIntermediateDirectories: true)
        store = try Store(path: paths.database)
        cgroups = runtime.cgroups(lab: paths.lab)
        meshToken = try MeshAPIListener.loadOrCreateToken(paths)
        meshAuthority = try MeshCertificates.loadOrCreateAuthority(paths)
        serviceAccounts = try ServiceAccountIssuer.loadOrCreate(paths, now: clock)
        logTimes = try LogTimeRecorder()
        // What changed before this agent started was published by another: a watch can start
        // only from here on.
        hub.start(at: try store.read { try $0.currentResourceVersion() })
    }

    func setShutdown(_ action: @escaping @Sendable () async -> Void) { shutdown = action }

    // MARK: Start-up and shut-down

    /// Builds or adopts the lab network, then adopts or finishes every stored pod.
    func start() async {
        let plan: LabPlan
        do {
            plan = try loadPlan()
        } catch {
            // Nothing was created yet: say why, forget the half-written state, and exit. (A
            // stored plan that cannot be read is kept: namespaces may exist that carry its label.)
            phase = .failed
            message = "\(error)"
            logger.error("lab start failed: \(error)")
            if (try? store.read({ try $0.meta("plan") })) ?? nil == nil {
                for file in [paths.database, paths.database + "-wal", paths.database + "-shm"] { unlink(file) }
            }
            try? await Task.sleep(for: .milliseconds(300))
            await shutdown?()
            return
        }
        do {
            self.plan = plan
            // One stream, read by one task: reports reach the controller in the order they were
            // made (a task per report may run out of order, and a later `ready` be overwritten
            // by an earlier one).
            let (reports, reporter) = AsyncStream.makeStream(of: ContainerProbeReport.self)
            containerProber = try ContainerProber { reporter.yield($0) }
            Task { [weak self] in
                for await report in reports { await self?.probeReported(report) }
            }
            message = "building the lab network"
            nodes = try sandboxRuntime.ensureLabNetwork(plan) { step in
                self.logger.info("\(step)")
            }
            message = "adopting pods"
            let stored = try store.read { try $0.objects(kind: "Pod") }
            for object in stored {
                let pod: Pod
                do { pod = try Pod(json: JSONReader.value(from: String(decoding: object.json, as: UTF8.self))) } catch {
                    logger.error("stored pod \(object.namespace)/\(object.name) cannot be read, left out: \(error)")
                    continue
                }
                pods[key(pod)] = pod
            }
            try loadServiceObjects(plan)
            loadEvents()
            try loadNetworkPolicies()
            try loadMeshPolicies()
            try loadMeshRoutes()
            try loadConfigObjects()
            // After the stored pods are known: before, every pod namespace looks like an orphan.
            try removeOrphanPodNamespaces(plan)
            removeOrphanPodCgroups()
            for pod in pods.values.sorted(by: { $0.metadata.name < $1.metadata.name }) {
                await adopt(pod)
            }
            exitRecords.prune(keeping: Set(runtimes.values.flatMap { Array($0.processes.values) + ($0.pause.map { [$0] } ?? []) }))
            phase = .ready
            syncAllEndpoints()
            syncAllWorkloads()
            policiesChanged()
            for node in nodes.values { sandboxRuntime.refillSpares(node: node, mtu: UInt32(plan.podMTU), namespaces: labNamespaces) }
            await ensureAPIServerService()
            try await createTopologyPods(plan)
            await createClusterDNS(plan)
            volumeSync = Task { [weak self] in await self?.syncVolumesPeriodically() }
            message = readyMessage
            logger.info("\(message)")
        } catch {
            phase = .failed
            message = "\(error)"
            logger.error("lab start failed: \(error)")
        }
    }

    /// Stops watchers; containers and namespaces stay (they are adopted on the next start)
    /// unless the lab was deleted.
    func stop() {
        volumeSync?.cancel()
        writeEvents()
        hub.finishAll()
    }

    func loadPlan() throws -> LabPlan {
        if let saved = try store.read({ try $0.meta("plan") }) {
            let plan: LabPlan
            do { plan = try JSONDecoder().decode(LabPlan.self, from: Data(saved.utf8)) } catch {
                // Not planned anew: a new plan has a new label, and the lab would not recognise
                // its own namespaces. The state is left for a person to look at.
                throw AgentStartError(description: "the lab's stored plan cannot be read (\(error)); "
                    + "remove the lab's namespaces and \(paths.directory) by hand to start over")
            }
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
                if namespaces[namespace] == nil { try storeNewNamespace(Namespace(metadata: ObjectMeta(name: namespace))) }
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
        for name in try sandboxRuntime.networkNamespaces() where name.hasPrefix(LabNamespaceNames.podPrefix(lab: paths.lab)) && !stored.contains(name) {
            do {
                try sandboxRuntime.deleteNetworkNamespace(name, namespaces: namespaces)
                logger.info("removed orphan pod namespace \(name)")
            } catch {
                logger.warning("left network namespace \(name) alone: \(error)")
            }
        }
    }

    /// The cgroups of pods that are no longer stored: deleted while no agent ran, or by an
    /// agent killed before it removed them.
    func removeOrphanPodCgroups() {
        let stored = Set(pods.values.map(\.metadata.uid))
        for uid in cgroups.podUIDs().subtracting(stored) {
            do {
                try cgroups.removePod(uid: uid)
                logger.info("removed the cgroups of pod \(uid), which no stored pod owns")
            } catch {
                logger.warning("removing the cgroups of pod \(uid): \(error)")
            }
        }
    }

    // MARK: Lab

    /// What a ready lab says of itself, counted when asked (nodes and pods come and go).
    var readyMessage: String { "lab \(paths.lab) is ready: \(plan?.nodes.count ?? 0) node(s), \(pods.count) pod(s)" }

    public func labStatus() async throws -> Data {
        let nodes = (plan?.nodes ?? []).map { node in
            LabInfo.Node(name: node.name, namespace: node.namespace, underlayIP: node.underlayAddress.address.description,
                         podCIDR: node.podCIDR.description, gateway: node.gateway.address.description,
                         pods: pods.values.filter { $0.spec.nodeName == node.name }.count, ready: self.nodes[node.name] != nil)
        }
        let info = LabInfo(name: paths.lab, phase: phase, message: phase == .ready ? readyMessage : message,
                           routing: plan?.routing.rawValue ?? "", clusterCIDR: plan?.clusterCIDR.description ?? "",
                           serviceCIDR: plan?.serviceCIDR.description ?? "", underlayCIDR: plan?.underlayCIDR.description ?? "",
                           underlayNamespace: plan?.underlayNamespace ?? "", createdAt: createdAt.description,
                           agent: LabInfo.Agent(pid: getpid(), startTime: agentStarted.description), nodes: nodes,
                           apiServer: ClusterCredentials.serverURL(paths))
        return try JSONEncoder().encode(info)
    }

    public func deleteLab() async throws -> Data {
        if phase != .deleting {
            phase = .deleting
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
        volumeSync?.cancel()
        for retry in sandboxRetries.values { retry.cancel() }
        sandboxRetries.removeAll()
        sandboxRuntime.closeSpares()
        // The pause processes last: each one's end kills what is left in its pid namespace.
        let processes = runtimes.values.flatMap { $0.processes.values }
        await withTaskGroup(of: Void.self) { group in
            for process in processes { group.addTask { await self.sandboxRuntime.stop(process, grace: .seconds(5)) } }
        }
        let pauses = runtimes.values.compactMap(\.pause)
        await withTaskGroup(of: Void.self) { group in
            for pause in pauses { group.addTask { await self.sandboxRuntime.stop(pause, grace: .seconds(2)) } }
        }
        for pod in Array(pods.values) {
            do { try sandboxRuntime.removeSandbox(PodRuntime.sandboxPaths(lab: paths.lab, paths: paths, pod: pod), namespaces: labNamespaces) } catch {
                logger.error("pod \(key(pod)): removing its sandbox failed: \(error)")
            }
            // Its OCI containers: the runtime's state and the overlay roots. A container's own
            // exit handler does the same, but may come after the pods' directories are gone.
            OCIContainers.removeAll(podDirectory: paths.podDirectory(uid: pod.metadata.uid), paths: paths)
        }
        // Whatever is still mounted under the pods' directories (a root of a pod the store no
        // longer held) is unmounted before they are removed: removing through a mount would
        // reach into what it shows.
        for point in LabStateModes.mountPoints(under: paths.pods).sorted(by: { $0.count > $1.count }) {
            logger.warning("unmounting \(point), left by a container")
            umount2(point, Int32(MNT_DETACH))
        }
        try? FileManager.default.removeItem(atPath: OCIContainers.runtimeRoot(paths))
        if let plan {
            do { try sandboxRuntime.removeLabNetwork(plan) } catch { logger.error("removing the lab network: \(error)") }
        }
        do { try cgroups.removeLab() } catch { logger.error("removing the lab's cgroups: \(error)") }
        pods.removeAll()
        runtimes.removeAll()
        // The state directory goes too: nothing of the lab remains on the host.
        try? FileManager.default.removeItem(atPath: paths.logs)
        try? FileManager.default.removeItem(atPath: paths.images)
        try? FileManager.default.removeItem(atPath: paths.pods)
        // Records of processes that ended during the tear-down: nobody is left to read them.
        try? FileManager.default.removeItem(atPath: paths.exits)
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

    /// The service account issuer's JWKS and OpenID discovery document (`/openid/v1/jwks`,
    /// `/.well-known/openid-configuration`).
    public nonisolated func serviceAccountIssuerDocuments() async -> (jwks: Data, openIDConfiguration: Data)? {
        (Data(serviceAccounts.jwks.jsonText(indent: 0).utf8), Data(serviceAccounts.openIDConfiguration.jsonText(indent: 0).utf8))
    }

    /// Figures for benchmarks: per-pod sandbox and start times, pod count, agent memory.
    public func metrics() async throws -> Data {
        let rss = readSmallFile("/proc/self/status")?.split(separator: "\n").first { $0.hasPrefix("VmRSS:") }
            .flatMap { Int64($0.split(separator: " ").dropFirst().first ?? "") } ?? 0
        let value: JSONValue = .object([
            "pods": .integer(Int64(pods.count)),
            "runningPods": .integer(Int64(pods.values.filter { $0.status.phase == .running }.count)),
            "sandboxSetupMillis": .array(sandboxMillis.map { .number($0) }),
            "spareNamespaceMillis": .array(sandboxRuntime.spareMillis.map { .number($0) }),
            "podStartMillis": .array(startMillis.map { .number($0) }),
            "serviceSyncMillis": .array(dataplaneSyncMillis.map { .number($0) }),
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
        let created = node.addedAt.map(Timestamp.init(secondsSince1970:)) ?? createdAt
        let heartbeat = Timestamp.now()
        var object = Node(
            metadata: ObjectMeta(name: node.name, labels: ["kubernetes.io/hostname": node.name, "kubernetes.io/os": "linux",
                                                           "podlab.dev/lab": paths.lab, "podlab.dev/netns": node.namespace],
                                 uid: stableUID("node/\(paths.lab)/\(node.name)/\(created.secondsSince1970)"), resourceVersion: "1",
                                 creationTimestamp: created),
            spec: NodeSpec(podCIDR: node.podCIDR.description, podCIDRs: [node.podCIDR.description]),
            status: NodeStatus(addresses: [NodeAddress(type: .internalIP, address: node.underlayAddress.address.description),
                                           NodeAddress(type: .hostname, address: node.name)],
                               conditions: [NodeCondition(type: .ready, status: ready ? .true : .false, lastHeartbeatTime: heartbeat,
                                                          lastTransitionTime: created, reason: ready ? "KubeletReady" : "NetworkNotReady",
                                                          message: ready ? "podlab node network is ready" : "the node network is not built yet")],
                               nodeInfo: NodeSystemInfo(kernelVersion: kernel, osImage: "podlab (network namespace \(node.namespace))",
                                                        containerRuntimeVersion: "podlab://0.1.0", kubeletVersion: "v1.31.0-podlab",
                                                        kubeProxyVersion: "v1.31.0-podlab", operatingSystem: "linux", architecture: "amd64")))
        object.status.preservedFields["capacity"] = NodeCapacity.json
        object.status.preservedFields["allocatable"] = NodeCapacity.json
        return NodeOwnership.recording(object, heartbeat: heartbeat)
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
        guard phase == .ready else {
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
