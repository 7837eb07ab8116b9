import Foundation
import Netns
import PodNet
#if canImport(Glibc)
import Glibc
#endif

extension Controller {
    // MARK: Starting

    /// Starts what the pod may start now, as the kubelet decides it (`PodInitialization`): its
    /// init containers one at a time in order — a regular one when the one before it exited
    /// with 0, a sidecar's successor as soon as the sidecar runs — then its app containers,
    /// all at once. Called when the sandbox is ready and whenever an init container exits or
    /// starts; a step that has to wait (an init container runs, or waits for its restart or
    /// its image) is taken up again by that container's next exit or start.
    func startPending(_ podKey: String) {
        for _ in 0...(pods[podKey]?.spec.initContainers.count ?? 0) {
            guard let pod = pods[podKey], pod.status.phase?.isTerminal != true, let runtime = runtimes[pod.metadata.uid], !runtime.deleting else { return }
            switch PodInitialization.nextStep(spec: pod.spec, status: pod.status) {
            case let .start(name):
                // A regular init container runs now and the next step waits for its exit; a
                // sidecar that runs lets the next one start in the next round.
                startContainer(podKey, name)
            case let .startContainers(names):
                for name in names { startContainer(podKey, name) }
                return
            case .wait, .failed:
                return
            }
        }
    }

