import Foundation
import Netns
import PodNet

extension Controller {
    /// Starts probing a container whose process runs now (a new start, or one adopted from a
    /// previous agent): its network namespace and address for `httpGet` and `tcpSocket`, and
    /// for `exec` the command started as `podlab exec` starts it — the container's image,
    /// environment, user and mount namespace.
    func registerProbes(_ podKey: String, container name: String) {
        guard let prober = containerProber, let pod = pods[podKey], let runtime = runtimes[pod.metadata.uid],
              let container = pod.spec.container(named: name), container.hasProbes,
              let status = pod.status[container: name], let startedAt = status.state.running?.startedAt,
              let process = runtime.processes[name], let podIP = IPv4Address(pod.status.podIP) else { return }
        let sandbox = runtime.sandbox, pidNamespace = runtime.pause.map(PodPause.namespacePath)
        let imagesDirectory = paths.images, ociRuntimeRoot = OCIContainers.runtimeRoot(paths)
        let environment = startEnvironment(of: container, in: pod)
        let exec: @Sendable ([String]) -> Result<SpawnRequest, ProbeSetupError> = { command in
            do {
                return .success(try Controller.execRequest(pod: pod, container: container, process: process, sandbox: sandbox,
                                                           pidNamespace: pidNamespace,
                                                           imagesDirectory: imagesDirectory, ociRuntimeRoot: ociRuntimeRoot, cgroup: nil,
                                                           environment: environment, command: command))
            } catch {
                return .failure(ProbeSetupError(description: "\(error)"))
            }
        }
        // The probes' clock starts when the process did (earlier for an adopted one).
        let runningFor = UInt64(max(0, Timestamp.now().seconds(since: startedAt)))
        let now = Prober.now()
        prober.register(ContainerProbeTarget(podKey: podKey, podUID: pod.metadata.uid, containerID: status.containerID, container: container,
                                             netns: sandbox.netns, podIP: podIP,
                                             startedAt: now - min(now, runningFor * 1_000_000_000), exec: exec))
    }

    /// What the prober found: `started` and `ready` follow the probes; a failure is recorded as
    /// the kubelet's `Unhealthy` event; a failed liveness or startup probe kills the container
    /// (SIGTERM, SIGKILL after the probe's or the pod's grace period), which is then restarted
    /// by the pod's policy (`containerExited`). Reports about an earlier run are dropped.
    func probeReported(_ report: ContainerProbeReport) {
        guard var pod = pods[report.podKey], pod.metadata.uid == report.podUID, let runtime = runtimes[report.podUID], !runtime.deleting,
              var status = pod.status[container: report.container], status.containerID == report.containerID,
              status.state.running != nil, let role = pod.spec.role(of: report.container) else { return }
        switch report.kind {
        case let .status(started, ready):
            status.started = started
            status.ready = ready
            pod.status[container: report.container] = status
            save(pod)
            // A sidecar that has started lets the next init container start.
            if role == .sidecar, started { startPending(report.podKey) }
        case let .unhealthy(message):
            recordEvent(pod, container: report.container, type: .warning, reason: EventReason.unhealthy, message: message)
        case let .kill(reason, gracePeriodSeconds):
            guard let process = runtime.processes[report.container], !runtime.probeKilled.contains(report.container) else { return }
            let restarts = role != .app || pod.spec.effectiveRestartPolicy != .never
            recordEvent(pod, container: report.container, type: .normal, reason: EventReason.killing,
                        message: ContainerProbes.killingMessage(reason, restarts: restarts))
            logger.info("pod \(report.podKey): \(reason); stopping it")
            runtime.probeKilled.insert(report.container)
            let grace = Duration.seconds(gracePeriodSeconds ?? pod.spec.terminationGracePeriodSeconds ?? 30)
            Task { await self.sandboxRuntime.stop(process, grace: grace) }
        }
    }
}
