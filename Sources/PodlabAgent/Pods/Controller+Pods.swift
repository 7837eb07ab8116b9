import Foundation
import Netlink
import Netns
import PodNet

extension Controller {
    // MARK: Reading

    public func listPods(namespace: String?, options: ListOptions) async throws -> Data {
        try listData(try filtered(pods.values, namespace: namespace, selector: options.labelSelector))
    }

    public func watchPods(namespace: String?, options: ListOptions) async throws -> WatchLines {
        try watchStream(Pod.self, namespace: namespace, options: options,
                        current: filtered(pods.values, namespace: namespace, selector: options.labelSelector))
    }

    static func watchLine(_ type: String, _ object: JSONValue) -> Data {
        Data(JSONValue.object(["type": .string(type), "object": object]).jsonText(indent: 0).utf8)
    }

    /// The same line for an object written already (its kept or published text), not written again.
    static func watchLine(_ type: String, written object: [UInt8]) -> Data {
        object.withUnsafeBytes { WatchEvent.line(type, object: $0) }
    }

    public func getPod(namespace: String, name: String) async throws -> Data {
        Data(encodedObjects.encoded(try pod(namespace, name)).text)
    }

    func pod(_ namespace: String, _ name: String) throws -> Pod {
        guard let pod = pods["\(namespace)/\(name)"] else { throw APIStatus.notFound(resource: "pods", name: name) }
        return pod
    }

    public func podSandbox(namespace: String, name: String) async throws -> Data {
        let pod = try pod(namespace, name)
        guard let runtime = runtimes[pod.metadata.uid], sandboxRuntime.sandboxExists(runtime.sandbox) else {
            throw APIStatus(message: "pod \"\(name)\" has no sandbox yet (\(pod.status.phase?.rawValue ?? "Pending"))", reason: "BadRequest", code: 400)
        }
        let containers: [JSONValue] = pod.spec.allContainers.map { container -> JSONValue in
            var env: [String: JSONValue] = ["HOSTNAME": .string(PodRuntime.hostname(pod)), "PATH": .string(Spawner.defaultPath)]
            // An exec'd process sees the container's environment; a container whose sources do
            // not resolve never started, so the literal values are all there is to give.
            let resolved = startEnvironment(of: container, in: pod)
                ?? container.env.map { ($0.name, $0.value) }
            for (name, value) in resolved { env[name] = .string(value) }
            var fields: [String: JSONValue] = ["name": .string(container.name), "env": .object(env),
                                               "workingDir": .string(container.workingDir.isEmpty ? "/" : container.workingDir)]
            // An exec'd process runs as the container's user (a container whose securityContext
            // forbids starting never runs, so there is nothing to exec into).
            if let credentials = try? ContainerCredentials.resolve(pod: pod, container: container) {
                fields["runAsUser"] = .integer(Int64(credentials.uid))
                fields["runAsGroup"] = .integer(Int64(credentials.gid))
                fields["groups"] = .array(credentials.groups.map { .integer(Int64($0)) })
            }
            // A container with volumes has a mount namespace of its own while it runs (its
            // process's); without a process there is none to join.
            if container.volumeMounts.isEmpty {
                fields["mnt"] = .string(runtime.sandbox.mnt)
            } else if let process = runtime.processes[container.name], sandboxRuntime.isAlive(process) {
                fields["mnt"] = .string("/proc/\(process.pid)/ns/mnt")
            }
            // An exec'd process counts against the container's limits, as in Kubernetes.
            if let process = runtime.processes[container.name], sandboxRuntime.isAlive(process),
               let cgroup = cgroups.existing(uid: pod.metadata.uid, container: container.name, limits: ContainerCgroupLimits(container)) {
                if let directory = cgroup.directory { fields["cgroupDirectory"] = .string(directory) }
                if !cgroup.procsFiles.isEmpty { fields["cgroupProcs"] = .array(cgroup.procsFiles.map { .string($0) }) }
            }
            return .object(fields)
        }
        var fields: [String: JSONValue] = [
            "netns": .string(runtime.sandbox.netns), "uts": .string(runtime.sandbox.uts), "ipc": .string(runtime.sandbox.ipc),
            "mnt": .string(runtime.sandbox.mnt),
            "hostname": .string(PodRuntime.hostname(pod)), "podIP": .string(pod.status.podIP), "containers": .array(containers),
        ]
        // With `shareProcessNamespace`: the pod's pid namespace, which an exec'd process joins.
        if let pause = runtime.pause, sandboxRuntime.pauseIsRunning(pause) { fields["pid"] = .string(PodPause.namespacePath(pause)) }
        return Data(JSONValue.object(fields).jsonText(indent: 0).utf8)
    }

