import Foundation
import PodNet

extension Controller {
    /// Starts a container of an OCI image of the lab's store through the OCI runtime
    /// (`OCIContainers`); the rest of its life (exit, restart, logs) is any container's.
    func startOCIContainer(pod: inout Pod, container: Container, role: ContainerRole, status: inout ContainerStatus,
                           environment: ContainerEnvironment, logPath: String, runtime: PodRuntime) throws {
        let name = container.name
        let imageStore = ImageStore(paths: paths)
        let found = try imageStore.find(container.image)
        let policy = container.preservedFields["imagePullPolicy"]?.stringValue ?? Pod.defaultPullPolicy(for: container.image)
        let justPulled = runtime.pulledImages.remove(name) != nil
        let image: ImageStore.Image
        if let found, policy != "Always" || justPulled || !ImageSource.namesRegistry(container.image) {
            image = found
        } else if found == nil, policy == "Never" {
            throw ImagePullWait.neverPull(container.image)
        } else if ImageSource.namesRegistry(container.image) {
            beginPull(pod, container: name, image: container.image, runtime: runtime)
            throw ImagePullWait.pulling
        } else {
            throw ImageError.notInStore(container.image)
        }
        let kind = options.ociRuntime
        guard access(kind.executable, X_OK) == 0 else {
            throw OCIImageError("\(kind.executable) is missing: install the Debian package \(kind.rawValue) (scripts/install-deps does)")
        }
        let restart = status.restartCount
        let id = OCIContainers.containerID(podUID: pod.metadata.uid, container: name, restart: restart)
        // Limits: the container's cgroup, made as for any container; crun starts in it and so
        // does the container. runc's container joins it by path (`cgroupsPath`, with the limits
        // in `linux.resources`), and runc itself stays outside, as containerd's shim does: the
        // OOM killer then chooses among the container's processes only.
        let limits = ContainerCgroupLimits(container)
        let cgroup = limits.isEmpty ? nil : try cgroups.prepare(uid: pod.metadata.uid, container: name, limits: limits)
        var launch = try OCIContainers.launch(image: image, store: imageStore, runtime: kind, paths: paths, pod: pod, container: container,
                                              environment: environment, sandbox: runtime.sandbox, restart: restart, logPath: logPath,
                                              cgroupsPath: cgroup == nil ? nil : cgroups.relativePath(uid: pod.metadata.uid, container: name),
                                              pidNamespace: try podPidNamespace(pod, runtime: runtime))
        launch.cgroup = kind == .crun ? cgroup : nil
        // With `stdin` or `tty`, the runtime's stdio are the agent's pipes or terminal, as a
        // built-in container's are: the runtime passes pipes to the container as they are, and
        // with `tty` (`process.terminal`) copies between its terminal and the container's.
        let process: ProcessIdentity
        let streams: ContainerStreams?
        do {
            (process, streams) = try sandboxRuntime.start(launch, streams: ContainerStreams.Mode(container))
        } catch {
            OCIContainers.remove(bundle: OCIContainers.bundleDirectory(runtime.sandbox.directory, container: name, restart: restart), id: id,
                                 runtime: kind, paths: paths)
            throw error
        }
        runtime.processes[name] = process
        runtime.streams[name] = streams
        do { try store.write { try $0.setProcess(podUID: pod.metadata.uid, container: name, identity: process) } } catch {
            logger.error("pod \(pod.metadata.namespace)/\(pod.metadata.name) container \(name): recording its process (pid \(process.pid)) failed: \(error)")
        }
        // Created now; running once the runtime has started it (its pid file), as the kubelet
        // reports a container running once the runtime's start returned.
        status.state = .waiting(reason: ContainerReason.containerCreating)
        status.containerID = "\(kind.rawValue)://\(id)"
        if !justPulled {
            recordEvent(pod, container: name, type: .normal, reason: EventReason.pulled,
                        message: "Container image \"\(container.image)\" already present on machine")
        }
        recordEvent(pod, container: name, type: .normal, reason: EventReason.created, message: "Created container \(name)")
        runtime.failedPulls[name] = nil
        watch(podKey: key(pod), uid: pod.metadata.uid, container: name, process: process, isChild: true, logPath: logPath)
        let podKey = key(pod), uid = pod.metadata.uid, imageID = OCIContainers.imageID(image, reference: container.image)
        let pidFile = OCIContainers.pidFile(bundle: OCIContainers.bundleDirectory(runtime.sandbox.directory, container: name, restart: restart))
        let sandboxRuntime = self.sandboxRuntime
        Task {
            // Polled: a container starts in tens of milliseconds; a runtime that ends first
            // (the container could not start) is the exit's to report.
            while access(pidFile, F_OK) != 0 {
                guard sandboxRuntime.isAlive(process) else { return }
                try? await Task.sleep(for: .milliseconds(1))
            }
            await self.ociContainerStarted(podKey: podKey, uid: uid, container: name, process: process, imageID: imageID)
        }
    }

