import Foundation
import Netns
import PodNet
#if canImport(Glibc)
import Glibc
#endif

extension Controller {
    // MARK: Starting

    /// Starts one container of a pod (its first run, a restart, or a new image).
    func startContainer(_ podKey: String, _ name: String, countsAsRestart: Bool = false) {
        guard var pod = pods[podKey], let runtime = runtimes[pod.metadata.uid], !runtime.deleting,
              let container = pod.spec.containers.first(where: { $0.name == name }),
              let index = pod.status.containerStatuses.firstIndex(where: { $0.name == name }) else { return }
        var status = pod.status.containerStatuses[index]
        if countsAsRestart { status.restartCount += 1 }
        let logPath = paths.containerLog(namespace: pod.metadata.namespace, name: pod.metadata.name, uid: pod.metadata.uid,
                                         container: name, restart: Int(status.restartCount))
        do {
            // The env list resolved and `$(VAR)` expanded as the kubelet does; an unresolvable
            // source leaves the container waiting, as the kubelet's CreateContainerConfigError.
            let environment = try ContainerEnvironment(container: container, pod: pod, nodeAllocatable: NodeCapacity.host)
            let launch = try ContainerRuntime.launch(image: container.image, command: environment.command, args: environment.args,
                                                     env: environment.variables,
                                                     workingDir: container.workingDir.isEmpty ? nil : container.workingDir,
                                                     podName: PodRuntime.hostname(pod), logPath: logPath, sandbox: runtime.sandbox,
                                                     mounts: PodVolumes.containerSetup(pod, container: container, sandbox: runtime.sandbox))
            let process = try ContainerRuntime.start(launch)
            runtime.processes[name] = process
            try? store.write { try $0.setProcess(podUID: pod.metadata.uid, container: name, identity: process) }
            Controller.markRunning(&status, image: container.image, podUID: pod.metadata.uid)
            watch(podKey: podKey, uid: pod.metadata.uid, container: name, process: process, isChild: true)
        } catch let error as DownwardAPIError {
            status.state = .waiting(reason: "CreateContainerConfigError", message: error.description)
            status.ready = false
            status.started = false
        } catch let error as ImageError {
            status.state = .waiting(reason: error.waitingReason, message: error.description)
            status.ready = false
            status.started = false
        } catch {
            status.state = .waiting(reason: "RunContainerError", message: "\(error)")
            status.ready = false
            status.started = false
            logger.error("pod \(podKey): starting container \(name) failed: \(error)")
        }
        pod.status.containerStatuses[index] = status
        save(pod)
    }

    /// A container's status once its process runs.
    static func markRunning(_ status: inout ContainerStatus, image: String, podUID: String) {
        status.state = .running(startedAt: .now())
        status.ready = true
        status.started = true
        status.imageID = (try? ImageCatalog.resolve(image).imageID) ?? ""
        status.containerID = "podlab://\(podUID.prefix(8))-\(status.name)-\(status.restartCount)"
    }

    func watch(podKey: String, uid: String, container: String, process: ProcessIdentity, isChild: Bool) {
        do {
            try ProcessWatcher.shared.watch(pid: process.pid, isChild: isChild) { status in
                Task { await self.containerExited(podKey: podKey, uid: uid, container: container, process: process, status: status) }
            }
        } catch {
            logger.error("cannot watch pid \(process.pid) of \(podKey)/\(container): \(error)")
        }
    }

    // MARK: Exits and restarts

    /// A container process ended: record how, then restart it or not by the pod's policy,
    /// with Kubernetes' back-off (the first restart at once, then 10 s doubling to 5 min).
    func containerExited(podKey: String, uid: String, container name: String, process: ProcessIdentity, status exit: TerminationStatus?) {
        guard var pod = pods[podKey], pod.metadata.uid == uid, let runtime = runtimes[uid], runtime.processes[name] == process,
              let index = pod.status.containerStatuses.firstIndex(where: { $0.name == name }) else { return }
        runtime.processes[name] = nil
        try? store.write { try $0.setProcess(podUID: uid, container: name, identity: nil) }
        if runtime.deleting { return }

        var status = pod.status.containerStatuses[index]
        let startedAt = status.state.running?.startedAt
        let exitCode: Int32, signal: Int32, message: String
        switch exit {
        case let .exited(code)?: (exitCode, signal, message) = (code, 0, "")
        case let .signaled(sig)?: (exitCode, signal, message) = (128 + sig, sig, "")
        case nil: (exitCode, signal, message) = (255, 0, "exit status unknown: the process was adopted after an agent restart")
        }
        let terminated = ContainerState.Terminated(exitCode: exitCode, signal: signal, reason: exitCode == 0 ? "Completed" : "Error",
                                                   message: message, startedAt: startedAt, finishedAt: .now(), containerID: status.containerID)
        status.ready = false
        status.started = false

        if runtime.recreate.remove(name) != nil {
            status.lastState = .terminated(terminated)
            status.state = .waiting(reason: "ContainerCreating")
            pod.status.containerStatuses[index] = status
            save(pod)
            startContainer(podKey, name, countsAsRestart: true)
            return
        }

        let policy = pod.spec.restartPolicy ?? .always
        let restart = policy == .always || (policy == .onFailure && exitCode != 0)
        guard restart else {
            status.state = .terminated(terminated)
            pod.status.containerStatuses[index] = status
            save(pod)
            return
        }
        // A container that ran long enough starts its back-off afresh.
        let ranFor = startedAt.map { Timestamp.now().seconds(since: $0) } ?? 0
        if Double(ranFor) >= Double(backoff.resetAfter.components.seconds) { runtime.failures[name] = 0 }
        let failures = (runtime.failures[name] ?? 0) + 1
        runtime.failures[name] = failures
        status.lastState = .terminated(terminated)
        let delay: Duration = failures == 1 ? .zero : backoff.delay(consecutiveFailures: failures - 2)
        if delay == .zero {
            status.state = .terminated(terminated)
        } else {
            let seconds = Double(delay.components.seconds) + Double(delay.components.attoseconds) / 1e18
            let shown = seconds >= 1 ? "\(Int(seconds))s" : "\(Int(seconds * 1000))ms"
            status.state = .waiting(reason: "CrashLoopBackOff",
                                    message: "back-off \(shown) restarting failed container=\(name) pod=\(pod.metadata.name)_\(pod.metadata.namespace)(\(uid))")
        }
        pod.status.containerStatuses[index] = status
        save(pod)
        runtime.restartTasks[name] = Task {
            if delay > .zero { try? await Task.sleep(for: delay) }
            guard !Task.isCancelled else { return }
            self.restartContainer(podKey: podKey, uid: uid, container: name)
        }
    }