    /// Starts one container of a pod (its first run, a restart, or a new image). `lastState`
    /// is the run it replaces, recorded in the same update as the new one.
    func startContainer(_ podKey: String, _ name: String, countsAsRestart: Bool = false, lastState: ContainerState? = nil) {
        guard var pod = pods[podKey], let runtime = runtimes[pod.metadata.uid], !runtime.deleting,
              let container = pod.spec.container(named: name), let role = pod.spec.role(of: name),
              var status = pod.status[container: name] else { return }
        // A container of an image whose runtime runs and has yet to start it (no pid file yet)
        // waits as one not started: it is not started twice.
        if let process = runtime.processes[name], status.state.waiting != nil, ImageSource.isOCIImage(container.image),
           sandboxRuntime.isAlive(process) { return }
        if countsAsRestart { status.restartCount += 1 }
        if let lastState { status.lastState = lastState }
        let logPath = paths.containerLog(namespace: pod.metadata.namespace, name: pod.metadata.name, uid: pod.metadata.uid,
                                         container: name, restart: Int(status.restartCount))
        do {
            // The env list resolved and `$(VAR)` expanded as the kubelet does; an unresolvable
            // source leaves the container waiting, as the kubelet's CreateContainerConfigError.
            let environment = try ContainerEnvironment(container: container, pod: pod, nodeAllocatable: NodeCapacity.host,
                                                       objects: configObjects(namespace: pod.metadata.namespace))
            runtime.environments[name] = environment.variables
            for skipped in environment.skippedKeys {
                recordEvent(pod, type: .warning, reason: EventReason.invalidEnvironmentVariableNames, message: skipped.message, source: "kubelet")
            }
            if ImageSource.isOCIImage(container.image) {
                try startOCIContainer(pod: &pod, container: container, role: role, status: &status, environment: environment, logPath: logPath, runtime: runtime)
                pod.status[container: name] = status
                save(pod)
                registerProbes(podKey, container: name)
                return
            }
            let credentials = try ContainerCredentials.resolve(pod: pod, container: container)
            let pidNamespace = try podPidNamespace(pod, runtime: runtime)
            var launch = try ContainerRuntime.launch(image: container.image, command: environment.command, args: environment.args,
                                                     env: environment.variables,
                                                     workingDir: container.workingDir.isEmpty ? nil : container.workingDir,
                                                     podName: PodRuntime.hostname(pod), logPath: logPath, sandbox: runtime.sandbox,
                                                     imagesDirectory: paths.images,
                                                     mounts: PodVolumes.containerSetup(pod, container: container, sandbox: runtime.sandbox))
            launch.pidNamespace = pidNamespace
            if credentials != .imageDefault {
                launch.credentials = SpawnCredentials(uid: credentials.uid, gid: credentials.gid, groups: credentials.groups)
            }
            // The mesh's sidecar reads Services and EndpointSlices through the mesh socket; its
            // token is given at start, never stored in the pod's spec.
            if name == MeshProxy.containerName, MeshCaptureRules.forPod(pod) != nil {
                launch.environment["PODLAB_API_SOCKET"] = paths.meshSocket
                launch.environment["PODLAB_API_TOKEN"] = meshToken
                // Its mode (its own or its namespace's) and, unless mTLS is off, its workload
                // certificate, fresh at each start.
                let mode = MeshTLSMode.of(podAnnotations: pod.metadata.annotations,
                                          namespaceAnnotations: namespaces[pod.metadata.namespace]?.metadata.annotations ?? [:])
                launch.environment[MeshTLSMode.environmentVariable] = mode.rawValue
                meshSidecars[pod.metadata.uid] = (mode, nil)
                if mode != .disable, let directory = provisionMeshCertificate(pod) {
                    launch.environment[MeshCertificates.environmentVariable] = directory
                }
            }
            let limits = ContainerCgroupLimits(container)
            if !limits.isEmpty {
                launch.cgroup = try cgroups.prepare(uid: pod.metadata.uid, container: name, limits: limits)
            }
            let (process, streams) = try sandboxRuntime.start(launch, streams: ContainerStreams.Mode(container))
            runtime.processes[name] = process
            runtime.streams[name] = streams
            do { try store.write { try $0.setProcess(podUID: pod.metadata.uid, container: name, identity: process) } } catch {
                // The process runs and is watched; only a restarted agent would not find it.
                logger.error("pod \(podKey) container \(name): recording its process (pid \(process.pid)) failed: \(error)")
            }
            ContainerTransitions.markRunning(&status, role: role, imageID: imageIdentity.imageID(for: container.image), podUID: pod.metadata.uid,
                                             container: container)
            recordEvent(pod, container: name, type: .normal, reason: EventReason.pulled,
                        message: "Container image \"\(container.image)\" already present on machine")
            recordEvent(pod, container: name, type: .normal, reason: EventReason.created, message: "Created container \(name)")
            recordEvent(pod, container: name, type: .normal, reason: EventReason.started, message: "Started container \(name)")
            runtime.failedPulls[name] = nil
            watch(podKey: podKey, uid: pod.metadata.uid, container: name, process: process, isChild: true, logPath: logPath)
        } catch let error as DownwardAPIError {
            status.state = .waiting(reason: "CreateContainerConfigError", message: error.description)
            status.ready = false
            status.started = false
        } catch let error as ContainerCredentialsError {
            status.state = .waiting(reason: "CreateContainerConfigError", message: error.description)
            status.ready = false
            status.started = false
        } catch let error as RuntimeSpecError {
            status.state = .waiting(reason: error.reason, message: error.message)
            status.ready = false
            status.started = false
        } catch ImagePullWait.pulling {
            // The first pull shows ContainerCreating; a pull tried again after a failure keeps
            // the failure's reason until it ends, as the kubelet's status does.
            let reason = status.state.waiting?.reason
            if reason != ContainerReason.errImagePull && reason != ContainerReason.imagePullBackOff {
                status.state = .waiting(reason: ContainerReason.containerCreating)
            }
            status.ready = false
            status.started = false
        } catch let ImagePullWait.neverPull(image) {
            let message = "Container image \"\(image)\" is not present with pull policy of Never"
            status.state = .waiting(reason: "ErrImageNeverPull", message: message)
            status.ready = false
            status.started = false
            recordEvent(pod, container: name, type: .warning, reason: "ErrImageNeverPull", message: message)
        } catch let error as OCIImageError {
            status.state = .waiting(reason: "CreateContainerError", message: "Error: failed to create container: \(error.message)")
            status.ready = false
            status.started = false
        } catch let error as ImageError {
            if error.waitingReason == ContainerReason.errImagePull {
                // The error says it: `Failed to pull image "x": …`, as the kubelet's event does.
                pullFailed(pod, container: name, status: &status, image: container.image, message: error.description, runtime: runtime)
            } else {
                status.state = .waiting(reason: error.waitingReason, message: error.description)
                status.ready = false
                status.started = false
            }
        } catch {
            status.state = .waiting(reason: "RunContainerError", message: "\(error)")
            status.ready = false
            status.started = false
            logger.error("pod \(podKey): starting container \(name) failed: \(error)")
        }
        pod.status[container: name] = status
        save(pod)
        registerProbes(podKey, container: name)
    }