    /// The runtime started a container (its pid file is written): it runs from now on, unless
    /// that run is over already or another replaced it.
    func ociContainerStarted(podKey: String, uid: String, container name: String, process: ProcessIdentity, imageID: String) {
        guard var pod = pods[podKey], pod.metadata.uid == uid, let runtime = runtimes[uid], runtime.processes[name] == process,
              let container = pod.spec.container(named: name), let role = pod.spec.role(of: name),
              var status = pod.status[container: name], status.state.running == nil, status.state.terminated == nil else { return }
        let containerID = status.containerID
        ContainerTransitions.markRunning(&status, role: role, imageID: imageID, podUID: uid, container: container)
        status.containerID = containerID
        pod.status[container: name] = status
        save(pod)
        recordEvent(pod, container: name, type: .normal, reason: EventReason.started, message: "Started container \(name)")
        // A sidecar that runs lets the next init container start.
        if role == .sidecar { startPending(podKey) }
    }

    /// Pulls a container's image in the background (`RegistryPuller`), as the kubelet does
    /// while the container waits in `ContainerCreating`; the pull's end starts the container or
    /// puts it in `ErrImagePull` and the pull back-off. The task is the container's
    /// `restartTasks` entry, so the pod's deletion or a new image cancels it.
    func beginPull(_ pod: Pod, container name: String, image reference: String, runtime: PodRuntime) {
        guard runtime.restartTasks[name] == nil else { return }
        recordEvent(pod, container: name, type: .normal, reason: EventReason.pulling, message: "Pulling image \"\(reference)\"")
        let pull = sharedPull(reference)
        let podKey = key(pod), uid = pod.metadata.uid
        let started = ContinuousClock.now
        runtime.restartTasks[name] = Task {
            let outcome = await pull.value
            self.pullFinished(podKey, uid: uid, container: name, image: reference, result: outcome.result, took: outcome.took,
                              waited: ContinuousClock.now - started)
        }
    }

    /// The pull of `reference` under way, or a new one: every container that wants the image
    /// meanwhile waits for the same transfer, as the kubelet's image manager has one pull per
    /// image. A pull runs to its end even when the pods that wanted it are deleted (its image
    /// stays in the store, as a finished pull's does).
    func sharedPull(_ reference: String) -> Task<ImagePullOutcome, Never> {
        if let running = imagePulls[reference] { return running }
        var puller = RegistryPuller(credentials: RegistryPuller.dockerConfigCredentials(path: nil))
        puller.scope = options.registries
        let store = ImageStore(paths: paths)
        let pull = Task {
            let started = ContinuousClock.now
            let result: Result<ImageStore.Image, OCIImageError>
            do throws(OCIImageError) { result = .success(try await puller.pull(reference, into: store)) } catch { result = .failure(error) }
            self.imagePulls[reference] = nil
            return ImagePullOutcome(result: result, took: ContinuousClock.now - started)
        }
        imagePulls[reference] = pull
        return pull
    }

    func pullFinished(_ podKey: String, uid: String, container name: String, image: String, result: Result<ImageStore.Image, OCIImageError>,
                      took: Duration, waited: Duration) {
        guard var pod = pods[podKey], pod.metadata.uid == uid, let runtime = runtimes[uid], !runtime.deleting,
              runtime.processes[name] == nil, pod.spec.container(named: name)?.image == image, var status = pod.status[container: name] else { return }
        runtime.restartTasks[name] = nil
        switch result {
        case let .success(pulled):
            func seconds(_ d: Duration) -> String { String(format: "%.3fs", Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18) }
            recordEvent(pod, container: name, type: .normal, reason: EventReason.pulled,
                        message: "Successfully pulled image \"\(image)\" in \(seconds(took)) (\(seconds(waited)) including waiting). Image size: \(pulled.size) bytes.")
            runtime.pulledImages.insert(name)
            startContainer(podKey, name)
            startPending(podKey)
        case let .failure(error):
            pullFailed(pod, container: name, status: &status, image: image, message: "Failed to pull image \"\(image)\": \(error.message)",
                       runtime: runtime)
            pod.status[container: name] = status
            save(pod)
        }
    }
}

/// How a registry pull ended, and how long the transfer took.
struct ImagePullOutcome: Sendable {
    var result: Result<ImageStore.Image, OCIImageError>
    var took: Duration
}

/// A container of an OCI image that waits for it: a pull under way, or none allowed.
enum ImagePullWait: Error {
    case pulling
    case neverPull(String)
}