    func restartContainer(podKey: String, uid: String, container: String) {
        guard let pod = pods[podKey], pod.metadata.uid == uid, let runtime = runtimes[uid], !runtime.deleting,
              runtime.processes[container] == nil else { return }
        runtime.restartTasks[container] = nil
        startContainer(podKey, container, countsAsRestart: true)
    }

    // MARK: Adoption after a restart of the agent

    /// Takes over a stored pod: finishes a pending deletion, keeps a complete sandbox or
    /// rebuilds a half-made one (same IP), re-watches live container processes and restarts
    /// dead ones by the pod's policy.
    func adopt(_ pod: Pod) async {
        let podKey = key(pod)
        let sandbox = PodRuntime.sandboxPaths(lab: paths.lab, paths: paths, pod: pod)
        let stored = (try? store.read { try $0.processes(podUID: pod.metadata.uid) }) ?? [:]
        // A container the previous agent started but died before recording would run on
        // beside the one started now, or outlive the pod: stop it.
        let strays = ContainerRuntime.unrecordedSessions(
            netns: sandbox.netns, logDirectory: paths.podLogDirectory(namespace: pod.metadata.namespace, name: pod.metadata.name, uid: pod.metadata.uid),
            known: Set(stored.values.filter(\.isAlive).map(\.pid)))
        if !strays.isEmpty {
            logger.info("pod \(podKey): stopping \(strays.count) container process(es) that were started but never recorded")
            await ContainerRuntime.kill(sessions: strays)
        }
        if pod.metadata.deletionTimestamp != nil {
            let runtime = PodRuntime(uid: pod.metadata.uid, sandbox: sandbox)
            // The agent may have died during the grace period: containers still running are
            // stopped too, else they would outlive the pod and hold its namespace and veth.
            for (name, process) in stored where process.isAlive { runtime.processes[name] = process }
            runtimes[pod.metadata.uid] = runtime
            Task { await self.finishDeletion(podKey) }
            return
        }
        guard let address = IPv4Address(pod.status.podIP), nodes[pod.spec.nodeName] != nil else {
            logger.error("pod \(podKey) cannot be adopted: its node \"\(pod.spec.nodeName)\" or address is gone")
            return
        }
        if PodRuntime.sandboxIsComplete(sandbox, address: address, namespaces: labNamespaces) {
            let runtime = PodRuntime(uid: pod.metadata.uid, sandbox: sandbox)
            runtimes[pod.metadata.uid] = runtime
            for container in pod.spec.containers {
                let status = pod.status.containerStatuses.first { $0.name == container.name }
                if let process = stored[container.name], process.isAlive {
                    runtime.processes[container.name] = process
                    watch(podKey: podKey, uid: pod.metadata.uid, container: container.name, process: process, isChild: false)
                    // The agent died after recording the process but before recording it as running.
                    if var current = pods[podKey], let index = current.status.containerStatuses.firstIndex(where: { $0.name == container.name }),
                       current.status.containerStatuses[index].state.running == nil {
                        Controller.markRunning(&current.status.containerStatuses[index], image: container.image, podUID: pod.metadata.uid)
                        save(current)
                    }
                } else if let process = stored[container.name] {
                    // It ended while no agent was watching.
                    runtime.processes[container.name] = process
                    containerExited(podKey: podKey, uid: pod.metadata.uid, container: container.name, process: process, status: nil)
                } else if status?.state.terminated == nil || pod.spec.restartPolicy != .never {
                    if status?.state.terminated == nil || status?.state.waiting != nil { startContainer(podKey, container.name) }
                }
            }
            return
        }
        // Half-made: remove what exists (and any stray processes) and build again.
        logger.info("pod \(podKey): its sandbox is incomplete; building it again with the same IP")
        for process in stored.values where process.isAlive { await ContainerRuntime.stop(process, grace: .seconds(1)) }
        do { try PodRuntime.removeSandbox(sandbox, namespaces: labNamespaces) } catch {
            logger.error("pod \(podKey): removing its incomplete sandbox failed: \(error)")
        }
        // The kernel removes the old veth pair asynchronously with the namespace, and the new
        // pair takes the same host name (derived from the uid): remove the old one now, else
        // creating the new one can fail with EEXIST.
        if let node = nodes[pod.spec.nodeName] {
            do { try node.netlink.deleteLink(.name(PodRuntime.hostVethName(uid: pod.metadata.uid))) } catch Errno.noSuchDevice {
            } catch {
                logger.error("pod \(podKey): removing the old host veth failed: \(error)")
            }
        }
        var reset = pod
        for index in reset.status.containerStatuses.indices where reset.status.containerStatuses[index].state.running != nil {
            reset.status.containerStatuses[index].state = .waiting(reason: "ContainerCreating")
        }
        save(reset)
        await realize(podKey)
    }
}
