/// kubectl's tables for Deployments and ReplicaSets.
public enum WorkloadTables {
    /// `NAME READY UP-TO-DATE AVAILABLE AGE`, plus `CONTAINERS IMAGES SELECTOR` when wide.
    public static func deployments(_ deployments: [Deployment], wide: Bool = false, now: Timestamp) -> TextTable {
        let headers = ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"] + (wide ? ["CONTAINERS", "IMAGES", "SELECTOR"] : [])
        return TextTable(headers: headers, rows: deployments.map { deployment in
            let status = deployment.status
            let row = [deployment.metadata.name, "\(status.readyReplicas)/\(deployment.desiredReplicas)", String(status.updatedReplicas),
                       String(status.availableReplicas), HumanDuration.since(deployment.metadata.creationTimestamp, now: now)]
            return row + (wide ? templateColumns(deployment.spec.template, selector: deployment.spec.selector) : [])
        })
    }

    /// `NAME DESIRED CURRENT READY AGE`, plus `CONTAINERS IMAGES SELECTOR` when wide.
    public static func replicaSets(_ replicaSets: [ReplicaSet], wide: Bool = false, now: Timestamp) -> TextTable {
        let headers = ["NAME", "DESIRED", "CURRENT", "READY", "AGE"] + (wide ? ["CONTAINERS", "IMAGES", "SELECTOR"] : [])
        return TextTable(headers: headers, rows: replicaSets.map { replicaSet in
            let row = [replicaSet.metadata.name, String(replicaSet.desiredReplicas), String(replicaSet.status.replicas),
                       String(replicaSet.status.readyReplicas), HumanDuration.since(replicaSet.metadata.creationTimestamp, now: now)]
            return row + (wide ? templateColumns(replicaSet.spec.template, selector: replicaSet.spec.selector) : [])
        })
    }

    static func templateColumns(_ template: PodTemplateSpec, selector: LabelSelectorSpec?) -> [String] {
        [template.spec.containers.map(\.name).joined(separator: ","), template.spec.containers.map(\.image).joined(separator: ","),
         selector.map { $0.isEmpty ? "<none>" : $0.description } ?? "<none>"]
    }
}
