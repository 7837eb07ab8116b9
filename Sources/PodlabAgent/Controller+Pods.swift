import Foundation
import Netlink
import Netns
import PodNet

extension Controller {
    // MARK: Reading

    public func listPods(namespace: String?, options: ListOptions) async throws -> Data {
        let items = try filteredPods(namespace: namespace, selector: options.labelSelector)
        let version = try store.read { try $0.currentResourceVersion() }
        return Data(PodList(items: items, resourceVersion: String(version)).json.jsonText(indent: 0).utf8)
    }

    func filteredPods(namespace: String?, selector: String?) throws -> [Pod] {
        let matcher = try selector.map(Controller.selector)
        return pods.values.filter { pod in
            (namespace == nil || pod.metadata.namespace == namespace) && (matcher?.matches(pod.metadata.labels) ?? true)
        }.sorted { ($0.metadata.namespace, $0.metadata.name) < ($1.metadata.namespace, $1.metadata.name) }
    }

    public func watchPods(namespace: String?, options: ListOptions) async throws -> AsyncStream<Data> {
        let matcher = try options.labelSelector.map(Controller.selector)
        let events = hub.subscribe(kind: "Pod", namespace: namespace)
        // Like the API server without a resourceVersion: the current objects first, as ADDED.
        let initial = options.resourceVersion.flatMap(Int64.init) == nil ? try filteredPods(namespace: namespace, selector: options.labelSelector) : []
        return AsyncStream { continuation in
            for pod in initial { continuation.yield(Controller.watchLine("ADDED", pod.json)) }
            let task = Task {
                for await event in events {
                    if let matcher, let pod = try? Pod(json: JSONReader.value(from: String(decoding: event.object, as: UTF8.self))),
                       !matcher.matches(pod.metadata.labels) { continue }
                    let object = (try? JSONReader.value(from: String(decoding: event.object, as: UTF8.self))) ?? .null
                    continuation.yield(Controller.watchLine(event.type.rawValue, object))
                }
                continuation.finish()
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }

    static func watchLine(_ type: String, _ object: JSONValue) -> Data {
        Data(JSONValue.object(["type": .string(type), "object": object]).jsonText(indent: 0).utf8)
    }

    public func getPod(namespace: String, name: String) async throws -> Data {
        Data(try pod(namespace, name).json.jsonText(indent: 0).utf8)
    }

    func pod(_ namespace: String, _ name: String) throws -> Pod {
        guard let pod = pods["\(namespace)/\(name)"] else { throw APIStatus.notFound(resource: "pods", name: name) }
        return pod
    }

    public func podSandbox(namespace: String, name: String) async throws -> Data {
        let pod = try pod(namespace, name)
        guard let runtime = runtimes[pod.metadata.uid], NetworkNamespace.exists(runtime.sandbox.netns) else {
            throw APIStatus(message: "pod \"\(name)\" has no sandbox yet (\(pod.status.phase?.rawValue ?? "Pending"))", reason: "BadRequest", code: 400)
        }
        let containers: [JSONValue] = pod.spec.containers.map { container -> JSONValue in
            var env: [String: JSONValue] = ["HOSTNAME": .string(PodRuntime.hostname(pod)), "PATH": .string(Spawner.defaultPath)]
            // An exec'd process sees the container's environment; a container whose sources do
            // not resolve never started, so the literal values are all there is to give.
            let resolved = (try? ContainerEnvironment(container: container, pod: pod, nodeAllocatable: NodeCapacity.host).variables)
                ?? container.env.map { ($0.name, $0.value) }
            for (name, value) in resolved { env[name] = .string(value) }
            var fields: [String: JSONValue] = ["name": .string(container.name), "env": .object(env),
                                               "workingDir": .string(container.workingDir.isEmpty ? "/" : container.workingDir)]
            // A container with volumes has a mount namespace of its own while it runs (its
            // process's); without a process there is none to join.
            if container.volumeMounts.isEmpty {
                fields["mnt"] = .string(runtime.sandbox.mnt)
            } else if let process = runtime.processes[container.name], process.isAlive {
                fields["mnt"] = .string("/proc/\(process.pid)/ns/mnt")
            }
            return .object(fields)
        }
        let value: JSONValue = .object([
            "netns": .string(runtime.sandbox.netns), "uts": .string(runtime.sandbox.uts), "ipc": .string(runtime.sandbox.ipc),
            "mnt": .string(runtime.sandbox.mnt),
            "hostname": .string(PodRuntime.hostname(pod)), "podIP": .string(pod.status.podIP), "containers": .array(containers),
        ])
        return Data(value.jsonText(indent: 0).utf8)
    }

    // MARK: Create

    static func decodePod(_ body: Data) throws -> Pod {
        let text = String(decoding: body, as: UTF8.self)
        let value: JSONValue
        do { value = try JSONReader.value(from: text) } catch {
            throw APIStatus.badRequest("the body of the request was in an unknown format: \(error)")
        }
        do { return try Pod(json: value) } catch {
            throw APIStatus.badRequest("\(error)")
        }
    }

    public func createPod(namespace: String, body: Data) async throws -> Data {
        try requireReady()
        var pod = try Controller.decodePod(body).applyingDefaults()
        if pod.metadata.namespace.isEmpty { pod.metadata.namespace = namespace }
        guard pod.metadata.namespace == namespace else {
            throw APIStatus.badRequest("the namespace of the provided object does not match the namespace sent on the request")
        }
        do { try pod.validated() } catch { throw error.status }
        guard pods[key(pod)] == nil else { throw APIStatus.alreadyExists(resource: "pods", name: pod.metadata.name) }
        guard let plan else { throw APIStatus.internalError("the lab has no network plan") }

        let node = try schedule(pod, plan: plan)
        let now = Timestamp.now()
        pod.metadata.uid = UUID().uuidString.lowercased()
        pod.metadata.creationTimestamp = now
        pod.metadata.generation = 1
        pod.metadata.resourceVersion = ""
        pod.spec.nodeName = node.name
        pod.status = PodStatus()
        pod.status.phase = .pending
        pod.status.hostIP = node.underlayAddress.address.description
        pod.status.hostIPs = [PodIP(ip: pod.status.hostIP)]
        pod.status.startTime = now
        pod.status.conditions = [PodCondition(type: .podScheduled, status: .true, lastTransitionTime: now)]
        pod.status.containerStatuses = pod.spec.containers.map { container in
            ContainerStatus(name: container.name, state: .waiting(reason: "ContainerCreating"), ready: false, started: false,
                            restartCount: 0, image: container.image, imageID: "")
        }
        let stored = pod
        // The address and the pod land in one transaction: both or neither.
        pod = try store.write { tx in
            var pod = stored
            var allocator = try allocator(for: node, tx)
            let address: IPv4Address
            do { address = try allocator.allocate(for: pod.metadata.uid) } catch {
                throw APIStatus(message: "\(error)", reason: "ServiceUnavailable", code: 503)
            }
            try tx.allocate(address: address.description, node: node.name, owner: pod.metadata.uid)
            try tx.setMeta("lastAllocated/\(node.name)", address.description)
            pod.status.podIP = address.description
            pod.status.podIPs = [PodIP(ip: address.description)]
            PodStatusRules.update(&pod, now: now)
            pod.metadata.resourceVersion = String(try tx.nextResourceVersion())
            try tx.put(Controller.storeObject(pod))
            return pod
        }
        pods[key(pod)] = pod
        createdClock[pod.metadata.uid] = .now
        publish(.added, pod)
        let podKey = key(pod)
        Task { await self.realize(podKey) }
        return Data(pod.json.jsonText(indent: 0).utf8)
    }

    /// How long to wait before building a failed sandbox again: 1 s, doubling up to 30 s.
    static func sandboxRetryDelay(attempt: Int) -> Duration {
        .seconds(min(30, 1 << min(attempt, 5)))
    }

    /// Builds the sandbox and starts the containers of a newly stored pod. A sandbox that
    /// fails is built again later (with back-off) for as long as the pod exists, as the
    /// kubelet does; meanwhile the pod says why (`FailedCreatePodSandBox`).
    func realize(_ podKey: String, attempt: Int = 0) async {
        guard var pod = pods[podKey], pod.metadata.deletionTimestamp == nil, runtimes[pod.metadata.uid] == nil,
              let node = nodes[pod.spec.nodeName], let address = IPv4Address(pod.status.podIP), let plan else { return }
        let uid = pod.metadata.uid
        sandboxRetries.removeValue(forKey: uid)
        do {
            // The pod's files and volumes first, as the kubelet mounts volumes before the sandbox.
            try PodVolumes.setUp(pod, sandbox: PodRuntime.sandboxPaths(lab: paths.lab, paths: paths, pod: pod))
            let started = ContinuousClock.now
            defer { spares.refill(node, mtu: UInt32(plan.podMTU), namespaces: labNamespaces) }
            let (sandbox, interface, finished) = try PodRuntime.buildSandbox(lab: paths.lab, namespaces: labNamespaces, paths: paths, pod: pod,
                                                                             node: node, address: address,
                                                                             mtu: UInt32(plan.podMTU), spares: spares)
            // From the request to the end of the worker's job (waiting for the worker included).
            sandboxMillis.append(Controller.millis(finished - started))
            let runtime = PodRuntime(uid: pod.metadata.uid, sandbox: sandbox)
            runtime.interface = interface
            runtimes[pod.metadata.uid] = runtime
        } catch {
            logger.error("pod \(podKey): creating the sandbox failed: \(error)")
            let failedMount = error is VolumeSetUpError
            pod.status.message = failedMount ? "\(error)" : "Failed to create pod sandbox: \(error)"
            pod.status.reason = failedMount ? "FailedMount" : "FailedCreatePodSandBox"
            for index in pod.status.containerStatuses.indices {
                pod.status.containerStatuses[index].state = .waiting(reason: "ContainerCreating",
                                                                     message: failedMount ? "\(error)" : "sandbox failed: \(error)")
            }
            save(pod)
            let delay = Controller.sandboxRetryDelay(attempt: attempt)
            logger.info("pod \(podKey): building the sandbox again in \(delay)")
            sandboxRetries[uid] = Task { [weak self] in
                guard (try? await Task.sleep(for: delay)) != nil else { return }
                guard let self else { return }
                await self.retrySandbox(podKey, uid: uid, attempt: attempt + 1)
            }
            return
        }
        if pod.status.reason == "FailedCreatePodSandBox" || pod.status.reason == "FailedMount" {
            pod.status.reason = ""
            pod.status.message = ""
            save(pod)
        }
        for container in pod.spec.containers { startContainer(podKey, container.name) }
    }

    /// A scheduled retry: only for the same pod (not one re-created under the same name).
    func retrySandbox(_ podKey: String, uid: String, attempt: Int) async {
        guard pods[podKey]?.metadata.uid == uid else { return }
        await realize(podKey, attempt: attempt)
    }

    // MARK: Scheduling and addresses

    /// The node's IP allocator, restored from the store (allocations and the last address
    /// handed out, so freed addresses are not reused at once).
    func allocator(for node: NodePlan, _ tx: Store.Transaction) throws -> PodIPAllocator {
        var allocator = PodIPAllocator(node: node.name, podCIDR: node.podCIDR)
        var allocations: [IPv4Address: String] = [:]
        for (address, owner) in try tx.allocations(node: node.name) {
            if let address = IPv4Address(address) { allocations[address] = owner }
        }
        try allocator.restore(allocations: allocations, lastAllocated: try tx.meta("lastAllocated/\(node.name)").flatMap(IPv4Address.init))
        return allocator
    }

    /// Picks the pod's node (PodNet's scheduler: `spec.nodeName`, else the fewest pods).
    func schedule(_ pod: Pod, plan: LabPlan) throws -> NodePlan {
        var counts: [String: Int] = [:]
        for other in pods.values { counts[other.spec.nodeName, default: 0] += 1 }
        let candidates = try store.read { tx in
            try plan.nodes.map { node in
                SchedulingCandidate(name: node.name, podCount: counts[node.name] ?? 0, freeAddresses: try allocator(for: node, tx).available)
            }
        }
        do {
            let name = try Scheduler.selectNode(for: pod, among: candidates)
            guard let node = plan.node(named: name) else { throw APIStatus.internalError("scheduler chose unknown node \(name)") }
            return node
        } catch let error as SchedulingError {
            if case .unknownNode = error {
                throw APIStatus.invalid(kind: "Pod", name: pod.metadata.name, errors: [
                    FieldError(type: .notFound, field: FieldPath("spec").child("nodeName"), value: .string(pod.spec.nodeName),
                               detail: error.description),
                ])
            }
            throw APIStatus(message: error.description, reason: "ServiceUnavailable", code: 503)
        }
    }

    // MARK: Update

    public func replacePod(namespace: String, name: String, body: Data) async throws -> Data {
        try requireReady()
        let old = try pod(namespace, name)
        var new = try Controller.decodePod(body).applyingDefaults()
        if new.metadata.namespace.isEmpty { new.metadata.namespace = namespace }
        guard new.metadata.name == name else {
            throw APIStatus.badRequest("the name of the object (\(new.metadata.name)) does not match the name on the URL (\(name))")
        }
        if !new.metadata.resourceVersion.isEmpty, new.metadata.resourceVersion != old.metadata.resourceVersion {
            throw APIStatus.conflict(resource: "pods", name: name)
        }
        // Fields the client cannot set keep their values (status, uid, node, timestamps).
        new.metadata.uid = old.metadata.uid
        new.metadata.creationTimestamp = old.metadata.creationTimestamp
        new.metadata.deletionTimestamp = old.metadata.deletionTimestamp
        new.metadata.generation = old.metadata.generation
        if new.spec.nodeName.isEmpty { new.spec.nodeName = old.spec.nodeName }
        new.status = old.status
        do { try new.validatedUpdate(from: old) } catch { throw error.status }

        let changed = zip(old.spec.containers, new.spec.containers).filter { $0.image != $1.image }.map(\.1.name)
        if new.spec != old.spec { new.metadata.generation = (old.metadata.generation ?? 1) + 1 }
        for name in changed {
            if let index = new.status.containerStatuses.firstIndex(where: { $0.name == name }) {
                new.status.containerStatuses[index].image = new.spec.containers.first { $0.name == name }?.image ?? ""
            }
        }
        save(new)
        guard let saved = pods[key(new)] else { throw APIStatus.notFound(resource: "pods", name: name) }
        // A new image means a new container: stop the old process, start the new one at once.
        if let runtime = runtimes[saved.metadata.uid] {
            for name in changed {
                if let process = runtime.processes[name] {
                    runtime.recreate.insert(name)
                    Task { await ContainerRuntime.stop(process, grace: .seconds(Int64(saved.spec.terminationGracePeriodSeconds ?? 30))) }
                } else {
                    runtime.restartTasks[name]?.cancel()
                    runtime.restartTasks[name] = nil
                    startContainer(key(saved), name, countsAsRestart: true)
                }
            }
        }
        return Data(saved.json.jsonText(indent: 0).utf8)
    }

    // MARK: Delete

    public func deletePod(namespace: String, name: String, gracePeriodSeconds: Int?) async throws -> Data {
        var pod = try pod(namespace, name)
        if pod.metadata.deletionTimestamp == nil {
            pod.metadata.deletionTimestamp = .now()
            pod.metadata.deletionGracePeriodSeconds = Int64(gracePeriodSeconds ?? Int(pod.spec.terminationGracePeriodSeconds ?? 30))
            save(pod)
            let podKey = key(pod)
            Task { await self.finishDeletion(podKey) }
        }
        return Data((pods[key(pod)] ?? pod).json.jsonText(indent: 0).utf8)
    }

    /// Stops the containers (SIGTERM, then SIGKILL after the grace period), removes the
    /// sandbox and the node's neighbour entry, frees the IP, forgets the pod.
    func finishDeletion(_ podKey: String) async {
        guard let pod = pods[podKey] else { return }
        sandboxRetries.removeValue(forKey: pod.metadata.uid)?.cancel()
        let runtime = runtimes[pod.metadata.uid]
        runtime?.deleting = true
        runtime?.cancelRestarts()
        let grace = Duration.seconds(PodStatusRules.remainingGracePeriod(of: pod, now: .now()))
        let processes = Array(runtime?.processes.values ?? [:].values)
        await withTaskGroup(of: Void.self) { group in
            for process in processes { group.addTask { await ContainerRuntime.stop(process, grace: grace) } }
        }
        do {
            do {
                try PodRuntime.removeSandbox(runtime?.sandbox ?? PodRuntime.sandboxPaths(lab: paths.lab, paths: paths, pod: pod),
                                             namespaces: labNamespaces)
            } catch let error as LabNamespaces.NotOwned {
                // Its sandbox was never built (the name was taken): nothing of the pod's is there.
                logger.warning("pod \(podKey): \(error)")
            }
            // The node's permanent entry for the pod (its MAC is derived from its IP).
            if let node = nodes[pod.spec.nodeName], let address = IPv4Address(pod.status.podIP) {
                try? node.netlink.deleteNeighbor(Neighbor(interfaceIndex: node.bridge.index, address: address, mac: MACAddress.derived(from: address)))
            }
            try store.write { tx in
                try tx.release(owner: pod.metadata.uid)
                try tx.deleteProcesses(podUID: pod.metadata.uid)
                try tx.delete(kind: "Pod", namespace: pod.metadata.namespace, name: pod.metadata.name)
                _ = try tx.nextResourceVersion()
            }
        } catch {
            logger.error("pod \(podKey): deletion failed: \(error)")
            return
        }
        pods.removeValue(forKey: podKey)
        runtimes.removeValue(forKey: pod.metadata.uid)
        createdClock.removeValue(forKey: pod.metadata.uid)
        try? FileManager.default.removeItem(atPath: paths.podLogDirectory(namespace: pod.metadata.namespace, name: pod.metadata.name, uid: pod.metadata.uid))
        // Its emptyDir volumes with it (the memory-backed ones went with the mount namespace).
        try? FileManager.default.removeItem(atPath: paths.podDirectory(uid: pod.metadata.uid))
        publish(.deleted, pod)
    }

    // MARK: Persistence

    /// Stores a changed pod (bumping its resourceVersion) and tells watchers.
    func save(_ pod: Pod) {
        var pod = pod
        PodStatusRules.update(&pod, now: .now())
        do {
            pod = try store.write { tx in
                var pod = pod
                pod.metadata.resourceVersion = String(try tx.nextResourceVersion())
                try tx.put(Controller.storeObject(pod))
                return pod
            }
        } catch {
            logger.error("storing pod \(key(pod)) failed: \(error)")
            return
        }
        pods[key(pod)] = pod
        if pod.status.phase == .running, let created = createdClock.removeValue(forKey: pod.metadata.uid) {
            startMillis.append(Controller.millis(ContinuousClock.now - created))
        }
        publish(.modified, pod)
    }

    func publish(_ type: WatchEvent.Kind, _ pod: Pod) {
        hub.publish(WatchEvent(type: type, objectKind: "Pod", namespace: pod.metadata.namespace,
                               resourceVersion: Int64(pod.metadata.resourceVersion) ?? 0, object: Data(pod.json.jsonText(indent: 0).utf8)))
    }

    static func millis(_ duration: Duration) -> Double {
        Double(duration.components.seconds) * 1000 + Double(duration.components.attoseconds) / 1e15
    }

    static func storeObject(_ pod: Pod) -> Store.Object {
        Store.Object(kind: "Pod", namespace: pod.metadata.namespace, name: pod.metadata.name, uid: pod.metadata.uid,
                     resourceVersion: Int64(pod.metadata.resourceVersion) ?? 0, json: Data(pod.json.jsonText(indent: 0).utf8))
    }
}

extension Controller {
    /// Parses a `labelSelector` query; a bad one is a 400 like the API server's.
    static func selector(_ text: String) throws -> LabelSelector {
        do { return try LabelSelector(parsing: text) } catch {
            throw APIStatus.badRequest("unable to parse requirement: \(error)")
        }
    }
}
