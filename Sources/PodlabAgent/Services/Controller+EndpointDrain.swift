import Foundation
import PodNet

extension Controller {
    /// The longest a deletion waits for the Service rules without its pod: a sync that keeps
    /// failing must not hold the containers' stop for the whole grace period.
    static let endpointDrainLimit = Duration.seconds(5)

    /// Takes a deleted pod out of the Service rules of every node before its containers hear
    /// SIGTERM. In Kubernetes the two race (kube-proxy and the kubelet each watch the
    /// deletion; a preStop sleep papers over it), so a client can be sent to a server that
    /// already stopped listening. The agent owns both, so it orders them: the pod's endpoints
    /// turn terminating (not ready) in their slices, the rules without it are in force on
    /// every node, then the containers stop. TCP conntrack is not flushed, so connections already
    /// made to the pod finish with it. A pod that is no Service's endpoint stops at once; the
    /// wait ends after `endpointDrainLimit`, or the pod's remaining grace period if shorter.
    func drainServiceEndpoints(of pod: Pod) async {
        // Its deletion may still wait in the coalesced endpoint sync: take it now.
        if !staleEndpointServices.isDisjoint(with: endpointServices(of: pod)) { syncStaleEndpoints() }
        // Still listed (as terminating) by the slices of the services it backed.
        let isEndpoint = !(endpointServicesOfPod[key(pod)] ?? []).isEmpty
        let generation = serviceRulesProgress.requested
        // No sync running means none is owed (the last one covered every change).
        guard isEndpoint, dataplaneSyncRunning, !serviceRulesProgress.isApplied(generation) else { return }
        let limit = min(Controller.endpointDrainLimit, .seconds(PodStatusRules.remainingGracePeriod(of: pod, now: .now())))
        guard limit > .zero else { return }
        let started = ContinuousClock.now
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let ticket = serviceRulesProgress.wait(for: generation, continuation)
            Task { [weak self] in
                try? await Task.sleep(for: limit)
                await self?.giveUpDrain(ticket)
            }
        }
        let waited = Controller.millis(ContinuousClock.now - started)
        if serviceRulesProgress.isApplied(generation) {
            logger.info("pod \(key(pod)): out of every node's Service rules after \(String(format: "%.1f", waited)) ms, stopping its containers")
        } else {
            logger.warning("pod \(key(pod)): the Service rules without it are not in force after \(String(format: "%.0f", waited)) ms; stopping its containers anyway")
        }
    }

    private func giveUpDrain(_ ticket: UInt64) {
        serviceRulesProgress.cancel(ticket)?.resume()
    }
}