    // MARK: Image pulls

    /// After a failed pull, the kubelet's image pull back-off: the pod is looked at again every
    /// `resyncPeriod`; a look inside the back-off window shows `ImagePullBackOff`, the first
    /// one after it pulls (starts the container) again. A new image or the pod's deletion
    /// cancels this (`restartTasks`).
    /// A pull that failed (`message`: `Failed to pull image "x": …`): the container waits in
    /// `ErrImagePull`, the kubelet's two Failed events say why, and the pull back-off starts.
    func pullFailed(_ pod: Pod, container name: String, status: inout ContainerStatus, image: String, message: String, runtime: PodRuntime) {
        status.state = .waiting(reason: ContainerReason.errImagePull, message: message)
        status.ready = false
        status.started = false
        recordEvent(pod, container: name, type: .warning, reason: EventReason.failed, message: message)
        recordEvent(pod, container: name, type: .warning, reason: EventReason.failed, message: "Error: \(ContainerReason.errImagePull)")
        scheduleImagePull(key(pod), uid: pod.metadata.uid, container: name, image: image, lastError: message, runtime: runtime)
    }

    func scheduleImagePull(_ podKey: String, uid: String, container name: String, image: String, lastError: String, runtime: PodRuntime) {
        let failedPulls = (runtime.failedPulls[name] ?? 0) + 1
        runtime.failedPulls[name] = failedPulls
        let failedAt = ContinuousClock.now
        let backoff = pullBackoff
        runtime.restartTasks[name]?.cancel()
        runtime.restartTasks[name] = Task {
            while true {
                guard (try? await Task.sleep(for: backoff.resyncPeriod)) != nil, !Task.isCancelled else { return }
                switch backoff.step(failedPulls: failedPulls, sinceLastFailure: ContinuousClock.now - failedAt) {
                case .backOff:
                    self.showImagePullBackOff(podKey, uid: uid, container: name, image: image, lastError: lastError)
                case .pull:
                    self.pullAgain(podKey, uid: uid, container: name, image: image)
                    return
                }
            }
        }
    }

    /// The container still waits for the same image of the same pod.
    private func waitsForImage(_ podKey: String, uid: String, container name: String, image: String) -> Pod? {
        guard let pod = pods[podKey], pod.metadata.uid == uid, let runtime = runtimes[uid], !runtime.deleting,
              runtime.processes[name] == nil, pod.spec.container(named: name)?.image == image,
              let reason = pod.status[container: name]?.state.waiting?.reason,
              reason == ContainerReason.errImagePull || reason == ContainerReason.imagePullBackOff else { return nil }
        return pod
    }

    private func showImagePullBackOff(_ podKey: String, uid: String, container name: String, image: String, lastError: String) {
        guard var pod = waitsForImage(podKey, uid: uid, container: name, image: image), var status = pod.status[container: name] else { return }
        let state = ContainerState.waiting(reason: ContainerReason.imagePullBackOff,
                                           message: ImagePullBackoff.backOffMessage(image: image, lastError: lastError))
        guard status.state != state else { return }
        status.state = state
        pod.status[container: name] = status
        save(pod)
        recordEvent(pod, container: name, type: .normal, reason: EventReason.backOff, message: "Back-off pulling image \"\(image)\"")
        recordEvent(pod, container: name, type: .warning, reason: EventReason.failed, message: "Error: \(ContainerReason.imagePullBackOff)")
    }

    private func pullAgain(_ podKey: String, uid: String, container name: String, image: String) {
        guard waitsForImage(podKey, uid: uid, container: name, image: image) != nil else { return }
        runtimes[uid]?.restartTasks[name] = nil
        startContainer(podKey, name)
        // An init container that now runs may let the next one start.
        startPending(podKey)
    }

