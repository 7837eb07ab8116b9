/// A pod's quality-of-service class (`status.qosClass`), which the API server sets at creation
/// and never changes: it says how the kubelet treats the pod under memory pressure, and
/// `describe` shows it.
public enum PodQOSClass: String, Sendable, Hashable, CaseIterable {
    /// Every container (init containers included) limits cpu and memory, and requests what it limits.
    case guaranteed = "Guaranteed"
    /// Some cpu or memory is requested or limited, but not as `guaranteed` needs.
    case burstable = "Burstable"
    /// No container requests or limits any cpu or memory.
    case bestEffort = "BestEffort"

    /// The resources the class looks at; others (ephemeral storage, extended resources) do not count.
    static let computeResources = ["cpu", "memory"]

    /// Kubernetes' `ComputePodQOS` over the pod's containers and init containers, with their
    /// requests defaulted from their limits first (as the API server stores them, so a spec
    /// read before defaulting gets the class it will have). Zero quantities count as unset.
    public init(_ spec: PodSpec) {
        var requests: ResourceList = [:]
        var limits: ResourceList = [:]
        var isGuaranteed = true
        for container in (spec.containers + spec.initContainers).map(Pod.defaultingRequests) {
            let resources = container.resourceRequirements
            for name in Self.computeResources {
                if let request = resources.requests[name], request > .zero {
                    requests[name] = Quantity(nanos: (requests[name]?.nanos ?? 0) + request.nanos)
                }
            }
            var limited: Set<String> = []
            for name in Self.computeResources {
                if let limit = resources.limits[name], limit > .zero {
                    limited.insert(name)
                    limits[name] = Quantity(nanos: (limits[name]?.nanos ?? 0) + limit.nanos)
                }
            }
            if limited.count < Self.computeResources.count { isGuaranteed = false }
        }
        if requests.isEmpty && limits.isEmpty {
            self = .bestEffort
        } else if isGuaranteed, requests.count == limits.count, requests.allSatisfy({ limits[$0.key] == $0.value }) {
            self = .guaranteed
        } else {
            self = .burstable
        }
    }
}

extension PodStatus {
    /// `qosClass` as recorded at creation; nil for a pod stored without one.
    public var qosClass: PodQOSClass? {
        get { preservedFields["qosClass"]?.stringValue.flatMap(PodQOSClass.init(rawValue:)) }
        set { preservedFields["qosClass"] = newValue.map { .string($0.rawValue) } }
    }
}
