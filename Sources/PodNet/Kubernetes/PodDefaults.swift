extension Pod {
    /// The pod with the defaults the API server fills in on create (`SetDefaults_Pod`), so that
    /// `get -o yaml` shows what kubectl users expect and updates compare like with like:
    /// `restartPolicy: Always`, `dnsPolicy: ClusterFirst`, `terminationGracePeriodSeconds: 30`,
    /// `schedulerName: default-scheduler`, `securityContext: {}`, `enableServiceLinks: true`,
    /// and per container `protocol: TCP` on ports, `imagePullPolicy` (`Always` for `:latest` or
    /// untagged images, else `IfNotPresent`), `terminationMessagePath`, `terminationMessagePolicy`
    /// and `apiVersion: v1` on downward API field references, and `resources.requests` filled in from
    /// `resources.limits` for every resource limited but not requested (`SetDefaults_Pod`: a
    /// container that only limits requests what it limits), and the probes' timing,
    /// `httpGet.path: /` and `scheme: HTTP` (`ContainerProbe.defaulted`); a volume without a source becomes an
    /// `emptyDir`, a `hostPath` without a type gets `type: ""`; with `hostNetwork`, a port's
    /// `hostPort` is its `containerPort` (`defaultHostNetworkPorts`: the container listens on the
    /// node's own port). Applying it twice changes nothing.
    public func applyingDefaults() -> Pod {
        var pod = self
        pod.spec.restartPolicy = pod.spec.restartPolicy ?? .always
        pod.spec.dnsPolicy = pod.spec.dnsPolicy ?? .clusterFirst
        pod.spec.terminationGracePeriodSeconds = pod.spec.terminationGracePeriodSeconds ?? 30
        pod.spec.preservedFields["schedulerName"] = pod.spec.preservedFields["schedulerName"] ?? "default-scheduler"
        pod.spec.preservedFields["securityContext"] = pod.spec.preservedFields["securityContext"] ?? .object([:])
        pod.spec.preservedFields["enableServiceLinks"] = pod.spec.preservedFields["enableServiceLinks"] ?? true
        pod.spec.volumes = pod.spec.volumes.map(Pod.applyingDefaults)
        pod.spec.containers = pod.spec.containers.map(Pod.applyingDefaults)
        pod.spec.initContainers = pod.spec.initContainers.map(Pod.applyingDefaults)
        if pod.spec.hostNetwork {
            pod.spec.containers = pod.spec.containers.map(Pod.defaultingHostNetworkPorts)
            pod.spec.initContainers = pod.spec.initContainers.map(Pod.defaultingHostNetworkPorts)
        }
        return pod
    }

    /// The mode of a projected file without one of its own (`SetDefaults_*VolumeSource`).
    public static let defaultFileMode: Int32 = 0o644

    /// A volume without a source is an `emptyDir`; a `hostPath` without a type gets "" (no
    /// check); the sources that write files get their `defaultMode` (0644, written 420); a
    /// token projection its lifetime (3600 s).
    private static func applyingDefaults(to volume: Volume) -> Volume {
        var volume = volume
        if volume.sourceNames.isEmpty { volume.emptyDir = EmptyDirVolumeSource() }
        if volume.hostPath != nil, volume.hostPath?.type == nil { volume.hostPath?.type = .unset }
        if volume.configMap != nil, volume.configMap?.defaultMode == nil { volume.configMap?.defaultMode = defaultFileMode }
        if volume.secret != nil, volume.secret?.defaultMode == nil { volume.secret?.defaultMode = defaultFileMode }
        if volume.downwardAPI != nil, volume.downwardAPI?.defaultMode == nil { volume.downwardAPI?.defaultMode = defaultFileMode }
        if volume.projected != nil, volume.projected?.defaultMode == nil { volume.projected?.defaultMode = defaultFileMode }
        for index in volume.downwardAPI?.items.indices ?? 0..<0 where volume.downwardAPI?.items[index].fieldRef?.apiVersion.isEmpty == true {
            volume.downwardAPI?.items[index].fieldRef?.apiVersion = "v1"
        }
        for index in volume.projected?.sources.indices ?? 0..<0 {
            if volume.projected?.sources[index].serviceAccountToken != nil,
               volume.projected?.sources[index].serviceAccountToken?.expirationSeconds == nil {
                volume.projected?.sources[index].serviceAccountToken?.expirationSeconds = ServiceAccountTokenProjection.defaultExpirationSeconds
            }
            for item in volume.projected?.sources[index].downwardAPI?.items.indices ?? 0..<0
            where volume.projected?.sources[index].downwardAPI?.items[item].fieldRef?.apiVersion.isEmpty == true {
                volume.projected?.sources[index].downwardAPI?.items[item].fieldRef?.apiVersion = "v1"
            }
        }
        return volume
    }

    private static func applyingDefaults(to container: Container) -> Container {
        var container = defaultingRequests(container)
        for index in container.ports.indices {
            container.ports[index].protocol = container.ports[index].protocol ?? .tcp
        }
        if container.preservedFields["imagePullPolicy"] == nil, !container.image.isEmpty {
            container.preservedFields["imagePullPolicy"] = .string(Pod.defaultPullPolicy(for: container.image))
        }
        for index in container.env.indices where container.env[index].valueFrom?.fieldRef?.apiVersion.isEmpty == true {
            container.env[index].valueFrom?.fieldRef?.apiVersion = "v1"
        }
        container.livenessProbe = container.livenessProbe?.defaulted
        container.readinessProbe = container.readinessProbe?.defaulted
        container.startupProbe = container.startupProbe?.defaulted
        container.preservedFields["terminationMessagePath"] = container.preservedFields["terminationMessagePath"] ?? "/dev/termination-log"
        container.preservedFields["terminationMessagePolicy"] = container.preservedFields["terminationMessagePolicy"] ?? "File"
        return container
    }

    /// The container with each limited resource it does not request requested at its limit.
    static func defaultingRequests(_ container: Container) -> Container {
        guard case var .object(resources)? = container.preservedFields["resources"],
              case let .object(limits)? = resources["limits"], !limits.isEmpty else { return container }
        var requests = resources["requests"]?.objectValue ?? [:]
        for (name, limit) in limits where requests[name] == nil { requests[name] = limit }
        resources["requests"] = .object(requests)
        var container = container
        container.preservedFields["resources"] = .object(resources)
        return container
    }

    private static func defaultingHostNetworkPorts(_ container: Container) -> Container {
        var container = container
        for index in container.ports.indices where container.ports[index].hostPort == 0 {
            container.ports[index].hostPort = container.ports[index].containerPort
        }
        return container
    }

    /// `Always` for images tagged `latest` or not tagged (and not pinned by digest), otherwise `IfNotPresent`.
    public static func defaultPullPolicy(for image: String) -> String {
        if image.contains("@") { return "IfNotPresent" }
        let lastComponent = image.split(separator: "/").last.map(String.init) ?? image
        guard let colon = lastComponent.lastIndex(of: ":") else { return "Always" }
        return lastComponent[lastComponent.index(after: colon)...] == "latest" ? "Always" : "IfNotPresent"
    }
}