    /// Reports the process's end to `containerExited`. The agent reaps its own children and
    /// knows their status; a process it adopted after a restart is the lab keeper's child, and its
    /// status is the keeper's record.
    func watch(podKey: String, uid: String, container: String, process: ProcessIdentity, isChild: Bool, logPath: String) {
        logTimes.follow(logPath)
        let logTimes = self.logTimes
        do {
            try sandboxRuntime.watch(process, isChild: isChild) { status in
                // The last lines are marked before the exit is known: a reader that sees the
                // run ended finds a time for each.
                logTimes.stop(logPath)
                Task {
                    if isChild {
                        let exit = status.map { ContainerExit.recorded($0, finishedAt: nil) } ?? .unknown("exit status unknown: waitpid failed")
                        await self.containerExited(podKey: podKey, uid: uid, container: container, process: process, exit: exit)
                    } else {
                        await self.adoptedContainerExited(podKey: podKey, uid: uid, container: container, process: process)
                    }
                }
            }
        } catch {
            logger.error("cannot watch pid \(process.pid) of \(podKey)/\(container): \(error)")
        }
    }

    // MARK: Exits and restarts

    /// An adopted container's process ended (now, or while no agent ran): its status is the
    /// keeper's record, waited for if the keeper has yet to write it. The record goes once the
    /// status is stored in the pod's.
    func adoptedContainerExited(podKey: String, uid: String, container name: String, process: ProcessIdentity) async {
        let exit = await exitRecords.awaitExit(of: process)
        if case let .unknown(reason) = exit { logger.warning("pod \(podKey) container \(name): pid \(process.pid) ended; \(reason)") }
        containerExited(podKey: podKey, uid: uid, container: name, process: process, exit: exit)
        exitRecords.remove(process)
    }

    /// A container process ended: record how, then restart it or not by its role and the
    /// pod's policy (`PodInitialization.restarts`), with Kubernetes' back-off (the first restart
    /// at once, then 10 s doubling to 5 min). A regular init container that succeeded lets the
    /// next step of initialization start; app containers done for good stop the sidecars.
    func containerExited(podKey: String, uid: String, container name: String, process: ProcessIdentity, exit: ContainerExit) {
        guard var pod = pods[podKey], pod.metadata.uid == uid, let runtime = runtimes[uid], runtime.processes[name] == process,
              let role = pod.spec.role(of: name), var status = pod.status[container: name] else { return }
        runtime.processes[name] = nil
        // The kernel killed a process of this run over the memory limit: the runtime's OOM
        // event, which names the exit whatever its code (as containerd reports it). Read before
        // the runtime's container is deleted below: runc removes the cgroup with it.
        let oomKilled = pod.spec.container(named: name).map { !ContainerCgroupLimits($0).isEmpty } == true
            && cgroups.oomKills(uid: uid, container: name) > 0
        // The run's container (runc keeps it when `run` ends), bundle and overlay root.
        if let kind = OCIContainers.runtime(ofContainerID: status.containerID) {
            OCIContainers.remove(bundle: OCIContainers.bundleDirectory(runtime.sandbox.directory, container: name, restart: status.restartCount),
                                 id: OCIContainers.containerID(podUID: uid, container: name, restart: status.restartCount), runtime: kind, paths: paths)
        }
        containerProber?.unregister(podUID: uid, container: name)
        let killedByProbe = runtime.probeKilled.remove(name) != nil
        do { try store.write { try $0.setProcess(podUID: uid, container: name, identity: nil) } } catch {
            logger.error("pod \(podKey) container \(name): forgetting its ended process (pid \(process.pid)) failed: \(error)")
        }
        if runtime.deleting { return }

        let startedAt = status.state.running?.startedAt
        let end: ProcessEnd, recordedAt: Timestamp?
        switch exit {
        case let .recorded(.exited(code), at): (end, recordedAt) = (.exited(code), at)
        case let .recorded(.signaled(number), at): (end, recordedAt) = (.signaled(number), at)
        // Only when the lab's keeper was gone: it records every adopted container's end.
        case let .unknown(reason): (end, recordedAt) = (.unknown(reason), nil)
        }
        let terminated = ContainerTransitions.terminated(end, oomKilled: oomKilled, startedAt: startedAt, finishedAt: recordedAt,
                                                         containerID: status.containerID)
        let exitCode = terminated.exitCode, finishedAt = terminated.finishedAt ?? .now()
        status.ready = false
        status.started = false

        if runtime.recreate.remove(name) != nil {
            // The kubelet kills a container whose image changed and starts the new one in the
            // same sync, whatever the restart policy: the exit is never shown on its own (the
            // pod of a restartPolicy Never container would read as finished, Failed for good).
            startContainer(podKey, name, countsAsRestart: true, lastState: .terminated(terminated))
            return
        }

        // Nothing restarts in a finished pod, nor a sidecar stopped because the app containers are done.
        // An app container killed by its probe is restarted unless the policy is Never, whatever
        // its exit code (the kubelet kills and starts it in one sync).
        let restarts = ContainerTransitions.restarts(role, podPolicy: pod.spec.effectiveRestartPolicy, exitCode: exitCode, killedByProbe: killedByProbe)
        let restart = restarts
            && pod.status.phase?.isTerminal != true && !(role == .sidecar && runtime.stoppingSidecars)
        guard restart else {
            status.state = .terminated(terminated)
            // A regular init container is ready once it succeeded (the kubelet's prober).
            status.ready = role == .initContainer && exitCode == 0
            pod.status[container: name] = status
            save(pod)
            switch role {
            case .initContainer: startPending(podKey)
            case .app: stopSidecarsIfFinished(podKey)
            case .sidecar: break
            }
            return
        }
        let ranFor = Duration.seconds(startedAt.map { finishedAt.seconds(since: $0) } ?? 0)
        let (failures, delay) = backoff.afterExit(failuresBefore: runtime.failures[name] ?? 0, ranFor: ranFor)
        runtime.failures[name] = failures
        status.lastState = .terminated(terminated)
        if delay == .zero {
            status.state = .terminated(terminated)
        } else {
            status.state = ContainerTransitions.crashLoopBackOff(delay: delay, container: name, pod: pod.metadata.name,
                                                                 namespace: pod.metadata.namespace, uid: uid)
            recordEvent(pod, container: name, type: .warning, reason: EventReason.backOff,
                        message: ContainerTransitions.backOffEventMessage(container: name, pod: pod.metadata.name,
                                                                          namespace: pod.metadata.namespace, uid: uid))
        }
        pod.status[container: name] = status
        save(pod)
        runtime.restartTasks[name] = Task {
            if delay > .zero { try? await Task.sleep(for: delay) }
            guard !Task.isCancelled else { return }
            self.restartContainer(podKey: podKey, uid: uid, container: name)
        }
    }

