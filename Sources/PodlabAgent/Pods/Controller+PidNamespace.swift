import Foundation
import Netns
import PodNet

/// The pid namespace of a pod with `shareProcessNamespace` (`PodPause`): started with the
/// sandbox, joined by every container, found again after an agent restart, stopped with the
/// sandbox, and made again when its pause process ended.
extension Controller {
    /// The message of the kubelet's `SandboxChanged` event.
    static let sandboxChangedMessage = "Pod sandbox changed, it will be killed and re-created."

    /// The pid namespace a container of `pod` is born in: nil without `shareProcessNamespace`
    /// (a built-in container stays in the agent's, an OCI runtime makes one per container);
    /// else the pause process's, started anew when it no longer runs — its namespace ended
    /// with it, and no process can be born there again.
    func podPidNamespace(_ pod: Pod, runtime: PodRuntime) throws -> String? {
        guard pod.spec.sharesProcessNamespace else { return nil }
        if let pause = runtime.pause {
            if sandboxRuntime.pauseIsRunning(pause) { return PodPause.namespacePath(pause) }
            pauseEnded(pod, pause: pause, runtime: runtime)
        }
        return PodPause.namespacePath(try startPause(pod, runtime: runtime))
    }

    /// Starts the pod's pause process in its sandbox, records it (pid and start time, with the
    /// pod's processes) and watches it.
    @discardableResult
    func startPause(_ pod: Pod, runtime: PodRuntime) throws -> ProcessIdentity {
        let pause = try sandboxRuntime.startPause(runtime.sandbox)
        runtime.pause = pause
        let uid = pod.metadata.uid
        do { try store.write { try $0.setProcess(podUID: uid, container: PodPause.recordName, identity: pause) } } catch {
            logger.error("pod \(key(pod)): recording its pause process (pid \(pause.pid)) failed: \(error)")
        }
        watchPause(key(pod), uid: uid, pause: pause, isChild: true)
        logger.info("pod \(key(pod)): pause process \(pause.pid) holds the pod's pid namespace")
        return pause
    }

    /// Reports the pause process's end to `pauseExited`; `isChild` false for one an earlier
    /// agent started (found again by pid and start time).
    func watchPause(_ podKey: String, uid: String, pause: ProcessIdentity, isChild: Bool) {
        do {
            try sandboxRuntime.watch(pause, isChild: isChild) { _ in
                Task { await self.pauseExited(podKey: podKey, uid: uid, pause: pause, isChild: isChild) }
            }
        } catch {
            logger.error("pod \(podKey): cannot watch its pause process (pid \(pause.pid)): \(error)")
        }
    }

    /// The pause process ended: on purpose (the pod is deleted or finished), or not — then
    /// every process of the pod's pid namespace was killed with it (the kernel's rule for a
    /// namespace's init), the containers' exits restart them by the pod's policy, and the
    /// first to start makes a new pause process (`podPidNamespace`).
    func pauseExited(podKey: String, uid: String, pause: ProcessIdentity, isChild: Bool) async {
        if !isChild {
            // The keeper records it as any process of the agent's it inherited: nobody reads that.
            _ = await exitRecords.awaitExit(of: pause, timeout: .seconds(2))
            exitRecords.remove(pause)
        }
        guard let runtime = runtimes[uid], runtime.pause == pause, let pod = pods[podKey], pod.metadata.uid == uid else { return }
        pauseEnded(pod, pause: pause, runtime: runtime)
    }

    /// Forgets a pause process that ended and, unless the pod is going anyway, says so: a
    /// `SandboxChanged` event, as the kubelet's when it finds a pod's sandbox dead.
    private func pauseEnded(_ pod: Pod, pause: ProcessIdentity, runtime: PodRuntime) {
        runtime.pause = nil
        let uid = pod.metadata.uid
        do { try store.write { try $0.setProcess(podUID: uid, container: PodPause.recordName, identity: nil) } } catch {
            logger.error("pod \(key(pod)): forgetting its ended pause process (pid \(pause.pid)) failed: \(error)")
        }
        guard !runtime.deleting, pod.metadata.deletionTimestamp == nil, pod.status.phase?.isTerminal != true else { return }
        logger.warning("pod \(key(pod)): its pause process (pid \(pause.pid)) ended, and with it the pod's pid namespace and every process in it; the containers start again in a new one")
        recordEvent(pod, type: .normal, reason: EventReason.sandboxChanged, message: Self.sandboxChangedMessage, source: "kubelet")
    }

    /// Stops the pause process of a pod whose sandbox goes (SIGTERM, on which it exits; SIGKILL
    /// after `grace`), after its containers.
    func stopPause(_ runtime: PodRuntime?, grace: Duration = .seconds(2)) async {
        guard let pause = runtime?.pause else { return }
        await sandboxRuntime.stop(pause, grace: grace)
    }
}
