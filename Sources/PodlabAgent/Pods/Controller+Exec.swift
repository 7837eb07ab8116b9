#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Netns
import PodNet

extension Controller {
    /// How a command runs in a running container, as `podlab exec` and `exec` probes run it: the
    /// container's image programs and environment, its user, its namespaces (its own mount
    /// namespace when it has volumes, which only its running process holds) and its cgroup.
    /// A container of an OCI image runs the command through its runtime's `exec`
    /// (`OCIContainers.execRequest`).
    /// `environment` is the one the container's run got (see `startEnvironment`); nil: its `env`
    /// alone, resolved again. `pidNamespace` is the pod's with `shareProcessNamespace`
    /// (`PodPause.namespacePath`): the command is born in it, beside the containers' processes.
    static func execRequest(pod: Pod, container: Container, process: ProcessIdentity, sandbox: PodSandboxPaths,
                            pidNamespace: String? = nil, imagesDirectory: String, ociRuntimeRoot: String, cgroup: SpawnCgroup?,
                            environment: [(name: String, value: String)]?, command: [String], tty: Bool = false) throws -> SpawnRequest {
        if let containerID = pod.status[container: container.name]?.containerID,
           let (kind, id) = OCIContainers.runtimeContainer(ofContainerID: containerID) {
            return OCIContainers.execRequest(runtime: kind, runtimeRoot: ociRuntimeRoot, id: id, command: command, terminal: tty ? "xterm" : nil)
        }
        let environment = environment ?? (try? ContainerEnvironment(container: container, pod: pod, nodeAllocatable: NodeCapacity.host).variables)
            ?? container.env.map { ($0.name, $0.value) }
        let credentials = (try? ContainerCredentials.resolve(pod: pod, container: container)).flatMap { resolved -> SpawnCredentials? in
            resolved == .imageDefault ? nil : SpawnCredentials(uid: resolved.uid, gid: resolved.gid, groups: resolved.groups)
        }
        let mountNamespace = container.volumeMounts.isEmpty ? sandbox.mnt : "/proc/\(process.pid)/ns/mnt"
        let launch = try ContainerRuntime.launch(image: container.image, command: command, args: nil, env: environment,
                                                 workingDir: container.workingDir.isEmpty ? nil : container.workingDir,
                                                 podName: PodRuntime.hostname(pod), logPath: "", sandbox: sandbox, imagesDirectory: imagesDirectory)
        return SpawnRequest(executable: launch.executable, arguments: Array(launch.argv.dropFirst()), argv0: launch.argv.first,
                            environment: launch.environment, workingDirectory: launch.workingDirectory,
                            networkNamespace: sandbox.netns, utsNamespace: sandbox.uts, ipcNamespace: sandbox.ipc,
                            mountNamespace: mountNamespace, pidNamespace: pidNamespace, newSession: true, credentials: credentials, cgroup: cgroup)
    }

    /// The variables of a container's current run, as it started with them; for a process an
    /// earlier agent started, its sources resolved again with the ConfigMaps and Secrets of now.
    func startEnvironment(of container: Container, in pod: Pod) -> [(name: String, value: String)]? {
        runtimes[pod.metadata.uid]?.environments[container.name]
            ?? (try? ContainerEnvironment(container: container, pod: pod, nodeAllocatable: NodeCapacity.host,
                                          objects: configObjects(namespace: pod.metadata.namespace)).variables)
    }

    /// Runs `command` in a container for a client (`pods/exec`): the process gets pipes, or with
    /// `tty` a terminal of its own, that the session carries; its stdin closes when the client's
    /// ends, and the session's last frame says how it ended (its exit code). A client that leaves
    /// before the end takes the process with it (SIGKILL to its process group), so a broken
    /// stream leaves nothing running. What makes the process fail to start (an unknown program)
    /// is the session's only answer, as the kubelet reports it after the upgrade.
    func exec(namespace: String, name: String, options: PodAttachOptions, command: [String]) async throws -> AttachSession {
        let pod = try pod(namespace, name)
        let containerName = try Self.streamingContainer(of: pod, requested: options.container)
        guard let runtime = runtimes[pod.metadata.uid], !runtime.deleting, let process = runtime.processes[containerName],
              pod.status[container: containerName]?.state.running != nil, let container = pod.spec.container(named: containerName) else {
            throw Self.containerNotRunning(containerName)
        }
        let request: SpawnRequest
        do {
            request = try Self.execRequest(pod: pod, container: container, process: process, sandbox: runtime.sandbox,
                                           pidNamespace: runtime.pause.map(PodPause.namespacePath), imagesDirectory: paths.images,
                                           ociRuntimeRoot: OCIContainers.runtimeRoot(paths),
                                           cgroup: cgroups.existing(uid: pod.metadata.uid, container: containerName, limits: ContainerCgroupLimits(container)),
                                           environment: startEnvironment(of: container, in: pod), command: command, tty: options.tty)
        } catch {
            return AttachSession(failure: APIStatus.internalError("error executing command in container: \(error)"))
        }
        return try Self.startExec(request, options: options, command: command)
    }

    static func startExec(_ request: SpawnRequest, options: PodAttachOptions, command: [String]) throws -> AttachSession {
        let discard = open("/dev/null", O_WRONLY | O_CLOEXEC)
        guard discard >= 0 else { throw KernelError(operation: "open", object: "/dev/null", errno: .current) }
        let streams = try ContainerStreams(mode: ContainerStreams.Mode(stdin: options.stdin, stdinOnce: true, tty: options.tty), logFD: discard)
        var request = request
        request.stdin = streams.childEnds.stdin
        request.stdout = streams.childEnds.stdout
        request.stderr = streams.childEnds.stderr
        let child: ChildProcess
        do {
            child = try Spawner.spawn(request)
        } catch {
            streams.closeChildEndsAndStart()
            return AttachSession(failure: APIStatus.internalError("error executing command in container: \(error)"))
        }
        streams.closeChildEndsAndStart()
        let exit = Task { try await child.exitStatus() }
        let finished = Locked(false)
        return AttachSession(streams: streams, options: options, outcome: {
            let status: TerminationStatus
            do { status = try await exit.value } catch { return APIStatus.internalError("error executing command in container: \(error)") }
            finished.withLock { $0 = true }
            return APIStatus.commandExit(code: status.shellCode, command: command)
        }, clientGone: {
            guard !finished.withLock({ $0 }) else { return }
            // The process leads its own session (`newSession`): its group is what it started.
            try? child.signal(SIGKILL, group: true)
        })
    }
}