    // MARK: Create

    /// Creates a pod: validated, defaulted, scheduled, given an address, stored, then built.
    /// A dry run goes through every check a create makes (the address included, on a copy of
    /// the node's allocator) and answers the pod as it would be stored, but stores nothing and
    /// builds nothing: no resourceVersion, and no address, as the API server answers before any
    /// network exists.
    public func createPod(namespace: String, body: Data, dryRun: Bool = false) async throws -> Data {
        try requireReady()
        let pod = try Controller.decodeObject(body, as: Pod.self).applyingDefaults()
        return Data(try admitPod(pod, namespace: namespace, dryRun: dryRun).json.jsonText(indent: 0).utf8)
    }

    /// Creates a pod (see `createPod`). `controlled` is for the agent's own controllers: their
    /// pods carry the `ownerReferences` a user's pod may not.
    @discardableResult
    func admitPod(_ pod: Pod, namespace: String, dryRun: Bool = false, controlled: Bool = false) throws -> Pod {
        var pod = pod
        if pod.metadata.namespace.isEmpty { pod.metadata.namespace = namespace }
        guard pod.metadata.namespace == namespace else {
            throw APIStatus.badRequest("the namespace of the provided object does not match the namespace sent on the request")
        }
        // The mesh's sidecar, injected where the API server's webhooks act: before validation,
        // so the stored pod (and a dry run's answer) carries it.
        do {
            pod = try MeshInjection.inject(pod, namespaceLabels: namespaces[namespace]?.metadata.labels ?? [:]).applyingDefaults()
        } catch { throw error.status }
        var checked = pod
        if controlled { checked.metadata.preservedFields["ownerReferences"] = nil }
        do { try checked.validated() } catch { throw error.status }
        try requireCgroups(for: pod)
        try requireNamespace(namespace, resource: "pods", name: pod.metadata.name)
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
        // Set once, as the API server does at creation: an update keeps the status's class.
        pod.status.qosClass = PodQOSClass(pod.spec)
        // Until it starts, every container waits with the kubelet's default reason:
        // `PodInitializing` in a pod with init containers, else `ContainerCreating`.
        let waiting = ContainerState.waiting(reason: PodInitialization.initialWaitingReason(for: pod.spec))
        func initialStatus(_ container: Container) -> ContainerStatus {
            ContainerStatus(name: container.name, state: waiting, ready: false, started: false, restartCount: 0, image: container.image, imageID: "")
        }
        pod.status.initContainerStatuses = pod.spec.initContainers.map(initialStatus)
        pod.status.containerStatuses = pod.spec.containers.map(initialStatus)
        // A pod with `hostNetwork` takes no address from the node's pod CIDR: its IP is the
        // node's, known from the start (the kubelet reports the host IPs as its pod IPs).
        let hostNetwork = pod.spec.hostNetwork
        if dryRun {
            if !hostNetwork { _ = try store.read { tx in try nextAddress(on: node, for: pod, tx) } }
            PodStatusRules.update(&pod, now: now)
            return pod
        }
        let stored = pod
        // The address and the pod land in one transaction: both or neither.
        pod = try store.write { tx in
            var pod = stored
            let address: IPv4Address
            if hostNetwork {
                address = node.underlayAddress.address
            } else {
                address = try nextAddress(on: node, for: pod, tx)
                try tx.allocate(address: address.description, node: node.name, owner: pod.metadata.uid)
                try tx.setMeta("lastAllocated/\(node.name)", address.description)
            }
            pod.status.podIP = address.description
            pod.status.podIPs = [PodIP(ip: address.description)]
            PodStatusRules.update(&pod, now: now)
            // The kubelet's first status write happens here, with the create.
            pod.metadata.preservedFields["managedFields"] = PodStatusOwnership.recordKubeletWrite(
                from: nil, to: pod.status, managedFields: pod.metadata.preservedFields["managedFields"], time: now)
            pod.metadata.resourceVersion = String(try tx.nextResourceVersion())
            try tx.put(Controller.storeObject(pod))
            return pod
        }
        pods[key(pod)] = pod
        createdClock[pod.metadata.uid] = .now
        recordEvent(pod, type: .normal, reason: EventReason.scheduled,
                    message: "Successfully assigned \(pod.metadata.namespace)/\(pod.metadata.name) to \(pod.spec.nodeName)", source: "default-scheduler")
        publish(.added, pod)
        let podKey = key(pod)
        Task { await self.realize(podKey) }
        return pod
    }

