import Foundation
import PodNet

/// `kubectl describe deployment` and `describe replicaset` text, in kubectl's layout
/// (`DeploymentDescriber`, `ReplicaSetDescriber`).
enum WorkloadDescription {
    static func deployment(_ deployment: Deployment, replicaSets: [ReplicaSet], timeZone: TimeZone, events: [Event] = [], now: Date = Date()) -> String {
        let spec = deployment.spec
        let status = deployment.status
        var w = ""
        w += "Name:\t\(deployment.metadata.name)\n"
        w += "Namespace:\t\(deployment.metadata.namespace)\n"
        w += "CreationTimestamp:\t\(format(deployment.metadata.creationTimestamp, timeZone: timeZone))\n"
        w += PodDescription.multiline("Labels", deployment.metadata.labels)
        w += PodDescription.annotations(deployment.metadata.annotations)
        w += "Selector:\t\(spec.selector?.description ?? "<none>")\n"
        w += "Replicas:\t\(deployment.desiredReplicas) desired | \(status.updatedReplicas) updated | \(status.replicas) total | "
            + "\(status.availableReplicas) available | \(status.unavailableReplicas) unavailable\n"
        w += "StrategyType:\t\(spec.strategy.type?.rawValue ?? "RollingUpdate")\n"
        w += "MinReadySeconds:\t\(spec.minReadySeconds)\n"
        if spec.strategy.type == .rollingUpdate {
            w += "RollingUpdateStrategy:\t\(spec.strategy.maxUnavailable?.description ?? "25%") max unavailable, "
                + "\(spec.strategy.maxSurge?.description ?? "25%") max surge\n"
        }
        w += template(spec.template)
        if !status.conditions.isEmpty {
            w += "Conditions:\n  Type\tStatus\tReason\n  ----\t------\t------\n"
            for condition in status.conditions { w += "  \(condition.type) \t\(condition.status.rawValue)\t\(condition.reason)\n" }
        }
        let new = DeploymentRollout.newReplicaSet(for: deployment, among: replicaSets)
        let old = replicaSets.filter { $0.metadata.name != new?.metadata.name && ($0.desiredReplicas > 0 || $0.status.replicas > 0) }
        w += "OldReplicaSets:\t\(old.isEmpty ? "<none>" : old.map(summary).joined(separator: ", "))\n"
        w += "NewReplicaSet:\t\(new.map(summary) ?? "<none>")\n"
        w += EventDescription.section(events, now: Timestamp(now))
        return TabWriter().format(w)
    }

    /// `web-5d8f6c7b9d (3/3 replicas created)`.
    static func summary(_ replicaSet: ReplicaSet) -> String {
        "\(replicaSet.metadata.name) (\(replicaSet.status.replicas)/\(replicaSet.desiredReplicas) replicas created)"
    }

    static func replicaSet(_ replicaSet: ReplicaSet, pods: [Pod], events: [Event] = [], now: Date = Date()) -> String {
        var w = ""
        w += "Name:\t\(replicaSet.metadata.name)\n"
        w += "Namespace:\t\(replicaSet.metadata.namespace)\n"
        w += "Selector:\t\(replicaSet.spec.selector?.description ?? "<none>")\n"
        w += PodDescription.multiline("Labels", replicaSet.metadata.labels)
        w += PodDescription.annotations(replicaSet.metadata.annotations)
        if let owner = (replicaSet.metadata.preservedFields["ownerReferences"]?.arrayValue ?? []).first(where: { $0["controller"] == .bool(true) }) {
            w += "Controlled By:\t\(owner["kind"]?.stringValue ?? "")/\(owner["name"]?.stringValue ?? "")\n"
        }
        w += "Replicas:\t\(replicaSet.status.replicas) current / \(replicaSet.desiredReplicas) desired\n"
        func count(_ phase: PodPhase) -> Int { pods.filter { ($0.status.phase ?? .pending) == phase }.count }
        w += "Pods Status:\t\(count(.running)) Running / \(count(.pending)) Waiting / \(count(.succeeded)) Succeeded / \(count(.failed)) Failed\n"
        w += template(replicaSet.spec.template)
        w += EventDescription.section(events, now: Timestamp(now))
        return TabWriter().format(w)
    }

    /// `Pod Template:` as `DescribePodTemplate` prints it.
    static func template(_ template: PodTemplateSpec) -> String {
        var w = "Pod Template:\n"
        for line in PodDescription.multiline("Labels", template.metadata.labels).split(separator: "\n") { w += "  \(line)\n" }
        if !template.metadata.annotations.isEmpty {
            for line in PodDescription.annotations(template.metadata.annotations).split(separator: "\n") { w += "  \(line)\n" }
        }
        w += "  Containers:\n"
        for container in template.spec.containers {
            w += "   \(container.name):\n"
            w += "    Image:\t\(container.image)\n"
            let ports = container.ports.map { "\($0.containerPort)/\($0.effectiveProtocol.rawValue)" }.joined(separator: ", ")
            w += "    Port:\t\(ports.isEmpty ? "<none>" : ports)\n"
            w += "    Host Port:\t\(container.ports.isEmpty ? "<none>" : container.ports.map { "\($0.hostPort)/\($0.effectiveProtocol.rawValue)" }.joined(separator: ", "))\n"
            if !container.command.isEmpty { w += "    Command:\n" + container.command.map { "      \($0)\n" }.joined() }
            if !container.args.isEmpty { w += "    Args:\n" + container.args.map { "      \($0)\n" }.joined() }
            w += container.env.isEmpty ? "    Environment:\t<none>\n" : "    Environment:\n" + container.env.map { "      \($0.name):\t\($0.value)\n" }.joined()
            w += PodDescription.mounts(container.volumeMounts)
        }
        for line in PodDescription.volumes(template.spec.volumes).split(separator: "\n") { w += "  \(line)\n" }
        w += "  Node-Selectors:\t<none>\n"
        w += "  Tolerations:\t<none>\n"
        return w
    }

    /// RFC 1123 with numeric zone, as kubectl prints `CreationTimestamp`.
    static func format(_ timestamp: Timestamp?, timeZone: TimeZone) -> String {
        guard let timestamp else { return "Mon, 01 Jan 0001 00:00:00 +0000" }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = timeZone
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss Z"
        return formatter.string(from: timestamp.date)
    }
}
