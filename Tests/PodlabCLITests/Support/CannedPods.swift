import Foundation
import PodNet

/// Pods for `FakeAgent`'s canned answers (watches that end, probe results, inspection), which
/// the real API cannot give without root or without waiting: a fixed creation time an hour
/// before the tests' fixed "now", and a status that says running.
enum CannedPods {
    static let created = Timestamp(secondsSince1970: 1_700_000_000 - 3600)

    /// Marks every container running and ready, on node podlab-n1 with IP 10.244.1.5.
    static func running(_ pod: inout Pod) {
        if pod.metadata.namespace.isEmpty { pod.metadata.namespace = "default" }
        pod.metadata.creationTimestamp = created
        pod.spec.nodeName = "podlab-n1"
        pod.status.phase = .running
        pod.status.hostIP = "192.168.200.11"
        pod.status.podIP = "10.244.1.5"
        pod.status.podIPs = [PodIP(ip: "10.244.1.5")]
        pod.status.startTime = created
        pod.status.conditions = [
            PodCondition(type: .initialized, status: .true, lastTransitionTime: created),
            PodCondition(type: .ready, status: .true, lastTransitionTime: created),
            PodCondition(type: .containersReady, status: .true, lastTransitionTime: created),
            PodCondition(type: .podScheduled, status: .true, lastTransitionTime: created),
        ]
        pod.status.containerStatuses = pod.spec.containers.map { container in
            ContainerStatus(name: container.name, state: .running(startedAt: created.adding(seconds: 2)), ready: true, started: true,
                            image: container.image, imageID: "",
                            containerID: "podlab://\(pod.metadata.namespace)-\(pod.metadata.name)-\(container.name)")
        }
    }
}

extension CannedPods {
    /// Answers the reads of a fixed set of pods — one by name, a namespace's list, every
    /// namespace's — and nil for any other request. Nothing is created, changed or deleted.
    static func answer(_ request: FakeRequest, pods: [Pod]) -> FakeResponse? {
        guard request.method == "GET" else { return nil }
        let parts = request.path.split(separator: "/").map(String.init)
        switch parts.count {
        case 3 where parts == ["api", "v1", "pods"]:
            return .object(PodList(items: pods, resourceVersion: "10"))
        case 5 where parts[4] == "pods":
            return .object(PodList(items: pods.filter { $0.metadata.namespace == parts[3] }, resourceVersion: "10"))
        case 6 where parts[4] == "pods":
            guard let pod = pods.first(where: { $0.metadata.namespace == parts[3] && $0.metadata.name == parts[5] }) else {
                return .notFound("pods", parts[5])
            }
            return .object(pod)
        default:
            return nil
        }
    }
}