    /// A pod with limits needs cgroups to enforce them: on a host without, it is refused as a
    /// field podlab cannot act on (422), rather than run unlimited.
    func requireCgroups(for pod: Pod) throws {
        guard case let .failure(unavailable) = cgroups.hierarchy else { return }
        let errors = PodSupport.limitRefusals(pod, reason: unavailable.description)
        guard errors.isEmpty else { throw InvalidObjectError(kind: Pod.kind, name: pod.metadata.name, errors: errors).status }
    }

    /// The address the node's allocator hands to `pod` next; a full pod CIDR is a 503.
    func nextAddress(on node: NodePlan, for pod: Pod, _ tx: Store.Transaction) throws -> IPv4Address {
        var allocator = try allocator(for: node, tx)
        do { return try allocator.allocate(for: pod.metadata.uid) } catch {
            throw APIStatus(message: "\(error)", reason: "ServiceUnavailable", code: 503)
        }
    }

    /// Builds the sandbox and starts the containers of a newly stored pod (its init containers
    /// first, see `startPending`). A sandbox that
    /// fails is built again later (with back-off) for as long as the pod exists, as the
    /// kubelet does; meanwhile the pod says why (`FailedCreatePodSandBox`).
    func realize(_ podKey: String, attempt: Int = 0) async {
        guard var pod = pods[podKey], pod.metadata.deletionTimestamp == nil, !(pod.status.phase?.isTerminal ?? false),
              runtimes[pod.metadata.uid] == nil,
              let node = nodes[pod.spec.nodeName], let address = IPv4Address(pod.status.podIP), let plan else { return }
        let uid = pod.metadata.uid
        sandboxRetries.removeValue(forKey: uid)
        let begun = ContinuousClock.now
        var volumesDone = begun
        // A sandbox that took long says where the time went (waiting to begin, the volumes, the
        // namespaces and interface): on a loaded machine it is the step a pod can wait on longest.
        defer {
            let end = ContinuousClock.now
            let waited = createdClock[uid].map { begun - $0 } ?? .zero
            if end - begun > .seconds(1) || waited > .seconds(1) {
                func seconds(_ duration: Duration) -> String { String(format: "%.2f s", Controller.millis(duration) / 1000) }
                logger.warning("pod \(podKey): slow sandbox: \(seconds(waited)) from creation to its start, volumes \(seconds(volumesDone - begun)), namespaces and interface \(seconds(end - volumesDone))")
            }
        }
        do {
            // The pod's files and volumes first, as the kubelet mounts volumes before the sandbox.
            try PodVolumes.setUp(pod, sandbox: PodRuntime.sandboxPaths(lab: paths.lab, paths: paths, pod: pod),
                                 node: plan.node(named: pod.spec.nodeName),
                                 clusterDNS: PodDNS.clusterDNSAddress(serviceCIDR: plan.serviceCIDR)?.description,
                                 objects: configObjects(namespace: pod.metadata.namespace), tokens: serviceAccounts.issue)
            volumesDone = ContinuousClock.now
            if pod.spec.hostNetwork {
                let started = ContinuousClock.now
                let (sandbox, finished) = try sandboxRuntime.buildHostNetworkSandbox(pod, lab: paths.lab, paths: paths, namespaces: labNamespaces)
                sandboxMillis.append(Controller.millis(finished - started))
                runtimes[pod.metadata.uid] = try runtimeWithPause(pod, sandbox: sandbox)
                return afterSandbox(podKey)
            }
            let started = ContinuousClock.now
            defer { sandboxRuntime.refillSpares(node: node, mtu: UInt32(plan.podMTU), namespaces: labNamespaces) }
            let (sandbox, finished) = try sandboxRuntime.buildSandbox(pod, lab: paths.lab, paths: paths, namespaces: labNamespaces,
                                                                      node: node, address: address, mtu: UInt32(plan.podMTU))
            // The capture is in place before any container starts, as Istio's init step: no
            // connection of the application leaves uncaptured. A failure is the sandbox's, retried.
            if let capture = MeshCaptureRules.forPod(pod) {
                do { try sandboxRuntime.programMeshCapture(capture, sandbox: sandbox) } catch {
                    try? sandboxRuntime.removeSandbox(sandbox, namespaces: labNamespaces)
                    throw error
                }
            }
            // From the request to the end of the worker's job (waiting for the worker included).
            sandboxMillis.append(Controller.millis(finished - started))
            runtimes[pod.metadata.uid] = try runtimeWithPause(pod, sandbox: sandbox)
        } catch {
            logger.error("pod \(podKey): creating the sandbox failed: \(error)")
            let failedMount = error is VolumeSetUpError
            if failedMount, pod.status.message != "\(error)" {
                recordEvent(pod, type: .warning, reason: EventReason.failedMount, message: "\(error)", source: "kubelet")
            }
            pod.status.message = failedMount ? "\(error)" : "Failed to create pod sandbox: \(error)"
            pod.status.reason = failedMount ? "FailedMount" : "FailedCreatePodSandBox"
            // Containers waiting to start say why; one that already ran (an init container that
            // completed, before its sandbox had to be built again) keeps its state.
            let waiting = ContainerState.waiting(reason: PodInitialization.initialWaitingReason(for: pod.spec),
                                                 message: failedMount ? "\(error)" : "sandbox failed: \(error)")
            for index in pod.status.initContainerStatuses.indices where pod.status.initContainerStatuses[index].state.waiting != nil {
                pod.status.initContainerStatuses[index].state = waiting
            }
            for index in pod.status.containerStatuses.indices where pod.status.containerStatuses[index].state.waiting != nil {
                pod.status.containerStatuses[index].state = waiting
            }
            save(pod)
            let delay = SandboxRetry.delay(attempt: attempt)
            logger.info("pod \(podKey): building the sandbox again in \(delay)")
            sandboxRetries[uid] = Task { [weak self] in
                guard (try? await Task.sleep(for: delay)) != nil else { return }
                guard let self else { return }
                await self.retrySandbox(podKey, uid: uid, attempt: attempt + 1)
            }
            return
        }
        afterSandbox(podKey)
    }

