import Foundation
import PodNet

extension Controller {
    /// Starts a container of an OCI image of the lab's store through the OCI runtime
    /// (`OCIContainers`); the rest of its life (exit, restart, logs) is any container's.
    func startOCIContainer(pod: inout Pod, container: Container, role: ContainerRole, status: inout ContainerStatus,
                           environment: ContainerEnvironment, logPath: String, runtime: PodRuntime) throws {
        let name = container.name
        let imageStore = ImageStore(paths: paths)
        guard let image = try imageStore.find(container.image) else { throw ImageError.notInStore(container.image) }
        guard ContainerStreams.Mode(container) == nil else {
            throw OCIImageError("stdin and tty are not supported in containers of OCI images yet")
        }
        let kind = options.ociRuntime
        guard access(kind.executable, X_OK) == 0 else {
            throw OCIImageError("\(kind.executable) is missing: install the Debian package \(kind.rawValue) (scripts/install-deps does)")
        }
        if let refusal = OCIRuntimeKind.hostRefusal(kind) { throw OCIImageError(refusal) }
        let restart = status.restartCount
        let id = OCIContainers.containerID(podUID: pod.metadata.uid, container: name, restart: restart)
        // Limits: the container's cgroup, made as for any container; crun starts in it and so
        // does the container, runc joins it by path.
        let limits = ContainerCgroupLimits(container)
        let cgroup = limits.isEmpty ? nil : try cgroups.prepare(uid: pod.metadata.uid, container: name, limits: limits)
        var launch = try OCIContainers.launch(image: image, store: imageStore, runtime: kind, paths: paths, pod: pod, container: container,
                                              environment: environment, sandbox: runtime.sandbox, restart: restart, logPath: logPath,
                                              cgroupsPath: cgroup == nil ? nil : cgroups.relativePath(uid: pod.metadata.uid, container: name))
        launch.cgroup = cgroup
        let process: ProcessIdentity
        do {
            process = try sandboxRuntime.start(launch, streams: nil).process
        } catch {
            OCIContainers.remove(bundle: OCIContainers.bundleDirectory(runtime.sandbox.directory, container: name, restart: restart), id: id,
                                 runtime: kind, paths: paths)
            throw error
        }
        runtime.processes[name] = process
        do { try store.write { try $0.setProcess(podUID: pod.metadata.uid, container: name, identity: process) } } catch {
            logger.error("pod \(pod.metadata.namespace)/\(pod.metadata.name) container \(name): recording its process (pid \(process.pid)) failed: \(error)")
        }
        ContainerTransitions.markRunning(&status, role: role, imageID: OCIContainers.imageID(image, reference: container.image), podUID: pod.metadata.uid, container: container)
        status.containerID = "\(kind.rawValue)://\(id)"
        recordEvent(pod, container: name, type: .normal, reason: EventReason.pulled,
                    message: "Container image \"\(container.image)\" already present on machine")
        recordEvent(pod, container: name, type: .normal, reason: EventReason.created, message: "Created container \(name)")
        recordEvent(pod, container: name, type: .normal, reason: EventReason.started, message: "Started container \(name)")
        runtime.failedPulls[name] = nil
        watch(podKey: key(pod), uid: pod.metadata.uid, container: name, process: process, isChild: true)
    }
}