    func restartContainer(podKey: String, uid: String, container: String) {
        guard let pod = pods[podKey], pod.metadata.uid == uid, pod.status.phase?.isTerminal != true, let runtime = runtimes[uid], !runtime.deleting,
              runtime.processes[container] == nil, !(runtime.stoppingSidecars && pod.spec.role(of: container) == .sidecar) else { return }
        runtime.restartTasks[container] = nil
        startContainer(podKey, container, countsAsRestart: true)
        // A sidecar that runs again during initialization lets the next init container start.
        startPending(podKey)
    }

    /// Once the app containers are done for good, the kubelet stops the pod: its sidecars get
    /// SIGTERM (SIGKILL after the grace period) and are not restarted; when the last one has
    /// exited, the pod is Succeeded or Failed by its app containers alone.
    func stopSidecarsIfFinished(_ podKey: String) {
        guard let pod = pods[podKey], let runtime = runtimes[pod.metadata.uid], !runtime.deleting, !runtime.stoppingSidecars,
              PodInitialization.appContainersFinished(spec: pod.spec, status: pod.status) else { return }
        let sidecars = pod.spec.initContainers.filter(\.isSidecar).map(\.name)
        guard !sidecars.isEmpty else { return }
        runtime.stoppingSidecars = true
        let grace = Duration.seconds(pod.spec.terminationGracePeriodSeconds ?? 30)
        for name in sidecars {
            runtime.restartTasks.removeValue(forKey: name)?.cancel()
            guard let process = runtime.processes[name] else { continue }
            logger.info("pod \(podKey): its containers are done; stopping sidecar \(name)")
            Task { await self.sandboxRuntime.stop(process, grace: grace) }
        }
    }

    // MARK: Adoption after a restart of the agent

