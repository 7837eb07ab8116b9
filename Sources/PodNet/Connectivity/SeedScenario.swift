/// `podlab test --scenario seed`: pods shaped like the tutorial's examples, and the checks
/// that reproduce each claim it makes about them:
///
/// | pod | node | containers | shows |
/// |---|---|---|---|
/// | `nginx-ser` | first | nginx (80) | one IP per pod, cross-node reach |
/// | `httpd` | last | httpd (80) | one IP per pod, cross-node reach |
/// | `shared` | first | echo (8080), nginx (80), busybox | shared IP, localhost between containers |
/// | `clash` | last | nginx (80), httpd (80) | same-port conflict: one holds the port, the other cannot |
///
/// Every pod is also checked from the host (no route into the lab), against its gateway, and
/// on a closed port. The pods live in their own namespace and are removed afterwards.
public enum SeedScenario {
    /// The namespace the scenario's pods live in.
    public static let namespace = "podlab-seed"
    /// The scenario's name on the command line.
    public static let name = "seed"
    /// The label every scenario pod carries.
    public static let label = ("podlab.dev/scenario", "seed")

    /// The pods, placed on the first and last of `nodes` (one node: all on it).
    public static func pods(nodes: [String]) -> [Pod] {
        let first = nodes.first ?? "", last = nodes.last ?? ""
        func pod(_ name: String, node: String, _ containers: [Container]) -> Pod {
            Pod(metadata: ObjectMeta(name: name, namespace: namespace, labels: [label.0: label.1, "run": name]),
                spec: PodSpec(containers: containers, restartPolicy: .always, nodeName: node))
        }
        return [
            pod("nginx-ser", node: first, [Container(name: "nginx-ser", image: "nginx")]),
            pod("httpd", node: last, [Container(name: "httpd", image: "httpd")]),
            pod("shared", node: first, [
                Container(name: "server", image: "podlab/echo", ports: [ContainerPort(containerPort: 8080)],
                          env: [EnvVar(name: "PORT", value: "8080")]),
                Container(name: "web", image: "nginx", ports: [ContainerPort(containerPort: 80)]),
                Container(name: "client", image: "busybox", command: ["sleep", "3600"]),
            ]),
            pod("clash", node: last, [
                Container(name: "first", image: "nginx", ports: [ContainerPort(containerPort: 80)]),
                Container(name: "second", image: "httpd", ports: [ContainerPort(containerPort: 80)]),
            ]),
        ]
    }

    /// Names of the scenario's pods.
    public static var podNames: [String] { pods(nodes: []).map(\.metadata.name) }

    /// What is still missing before probing makes sense (empty: ready): every pod running with
    /// an address, every container of `shared` running, and in `clash` one container holding
    /// port 80 while the other has failed to get it at least once.
    public static func waitingFor(_ pods: [Pod]) -> [String] {
        var missing: [String] = []
        for name in podNames {
            guard let pod = pods.first(where: { $0.metadata.name == name && $0.metadata.namespace == namespace }),
                  pod.metadata.deletionTimestamp == nil else {
                missing.append("\(name): not created")
                continue
            }
            guard pod.status.phase == .running, !pod.status.podIP.isEmpty else {
                missing.append("\(name): \(pod.status.phase?.rawValue ?? "Pending")")
                continue
            }
            let statuses = pod.status.containerStatuses
            if name == "clash" {
                let running = statuses.filter { $0.state.running != nil }
                let failed = statuses.contains { $0.restartCount > 0 || $0.state.terminated != nil || $0.lastState.terminated != nil }
                if running.isEmpty || !failed { missing.append("clash: waiting for the second listener to fail") }
            } else if statuses.count < pod.spec.containers.count || statuses.contains(where: { $0.state.running == nil }) {
                let ready = statuses.filter { $0.state.running != nil }.count
                missing.append("\(name): \(ready)/\(pod.spec.containers.count) containers running")
            }
        }
        return missing
    }

    /// The checks: the reachability model over the scenario's namespace, with HTTP answers
    /// checked between every pair of pods.
    public static func checks(for snapshot: LabSnapshot, timeoutMillis: Int = ProbeRequest.defaultTimeoutMillis) -> [ConnectivityCheck] {
        ReachabilityModel.checks(for: snapshot, options: MatrixOptions(namespace: namespace, timeoutMillis: timeoutMillis, httpBetweenPods: true))
    }

    /// Tutorial claims the checks cannot show, with the reason.
    public static func notShown(by checks: [ConnectivityCheck], nodes: Int) -> [ConnectivityClaim: String] {
        var result: [ConnectivityClaim: String] = [:]
        for claim in ConnectivityClaim.tutorial where !checks.contains(where: { $0.claim == claim }) {
            result[claim] = claim == .crossNode && nodes < 2 ? "the lab has one node" : "no pod of the scenario is in a state to show it"
        }
        return result
    }
}
