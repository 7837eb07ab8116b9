import Foundation
import PodNet

/// The cluster DNS, made once when the lab is first built (like a topology's pods): the pod
/// `podlab-dns` in `kube-system` running the `podlab/dns` image, fed by watches on this agent's
/// socket, and the Service `kube-dns` at the service CIDR's tenth address (10.96.0.10), which
/// every pod's `/etc/resolv.conf` names. Deleted by a user, they stay deleted, as in a cluster
/// whose add-on was removed.
extension Controller {
    static let clusterDNSPodName = "podlab-dns"
    static let clusterDNSServiceName = "kube-dns"
    static let clusterDNSNamespace = "kube-system"

    /// The pod runs with `hostNetwork`, as node-local DNS caches do: it takes no address from the
    /// pod CIDRs (so the addresses a lab gives its own pods are the ones the tutorial shows)
    /// and stays out of `podlab test`'s pod-to-pod matrix; its endpoint is its node's address.
    /// `dnsPolicy: Default`: the DNS server itself resolves nothing through the cluster DNS.
    func clusterDNSPod() -> JSONValue {
        .object([
            "apiVersion": "v1", "kind": "Pod",
            "metadata": .object([
                "name": .string(Controller.clusterDNSPodName), "namespace": .string(Controller.clusterDNSNamespace),
                "labels": .object(["k8s-app": "kube-dns"]),
            ]),
            "spec": .object([
                "hostNetwork": true,
                "dnsPolicy": "Default",
                "containers": .array([.object([
                    "name": "dns",
                    "image": "podlab/dns",
                    "env": .array([.object(["name": "PODLAB_API_SOCKET", "value": .string(paths.socket)])]),
                ])]),
            ]),
        ])
    }

    func clusterDNSService(address: IPv4Address) -> JSONValue {
        .object([
            "apiVersion": "v1", "kind": "Service",
            "metadata": .object([
                "name": .string(Controller.clusterDNSServiceName), "namespace": .string(Controller.clusterDNSNamespace),
                "labels": .object(["k8s-app": "kube-dns", "kubernetes.io/name": "CoreDNS"]),
            ]),
            "spec": .object([
                "clusterIP": .string(address.description),
                "selector": .object(["k8s-app": "kube-dns"]),
                "ports": .array([
                    .object(["name": "dns", "protocol": "UDP", "port": 53, "targetPort": 53]),
                    .object(["name": "dns-tcp", "protocol": "TCP", "port": 53, "targetPort": 53]),
                ]),
            ]),
        ])
    }

    func createClusterDNS(_ plan: LabPlan) async {
        do {
            guard try store.read({ try $0.meta("clusterDNSCreated") }) == nil else { return }
            guard let address = PodDNS.clusterDNSAddress(serviceCIDR: plan.serviceCIDR) else {
                logger.warning("the service CIDR \(plan.serviceCIDR) has no tenth address: no cluster DNS")
                return
            }
            let namespace = Controller.clusterDNSNamespace
            if services["\(namespace)/\(Controller.clusterDNSServiceName)"] == nil {
                _ = try await createService(namespace: namespace, body: Data(clusterDNSService(address: address).jsonText(indent: 0).utf8), dryRun: false)
            }
            if pods["\(namespace)/\(Controller.clusterDNSPodName)"] == nil {
                _ = try await createPod(namespace: namespace, body: Data(clusterDNSPod().jsonText(indent: 0).utf8))
            }
            try store.write { try $0.setMeta("clusterDNSCreated", "true") }
        } catch {
            logger.error("cluster DNS: \(error)")
        }
    }
}