    /// The agent's record of a pod whose sandbox was just built; with `shareProcessNamespace`,
    /// its pause process started in it, the pod's pid namespace being part of the sandbox. A
    /// pause that does not start fails the sandbox (removed again, then retried).
    private func runtimeWithPause(_ pod: Pod, sandbox: PodSandboxPaths) throws -> PodRuntime {
        let runtime = PodRuntime(uid: pod.metadata.uid, sandbox: sandbox)
        guard pod.spec.sharesProcessNamespace else { return runtime }
        do { try startPause(pod, runtime: runtime) } catch {
            try? sandboxRuntime.removeSandbox(sandbox, namespaces: labNamespaces)
            throw error
        }
        return runtime
    }

    /// The sandbox is built: the pod no longer says why it was not, and its containers start.
    private func afterSandbox(_ podKey: String) {
        if var pod = pods[podKey], pod.status.reason == "FailedCreatePodSandBox" || pod.status.reason == "FailedMount" {
            pod.status.reason = ""
            pod.status.message = ""
            save(pod)
        }
        startPending(podKey)
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
        // The node ports its pods hold (a finished pod holds none: its sandbox is gone).
        var usedPorts: [String: [HostPort: String]] = [:]
        for other in pods.values {
            counts[other.spec.nodeName, default: 0] += 1
            guard !(other.status.phase?.isTerminal ?? false) else { continue }
            for port in other.hostPorts { usedPorts[other.spec.nodeName, default: [:]][port] = other.qualifiedName }
        }
        let candidates = try store.read { tx in
            try plan.nodes.map { node in
                SchedulingCandidate(name: node.name, podCount: counts[node.name] ?? 0, freeAddresses: try allocator(for: node, tx).available,
                                    usedHostPorts: usedPorts[node.name] ?? [:])
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

    /// Replaces a pod's spec (only images may change). A dry run answers the pod as the update
    /// would store it, with its current resourceVersion, and changes nothing.
    public func replacePod(namespace: String, name: String, body: Data, dryRun: Bool = false) async throws -> Data {
        try requireReady()
        let old = try pod(namespace, name)
        var new = try Controller.decodeObject(body, as: Pod.self).applyingDefaults()
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

        let changed = zip(old.spec.allContainers, new.spec.allContainers).filter { $0.image != $1.image }.map(\.1.name)
        if new.spec != old.spec { new.metadata.generation = (old.metadata.generation ?? 1) + 1 }
        for name in changed {
            if var status = new.status[container: name] {
                status.image = new.spec.container(named: name)?.image ?? ""
                new.status[container: name] = status
            }
        }
        // An update that changes nothing after defaulting is not stored: no new resourceVersion, no event.
        if UnchangedWrite.isUnchanged(stored: old.json, written: new.json) { return Data(old.json.jsonText(indent: 0).utf8) }
        if dryRun {
            new.metadata.resourceVersion = old.metadata.resourceVersion
            PodStatusRules.update(&new, now: .now())
            return Data(new.json.jsonText(indent: 0).utf8)
        }
        save(new)
        guard let saved = pods[key(new)] else { throw APIStatus.notFound(resource: "pods", name: name) }
        // The downward API's files follow the pod's labels and annotations.
        if saved.metadata.labels != old.metadata.labels || saved.metadata.annotations != old.metadata.annotations {
            refreshVolumes(of: saved, selected: VolumeFiles.readsPodMetadata)
        }
        // A new image means a new container: stop the old process, start the new one at once.
        // A regular init container that runs finishes its run (the kubelet replaces only app
        // containers and sidecars); one not started yet starts with the new image in its turn.
        if let runtime = runtimes[saved.metadata.uid] {
            let policy = saved.spec.effectiveRestartPolicy
            for name in changed {
                guard let role = saved.spec.role(of: name) else { continue }
                runtime.failedPulls[name] = nil
                if let process = runtime.processes[name] {
                    guard role != .initContainer else { continue }
                    runtime.recreate.insert(name)
                    Task { await self.sandboxRuntime.stop(process, grace: .seconds(Int64(saved.spec.terminationGracePeriodSeconds ?? 30))) }
                    continue
                }
                let status = saved.status[container: name]
                if PodInitialization.awaitsFirstStart(status) { continue }
                // An exited container its policy does not restart stays exited (the kubelet
                // starts only containers that run, or would run again).
                if let exit = status?.state.terminated, !PodInitialization.restarts(role, podPolicy: policy, exitCode: exit.exitCode) { continue }
                runtime.restartTasks[name]?.cancel()
                runtime.restartTasks[name] = nil
                // A container that never ran (its image could not be pulled) starts for the first time.
                startContainer(key(saved), name, countsAsRestart: !(status?.containerID.isEmpty ?? true))
            }
            startPending(key(saved))
        }
        return Data(saved.json.jsonText(indent: 0).utf8)
    }

    // MARK: Delete

    /// Starts a pod's deletion (graceful: it is gone once its containers stopped). A dry run
    /// answers the pod as the deletion would mark it, and changes nothing.
    public func deletePod(namespace: String, name: String, gracePeriodSeconds: Int?, dryRun: Bool = false) async throws -> Data {
        var pod = try pod(namespace, name)
        if pod.metadata.deletionTimestamp == nil {
            if dryRun {
                pod.metadata.deletionTimestamp = .now()
                pod.metadata.deletionGracePeriodSeconds = Int64(gracePeriodSeconds ?? Int(pod.spec.terminationGracePeriodSeconds ?? 30))
                return Data(pod.json.jsonText(indent: 0).utf8)
            }
            beginDeletion(pod, gracePeriodSeconds: gracePeriodSeconds)
        }
        return Data((pods[key(pod)] ?? pod).json.jsonText(indent: 0).utf8)
    }

    /// Marks a pod deleted (it shows `Terminating` at once) and stops it in the background.
    func beginDeletion(_ pod: Pod, gracePeriodSeconds: Int? = nil) {
        guard pod.metadata.deletionTimestamp == nil else { return }
        var pod = pod
        pod.metadata.deletionTimestamp = .now()
        pod.metadata.deletionGracePeriodSeconds = Int64(gracePeriodSeconds ?? Int(pod.spec.terminationGracePeriodSeconds ?? 30))
        save(pod)
        let podKey = key(pod)
        Task { await self.finishDeletion(podKey) }
    }

    /// Stops the containers (SIGTERM, then SIGKILL after the grace period), removes the
    /// sandbox and the node's neighbour entry, frees the IP, forgets the pod.
    func finishDeletion(_ podKey: String) async {
        guard let pod = pods[podKey] else { return }
        sandboxRetries.removeValue(forKey: pod.metadata.uid)?.cancel()
        let runtime = runtimes[pod.metadata.uid]
        runtime?.deleting = true
        runtime?.cancelRestarts()
        containerProber?.unregister(podUID: pod.metadata.uid)
        // Out of every node's Service rules before its containers are told to stop.
        if runtime?.processes.isEmpty == false { await drainServiceEndpoints(of: pod) }
        let grace = Duration.seconds(PodStatusRules.remainingGracePeriod(of: pod, now: .now()))
        let processes = Array(runtime?.processes.values ?? [:].values)
        for name in (runtime?.processes.keys).map(Array.init) ?? [] {
            recordEvent(pod, container: name, type: .normal, reason: EventReason.killing, message: "Stopping container \(name)")
        }
        await withTaskGroup(of: Void.self) { group in
            for process in processes { group.addTask { await self.sandboxRuntime.stop(process, grace: grace) } }
        }
        await stopPause(runtime)
        // The DELETED event carries the version the deletion took: a client that listed the
        // terminating pod watches from the list's version (kubectl delete waits so).
        var deleted = pod
        do {
            try releaseSandbox(of: pod, sandbox: runtime?.sandbox ?? PodRuntime.sandboxPaths(lab: paths.lab, paths: paths, pod: pod))
            deleted.metadata.resourceVersion = String(try store.write { tx in
                try tx.delete(kind: "Pod", namespace: pod.metadata.namespace, name: pod.metadata.name)
                return try tx.nextResourceVersion()
            })
        } catch {
            logger.error("pod \(podKey): deletion failed: \(error)")
            return
        }
        pods.removeValue(forKey: podKey)
        runtimes.removeValue(forKey: pod.metadata.uid)
        createdClock.removeValue(forKey: pod.metadata.uid)
        serviceAccounts.forget(podUID: pod.metadata.uid)
        try? FileManager.default.removeItem(atPath: paths.podLogDirectory(namespace: pod.metadata.namespace, name: pod.metadata.name, uid: pod.metadata.uid))
        // Its emptyDir volumes with it (the memory-backed ones went with the mount namespace),
        // and its OCI containers' bundles, their roots unmounted first.
        OCIContainers.removeAll(podDirectory: paths.podDirectory(uid: pod.metadata.uid), paths: paths)
        try? FileManager.default.removeItem(atPath: paths.podDirectory(uid: pod.metadata.uid))
        removeMeshCertificate(uid: pod.metadata.uid)
        publish(.deleted, deleted)
    }

    /// Removes what a pod's network is made of — its namespaces (the veth pair goes with the
    /// network namespace), the node's permanent neighbour entry for it — and frees its address.
    /// For a pod being deleted, and for one that finished. Safe to repeat: the neighbour entry
    /// is removed only while the pod still holds its address, since once freed the address may
    /// be another pod's, with the same entry (the MAC is derived from the IP).
    func releaseSandbox(of pod: Pod, sandbox: PodSandboxPaths) throws {
        let uid = pod.metadata.uid
        let holdsAddress = try store.read { try $0.allocation(owner: uid) } != nil
        do {
            try sandboxRuntime.removeSandbox(sandbox, namespaces: labNamespaces)
        } catch let error as LabNamespaces.NotOwned {
            // Its sandbox was never built (the name was taken): nothing of the pod's is there.
            logger.warning("pod \(key(pod)): \(error)")
        }
        do { try cgroups.removePod(uid: uid) } catch { logger.error("pod \(key(pod)): removing its cgroups failed: \(error)") }
        // Its Secrets, tokens and downward API files go with their memory.
        PodVolumes.tearDownMemory(paths.podDirectory(uid: uid))
        if holdsAddress, !pod.spec.hostNetwork, let address = IPv4Address(pod.status.podIP) {
            sandboxRuntime.removeNeighbor(node: pod.spec.nodeName, address: address)
        }
        try store.write { tx in
            try tx.release(owner: uid)
            try tx.deleteProcesses(podUID: uid)
        }
    }

    /// Tears down the sandbox of a pod that finished (Succeeded or Failed), as the kubelet
    /// does: nothing runs in it again, so its network goes and its address is free for other
    /// pods. The pod stays, with its status (its podIP too, as Kubernetes keeps it) and logs.
    func releaseFinishedSandbox(_ podKey: String) async {
        guard let pod = pods[podKey], pod.status.phase?.isTerminal == true, pod.metadata.deletionTimestamp == nil else { return }
        let uid = pod.metadata.uid
        let runtime = runtimes[uid]
        runtime?.cancelRestarts()
        containerProber?.unregister(podUID: uid)
        sandboxRetries.removeValue(forKey: uid)?.cancel()
        let sandbox = runtime?.sandbox ?? PodRuntime.sandboxPaths(lab: paths.lab, paths: paths, pod: pod)
        // Containers that still run — the sidecars of a pod that failed to initialize — are
        // stopped as the kubelet stops a pod: SIGTERM, then SIGKILL after the grace period.
        let running = Array(runtime?.processes.values ?? [:].values)
        if !running.isEmpty {
            let grace = Duration.seconds(pod.spec.terminationGracePeriodSeconds ?? 30)
            await withTaskGroup(of: Void.self) { group in
                for process in running { group.addTask { await self.sandboxRuntime.stop(process, grace: grace) } }
            }
            // Their exits are recorded (`containerExited`) before the runtime goes.
            let deadline = ContinuousClock.now + .seconds(1)
            while runtime?.processes.isEmpty == false, ContinuousClock.now < deadline { try? await Task.sleep(for: .milliseconds(10)) }
        }
        await stopPause(runtime)
        // A process a container left behind (started in the background) would keep the network
        // namespace, its veth and its address alive after the name is gone.
        let leftovers = sandboxRuntime.unrecordedSessions(
            netns: sandbox.netns, mnt: sandbox.mnt, logDirectory: paths.podLogDirectory(namespace: pod.metadata.namespace, name: pod.metadata.name, uid: uid),
            known: [])
        if !leftovers.isEmpty {
            logger.info("pod \(podKey): stopping \(leftovers.count) process(es) its containers left behind")
            await sandboxRuntime.kill(sessions: leftovers)
        }
        // Deleted meanwhile: the deletion releases the sandbox.
        guard let current = pods[podKey], current.metadata.uid == uid, current.metadata.deletionTimestamp == nil else { return }
        do {
            try releaseSandbox(of: current, sandbox: sandbox)
        } catch {
            logger.error("pod \(podKey): removing the sandbox of the finished pod failed: \(error)")
            return
        }
        runtimes.removeValue(forKey: uid)
        logger.info("pod \(podKey) \(current.status.phase?.rawValue ?? ""): sandbox removed, \(current.status.podIP) released")
    }

    // MARK: Persistence

    /// Stores a changed pod (bumping its resourceVersion) and tells watchers.
    func save(_ pod: Pod) {
        var pod = pod
        let previous = pods[key(pod)]
        let wasTerminal = previous?.status.phase?.isTerminal ?? false
        let now = Timestamp.now()
        PodStatusRules.update(&pod, now: now)
        // What changed in the status is the kubelet's write (a client's update keeps the status).
        pod.metadata.preservedFields["managedFields"] = PodStatusOwnership.recordKubeletWrite(
            from: previous?.metadata.uid == pod.metadata.uid ? previous?.status : nil, to: pod.status,
            managedFields: pod.metadata.preservedFields["managedFields"], time: now)
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
        if !wasTerminal, pod.status.phase?.isTerminal == true, pod.metadata.deletionTimestamp == nil {
            let podKey = key(pod)
            Task { await self.releaseFinishedSandbox(podKey) }
        }
    }

    func publish(_ type: WatchEvent.Kind, _ pod: Pod) {
        // Its services' endpoints follow the pod's address, readiness and labels.
        markEndpointsStale(endpointServices(of: pod))
        // Its labels, address and named ports are what the policy rules are made of.
        podChangedForPolicies(pod, deleted: type == .deleted)
        // Its hostPorts lead to its address while it has one.
        if !pod.spec.hostNetwork, pod.spec.containers.contains(where: { $0.ports.contains { $0.hostPort != 0 } }) { servicesChanged() }
        // Its ReplicaSet counts it (ready, gone) and replaces it.
        if ReplicaSetScaling.controllerUID(of: pod.metadata) != nil { markWorkloadsStale(pod.metadata.namespace) }
        let text = encodedObjects.eventText(pod, deleted: type == .deleted)
        hub.publish(WatchEvent(type: type, objectKind: "Pod", namespace: pod.metadata.namespace,
                               resourceVersion: Int64(pod.metadata.resourceVersion) ?? 0, object: Data(text)))
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
