import Foundation
import PodNet

extension Controller {
    /// Issues a meshed pod's workload certificate into its directory and schedules the next one
    /// at two thirds of its life. The sidecar notices the new file and takes it for new
    /// handshakes; connections already open keep theirs. Called when the sidecar starts (a
    /// restart too) and when an adopted pod's sidecar runs on after an agent restart (its
    /// renewal timer ended with the previous agent). Returns the directory, or nil when the
    /// certificate could not be made (the sidecar then runs without mTLS, and says so).
    @discardableResult
    func provisionMeshCertificate(_ pod: Pod) -> String? {
        let uid = pod.metadata.uid
        let identity = MeshIdentity(pod)
        do {
            let notAfter = try MeshCertificates.provision(identity, podUID: uid, authority: meshAuthority, paths: paths,
                                                          schedule: meshCertificateSchedule)
            scheduleMeshRenewal(podKey: key(pod), uid: uid, at: meshCertificateSchedule.renewal(notAfter: notAfter))
            meshSidecars[uid, default: (MeshTLSMode.of(podAnnotations: pod.metadata.annotations, namespaceAnnotations: [:]), nil)].notAfter = notAfter
            return MeshCertificates.directory(paths, podUID: uid)
        } catch {
            logger.error("pod \(key(pod)): issuing its mesh certificate (\(identity)) failed: \(error)")
            // Tried again in 30 s: a sidecar without a certificate falls back to plain text.
            scheduleMeshRenewal(podKey: key(pod), uid: uid, at: Date().addingTimeInterval(30))
            return nil
        }
    }

    /// Another lifetime for certificates issued from now on (tests: seconds instead of an hour).
    func setMeshCertificateSchedule(_ schedule: MeshCertificateSchedule) { meshCertificateSchedule = schedule }

    func scheduleMeshRenewal(podKey: String, uid: String, at date: Date) {
        meshCertificateRenewals[uid]?.cancel()
        let delay = max(0, date.timeIntervalSinceNow)
        meshCertificateRenewals[uid] = Task { [weak self] in
            try? await Task.sleep(for: .milliseconds(Int64(delay * 1000)))
            guard !Task.isCancelled else { return }
            await self?.renewMeshCertificate(podKey: podKey, uid: uid)
        }
    }

    func renewMeshCertificate(podKey: String, uid: String) {
        meshCertificateRenewals[uid] = nil
        guard let pod = pods[podKey], pod.metadata.uid == uid, pod.metadata.deletionTimestamp == nil,
              pod.status.phase?.isTerminal != true, MeshCaptureRules.forPod(pod) != nil,
              pod.metadata.annotations[MeshTLSMode.annotation] != MeshTLSMode.disable.rawValue else { return }
        provisionMeshCertificate(pod)
    }

    /// The pod is gone: no more renewals, and its key leaves the disk.
    func removeMeshCertificate(uid: String) {
        meshCertificateRenewals.removeValue(forKey: uid)?.cancel()
        meshSidecars[uid] = nil
        MeshCertificates.remove(podUID: uid, paths: paths)
    }

    /// `podlab mesh status`: every meshed pod (in `namespace`, or all), with the mode its sidecar
    /// was started with (else the one it would start with) and its certificate's expiry.
    func meshStatusReport(namespace: String?) -> MeshStatusReport {
        let now = Timestamp.now()
        let rows = pods.values.sorted { ($0.metadata.namespace, $0.metadata.name) < ($1.metadata.namespace, $1.metadata.name) }
            .filter { namespace == nil || $0.metadata.namespace == namespace }
            .compactMap { pod -> MeshPodStatus? in
                let sidecar = meshSidecars[pod.metadata.uid]
                let mode = sidecar?.mode ?? MeshTLSMode.of(podAnnotations: pod.metadata.annotations,
                                                           namespaceAnnotations: namespaces[pod.metadata.namespace]?.metadata.annotations ?? [:])
                return MeshPodStatus(pod, mode: mode, certificateNotAfter: sidecar?.notAfter.map(Timestamp.init), now: now)
            }
        return MeshStatusReport(pods: rows)
    }
}