    /// Takes over a stored pod: finishes a pending deletion, releases the sandbox of a finished
    /// pod, keeps a complete sandbox or rebuilds a half-made one (same IP), re-watches live
    /// container processes and restarts dead ones by the pod's policy.
    func adopt(_ pod: Pod) async {
        let podKey = key(pod)
        let sandbox = PodRuntime.sandboxPaths(lab: paths.lab, paths: paths, pod: pod)
        let recorded: [String: ProcessIdentity]
        do { recorded = try store.read { try $0.processes(podUID: pod.metadata.uid) } } catch {
            logger.error("pod \(podKey): reading its recorded processes failed: \(error)")
            recorded = [:]
        }
        // The containers' processes, and the pause process of a pod sharing its pid namespace.
        let stored = recorded.filter { $0.key != PodPause.recordName }
        let pause = recorded[PodPause.recordName]
        // A container the previous agent started but died before recording would run on
        // beside the one started now, or outlive the pod: stop it.
        let strays = sandboxRuntime.unrecordedSessions(
            netns: sandbox.netns, mnt: sandbox.mnt, logDirectory: paths.podLogDirectory(namespace: pod.metadata.namespace, name: pod.metadata.name, uid: pod.metadata.uid),
            known: Set(recorded.values.filter(sandboxRuntime.isAlive).map(\.pid)))
        if !strays.isEmpty {
            logger.info("pod \(podKey): stopping \(strays.count) container process(es) that were started but never recorded")
            await sandboxRuntime.kill(sessions: strays)
        }
        if pod.metadata.deletionTimestamp != nil {
            let runtime = PodRuntime(uid: pod.metadata.uid, sandbox: sandbox)
            // The agent may have died during the grace period: containers still running are
            // stopped too, else they would outlive the pod and hold its namespace and veth.
            for (name, process) in stored where sandboxRuntime.isAlive(process) { runtime.processes[name] = process }
            runtime.pause = pause.flatMap { sandboxRuntime.isAlive($0) ? $0 : nil }
            runtimes[pod.metadata.uid] = runtime
            Task { await self.finishDeletion(podKey) }
            return
        }
        if pod.status.phase?.isTerminal == true {
            // Finished: nothing runs again and it needs no sandbox. Its sandbox is gone already,
            // or the previous agent stopped before removing it and releasing its address.
            await releaseFinishedSandbox(podKey)
            return
        }
        guard let address = IPv4Address(pod.status.podIP), let node = nodes[pod.spec.nodeName] else {
            logger.error("pod \(podKey) cannot be adopted: its node \"\(pod.spec.nodeName)\" or address is gone")
            return
        }
        if sandboxRuntime.sandboxIsAdoptable(sandbox, uid: pod.metadata.uid, address: address, node: node, namespaces: labNamespaces) {
            let runtime = PodRuntime(uid: pod.metadata.uid, sandbox: sandbox)
            runtimes[pod.metadata.uid] = runtime
            // The pod's pid namespace: its pause process found again and watched. One that
            // ended meanwhile took the namespace's processes with it; the first container to
            // start makes a new one and says so (`podPidNamespace`).
            if let pause, pod.spec.sharesProcessNamespace {
                runtime.pause = pause
                if sandboxRuntime.isAlive(pause) { watchPause(podKey, uid: pod.metadata.uid, pause: pause, isChild: false) }
            }
            // Live processes first: every running container is known before anything starts,
            // so nothing is started twice.
            for container in pod.spec.allContainers {
                guard let role = pod.spec.role(of: container.name), let process = stored[container.name], sandboxRuntime.isAlive(process) else { continue }
                runtime.processes[container.name] = process
                let run = Int(pod.status[container: container.name]?.restartCount ?? 0)
                watch(podKey: podKey, uid: pod.metadata.uid, container: container.name, process: process, isChild: false,
                      logPath: paths.containerLog(namespace: pod.metadata.namespace, name: pod.metadata.name, uid: pod.metadata.uid,
                                                  container: container.name, restart: run))
                // The agent died after recording the process but before recording it as running.
                if var current = pods[podKey], var status = current.status[container: container.name], status.state.running == nil {
                    ContainerTransitions.markRunning(&status, role: role, imageID: imageIdentity.imageID(for: container.image),
                                                     podUID: pod.metadata.uid, container: container)
                    current.status[container: container.name] = status
                    save(current)
                } else if container.hasProbes, var current = pods[podKey], var status = current.status[container: container.name] {
                    // The probes start over, as after a kubelet restart: not started or ready
                    // until they say so again.
                    let probes = ContainerProbes(container)
                    status.started = probes.started
                    status.ready = role != .initContainer && probes.ready
                    current.status[container: container.name] = status
                    save(current)
                }
                registerProbes(podKey, container: container.name)
            }
            // A sidecar that ran on while no agent was here: its certificate's renewal timer
            // ended with the previous agent, so it gets a new one now.
            if runtime.processes[MeshProxy.containerName] != nil, MeshCaptureRules.forPod(pod) != nil,
               pod.metadata.annotations[MeshTLSMode.annotation] != MeshTLSMode.disable.rawValue {
                provisionMeshCertificate(pod)
            }
            for container in pod.spec.allContainers {
                guard let role = pod.spec.role(of: container.name), runtime.processes[container.name] == nil else { continue }
                let finished = pods[podKey].map { PodInitialization.appContainersFinished(spec: $0.spec, status: $0.status) } ?? true
                if let process = stored[container.name] {
                    // It ended while no agent was watching: the keeper recorded how.
                    runtime.processes[container.name] = process
                    await adoptedContainerExited(podKey: podKey, uid: pod.metadata.uid, container: container.name, process: process)
                } else if let status = pods[podKey]?.status[container: container.name], status.state.terminated == nil,
                          !PodInitialization.awaitsFirstStart(status), role != .sidecar || !finished {
                    // It waited for a restart (back-off) or an image pull, whose timer ended
                    // with the previous agent.
                    startContainer(podKey, container.name, countsAsRestart: status.state.waiting?.reason == ContainerReason.crashLoopBackOff)
                } else if let current = pods[podKey], let exit = current.status[container: container.name]?.state.terminated,
                          PodInitialization.restarts(role, podPolicy: current.spec.effectiveRestartPolicy, exitCode: exit.exitCode),
                          role != .sidecar || !finished {
                    // It exited and was to be restarted at once, which the previous agent did not get to.
                    restartContainer(podKey: podKey, uid: pod.metadata.uid, container: container.name)
                }
            }
            // What was not started yet starts in its turn: a completed init container is not
            // run again. App containers that finished while no agent watched stop the sidecars.
            startPending(podKey)
            stopSidecarsIfFinished(podKey)
            return
        }
        // Half-made: remove what exists (and any stray processes) and build again.
        logger.info("pod \(podKey): its sandbox is incomplete; building it again with the same IP")
        for process in recorded.values where sandboxRuntime.isAlive(process) { await sandboxRuntime.stop(process, grace: .seconds(1)) }
        do { try sandboxRuntime.removeSandbox(sandbox, namespaces: labNamespaces) } catch {
            logger.error("pod \(podKey): removing its incomplete sandbox failed: \(error)")
        }
        // The kernel removes the old veth pair asynchronously with the namespace, and the new
        // pair takes the same host name (derived from the uid): remove the old one now, else
        // creating the new one can fail with EEXIST.
        if !pod.spec.hostNetwork {
            do { try sandboxRuntime.removeHostVeth(node: pod.spec.nodeName, uid: pod.metadata.uid) } catch {
                logger.error("pod \(podKey): removing the old host veth failed: \(error)")
            }
        }
        // Every container that is not done for good starts again in the new sandbox, in its
        // turn; a completed init container and an app container its policy does not restart
        // keep their exit.
        var reset = pod
        let waiting = ContainerState.waiting(reason: PodInitialization.initialWaitingReason(for: pod.spec))
        let finished = PodInitialization.appContainersFinished(spec: pod.spec, status: pod.status)
        for container in pod.spec.allContainers {
            guard let role = pod.spec.role(of: container.name), var status = reset.status[container: container.name] else { continue }
            if let exit = status.state.terminated,
               !PodInitialization.restarts(role, podPolicy: pod.spec.effectiveRestartPolicy, exitCode: exit.exitCode) || (role == .sidecar && finished) {
                continue
            }
            status.state = waiting
            status.ready = false
            status.started = false
            reset.status[container: container.name] = status
        }
        save(reset)
        await realize(podKey)
    }
}
