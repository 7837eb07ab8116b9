/// What podlab does with each field of a v1 Pod. A field is either acted on as the kubelet
/// would, kept because it changes nothing a single-machine lab can show (and shown again by
/// `get -o yaml`), or refused at create and update with a 422 naming it
/// (`spec.volumes[0].configMap: Forbidden: not supported by podlab yet`) — never accepted and
/// then ignored. Fields outside the v1 schema fail strict decoding (`unknown field`), also
/// inside kept objects whose shape is known (`FieldSchema`).
///
/// | Field | podlab |
/// |---|---|
/// | `metadata.name`, `namespace`, `labels`, `annotations` | acted on |
/// | `metadata.uid`, `resourceVersion`, `generation`, `creationTimestamp`, `deletion*` | set by the agent |
/// | `metadata.generateName` | kept with a name (Kubernetes ignores it then); refused without one |
/// | `metadata.ownerReferences`, `finalizers` | refused: no garbage collector, deletion does not wait |
/// | `metadata.managedFields`, `selfLink` | kept |
/// | `spec.containers[]` | acted on (fields below) |
/// | `spec.initContainers[]` | acted on: run in order before the containers (same fields as below) |
/// | `spec.initContainers[].restartPolicy: Always` | acted on: a sidecar, started in its turn and kept running |
/// | `spec.ephemeralContainers` | refused |
/// | `spec.restartPolicy`, `terminationGracePeriodSeconds`, `nodeName`, `hostname`, `subdomain`, `setHostnameAsFQDN` | acted on (`/etc/hosts`, `/etc/hostname`, the UTS hostname) |
/// | `spec.readinessGates` | acted on (`Ready` waits for the conditions) |
/// | `spec.activeDeadlineSeconds` | refused: the pod would never be failed at the deadline |
/// | `spec.dnsPolicy`, `spec.dnsConfig` | acted on: the pod's `/etc/resolv.conf` (`PodDNS`): `ClusterFirst` the cluster DNS, `Default` the node's resolver (a lab node has none: no nameserver), `None` only `dnsConfig` |
/// | `spec.hostAliases` | acted on: appended to the pod's `/etc/hosts` as the kubelet does |
/// | `spec.hostnameOverride` | refused |
/// | `spec.volumes[].emptyDir` (`medium: ""` or `Memory`, `sizeLimit`), `hostPath` (absolute `path`, `type`) | acted on |
/// | `spec.volumes[].configMap`, `secret`, `downwardAPI`, `projected` (its `configMap`, `secret`, `downwardAPI` sources) | acted on: written as the kubelet writes them (`VolumeFiles`; `secret`, `projected` and `downwardAPI` on a tmpfs of their own, `VolumeFiles.isMemoryBacked`), rewritten when the objects change |
/// | `spec.volumes[].projected.sources[].serviceAccountToken` (`audience`, `expirationSeconds`, `path`) | acted on: a JWT of the pod's service account signed by the lab's key (`ServiceAccountTokenClaims`), rotated at 80 % of its lifetime |
/// | `spec.volumes[].projected.sources[].clusterTrustBundle`, `podCertificate` | refused: behind Kubernetes feature gates that are off by default, and podlab has no ClusterTrustBundle or PodCertificateRequest objects |
/// | `spec.volumes[]` other sources, `emptyDir.medium: HugePages` | refused |
/// | `spec.nodeSelector`, `affinity`, `topologySpreadConstraints`, `schedulingGates` | refused: the scheduler does not use them |
/// | `spec.tolerations` | kept: podlab nodes have no taints |
/// | `spec.schedulerName` | kept as `default-scheduler`; another scheduler is refused |
/// | `spec.priority`, `priorityClassName`, `preemptionPolicy` | kept: no preemption on one machine |
/// | `spec.serviceAccountName`, `serviceAccount` | kept as `default`; other accounts are refused |
/// | `spec.automountServiceAccountToken`, `enableServiceLinks`, `imagePullSecrets` | kept: no token mounted unasked (a `serviceAccountToken` projection gives one), no services, no registry |
/// | `spec.hostNetwork` | acted on: the containers run in the node's network namespace, the pod's IP is the node's (no address, veth or network namespace of its own) |
/// | `spec.shareProcessNamespace` | acted on: one pid namespace for the pod, made with its sandbox, whose PID 1 is the pod's pause process (`podlab-tools pause`); every container joins it (built-in images by `setns` before their fork, OCI images by path in `config.json`) |
/// | `spec.hostPID`, `hostIPC` | `false` kept, `true` refused: a pod never enters the host's pid or IPC namespace |
/// | `spec.hostUsers` | `true` kept, `false` refused |
/// | `spec.securityContext.*` | `runAsUser`, `runAsGroup`, `runAsNonRoot`, `supplementalGroups` acted on (`ContainerCredentials`); the others refused, per field (`{}` kept) |
/// | `spec.os.name` | `linux` kept, `windows` refused |
/// | `spec.runtimeClassName`, `overhead`, `resourceClaims`, `resources` | refused |
/// | `containers[].name`, `image`, `command`, `args`, `workingDir`, `env[].value` | acted on (`$(VAR)` expanded) |
/// | `containers[].env[].valueFrom.fieldRef`, `resourceFieldRef` | acted on (downward API) |
/// | `containers[].env[].valueFrom.configMapKeyRef`, `secretKeyRef`, `envFrom` | acted on, resolved at each start (`ContainerEnvironment`) |
/// | `containers[].env[].valueFrom.fileKeyRef` | refused |
/// | `containers[].ports[].containerPort`, `name`, `protocol` | kept (informational, as in Kubernetes) |
/// | `containers[].ports[].hostPort` | acted on: without `hostNetwork`, the node's address and that port lead to the pod (DNAT in the node's Service table, as the CNI portmap plugin), and the scheduler gives a node's port to one pod; with `hostNetwork` it is the `containerPort` (defaulted to it, another value invalid), the node's own port; `hostIP` kept (Kubernetes warns) |
/// | `containers[].resources.requests` | validated, defaulted from `limits`, kept (shown by `describe`); with the limits they give `status.qosClass` (`PodQOSClass`) |
/// | `containers[].resources.limits.cpu`, `limits.memory` | acted on: a cgroup per container (cgroup v2 `cpu.max`, `memory.max`; v1 CFS quota, `memory.limit_in_bytes`), `OOMKilled` over the memory limit |
/// | `containers[].resources.limits` of other resources, `claims`, `resizePolicy` | refused |
/// | `containers[].volumeMounts[].name`, `mountPath` (absolute, not `/`), `readOnly`, `subPath`, `mountPropagation: None`, `recursiveReadOnly: Disabled` | acted on |
/// | `containers[].volumeMounts[].subPathExpr`, other `mountPropagation`/`recursiveReadOnly` modes, `volumeDevices` | refused |
/// | `containers[].livenessProbe`, `readinessProbe`, `startupProbe` with `exec`, `httpGet` (`path`, `port` number or name, `host` an IPv4 address, `scheme: HTTP`, `httpHeaders`), `tcpSocket` (`port`, `host`), and the timing fields | acted on, as the kubelet (`ProbeWorker`); on sidecars too, whose startup probe holds the next init container back |
/// | `containers[].*Probe.grpc`, `httpGet.scheme: HTTPS`, a `host` given by name | refused |
/// | `containers[].lifecycle.*` | refused (on regular init containers, and their probes, Kubernetes' own refusal) |
/// | `containers[].securityContext.*` | `runAsUser`, `runAsGroup`, `runAsNonRoot` acted on (`ContainerCredentials`); for an OCI image also `readOnlyRootFilesystem`, `capabilities`, `allowPrivilegeEscalation` (`RuntimeSpec`); the others refused, per field |
/// | `containers[].restartPolicy` | refused as Kubernetes does for non-init containers; `Always` only on init containers |
/// | `containers[].imagePullPolicy`, `terminationMessagePath`, `terminationMessagePolicy` | kept (validated) |
/// | `containers[].stdin`, `stdinOnce`, `tty` | acted on: stdin kept open for `attach` (`podlab run -i`), a terminal with `tty` |
public enum PodSupport {
    /// The detail of every refusal.
    public static let notSupported = "not supported by podlab yet"

    /// The resources whose `limits` podlab enforces, with a cgroup per container (`ContainerCgroupLimits`).
    public static let enforcedLimits: Set<String> = ["cpu", "memory"]

    /// The volume sources of `spec.volumes[]` (`VolumeSource`).
    public static let volumeSources = [
        "hostPath", "emptyDir", "gcePersistentDisk", "awsElasticBlockStore", "gitRepo", "secret", "nfs", "iscsi", "glusterfs",
        "persistentVolumeClaim", "rbd", "flexVolume", "cinder", "cephfs", "flocker", "downwardAPI", "fc", "azureFile",
        "configMap", "vsphereVolume", "quobyte", "azureDisk", "photonPersistentDisk", "projected", "portworxVolume",
        "scaleIO", "storageos", "csi", "ephemeral", "image",
    ]

    /// The fields of `spec.securityContext` (`PodSecurityContext`).
    public static let podSecurityContextFields = [
        "seLinuxOptions", "windowsOptions", "runAsUser", "runAsGroup", "runAsNonRoot", "supplementalGroups",
        "supplementalGroupsPolicy", "fsGroup", "sysctls", "fsGroupChangePolicy", "seccompProfile", "appArmorProfile",
        "seLinuxChangePolicy",
    ]

    /// The fields of `containers[].securityContext` (`SecurityContext`).
    public static let containerSecurityContextFields = [
        "capabilities", "privileged", "seLinuxOptions", "windowsOptions", "runAsUser", "runAsGroup", "runAsNonRoot",
        "readOnlyRootFilesystem", "allowPrivilegeEscalation", "procMount", "seccompProfile", "appArmorProfile",
    ]

    /// `field: Forbidden: not supported by podlab yet[: why]`.
    static func refusal(_ field: FieldPath, _ why: String? = nil) -> FieldError {
        .forbidden(field, notSupported + (why.map { ": " + $0 } ?? ""))
    }

    /// The refusals for `pod`: every field it sets that podlab does not act on and that would
    /// change what the pod does. `creating` picks Kubernetes' own message where it has one.
    static func refusals(_ pod: Pod, creating: Bool) -> [FieldError] {
        refusals(pod.metadata, path: "metadata") + refusals(pod.spec, path: "spec", creating: creating)
    }

    static func refusals(_ metadata: ObjectMeta, path: FieldPath) -> [FieldError] {
        var errors: [FieldError] = []
        let fields = metadata.preservedFields
        if metadata.name.isEmpty, !(fields["generateName"]?.isEmpty ?? true) {
            errors.append(refusal(path.child("generateName"), "give the pod a name"))
        }
        if !(fields["ownerReferences"]?.isEmpty ?? true) { errors.append(refusal(path.child("ownerReferences"))) }
        if !(fields["finalizers"]?.isEmpty ?? true) { errors.append(refusal(path.child("finalizers"))) }
        return errors
    }

    static func refusals(_ spec: PodSpec, path: FieldPath, creating: Bool) -> [FieldError] {
        var errors: [FieldError] = []
        let fields = spec.preservedFields
        func isSet(_ name: String) -> Bool { !(fields[name]?.isEmpty ?? true) }

        for (index, volume) in spec.volumes.enumerated() {
            errors += refusals(volume, path: path.child("volumes").index(index))
        }
        if isSet("ephemeralContainers") {
            errors.append(creating ? .forbidden(path.child("ephemeralContainers"), "cannot be set on create") : refusal(path.child("ephemeralContainers")))
        }
        if spec.activeDeadlineSeconds != nil { errors.append(refusal(path.child("activeDeadlineSeconds"))) }
        if isSet("nodeSelector") { errors.append(refusal(path.child("nodeSelector"))) }
        for name in ["serviceAccountName", "serviceAccount"] {
            if let account = fields[name]?.stringValue, !account.isEmpty, account != "default" {
                errors.append(.notSupported(path.child(name), account, supported: ["default"]))
            }
        }
        if fields["hostPID"] == .bool(true) {
            errors.append(refusal(path.child("hostPID"), "a pod never sees the host's processes; use shareProcessNamespace to share one pid namespace among its containers"))
        }
        if fields["hostIPC"] == .bool(true) {
            errors.append(refusal(path.child("hostIPC"), "a pod never shares the host's IPC namespace; its containers share the pod's own"))
        }
        for name in ["hostPID", "hostIPC", "shareProcessNamespace"] {
            switch fields[name] {
            case nil, .null, .bool: break
            case let .string(text)?: errors.append(.invalid(path.child(name), .string(text), "must be a boolean"))
            case let .integer(number)?: errors.append(.invalid(path.child(name), .integer(number), "must be a boolean"))
            case let value?: errors.append(.invalid(path.child(name), .goValue("\(value)"), "must be a boolean"))
            }
        }
        errors += setFields(of: fields["securityContext"], path: path.child("securityContext"))
            .filter { !ContainerCredentials.podFields.contains(lastField($0)) }.map { refusal($0) }
        errors += ContainerCredentials.validate(fields["securityContext"], path: path.child("securityContext"), pod: true)
        errors += setFields(of: fields["affinity"], path: path.child("affinity")).map { refusal($0) }
        if let scheduler = fields["schedulerName"]?.stringValue, !scheduler.isEmpty, scheduler != "default-scheduler" {
            errors.append(.notSupported(path.child("schedulerName"), scheduler, supported: ["default-scheduler"]))
        }
        if isSet("runtimeClassName") { errors.append(refusal(path.child("runtimeClassName"))) }
        if isSet("overhead") { errors.append(refusal(path.child("overhead"))) }
        if isSet("topologySpreadConstraints") { errors.append(refusal(path.child("topologySpreadConstraints"))) }
        if let os = fields["os"]?["name"]?.stringValue, !os.isEmpty {
            if os == "windows" {
                errors.append(refusal(path.child("os").child("name"), "podlab nodes run Linux"))
            } else if os != "linux" {
                errors.append(.notSupported(path.child("os").child("name"), os, supported: ["linux", "windows"]))
            }
        }
        if fields["hostUsers"] == .bool(false) { errors.append(refusal(path.child("hostUsers"))) }
        if isSet("schedulingGates") { errors.append(refusal(path.child("schedulingGates"))) }
        if isSet("resourceClaims") { errors.append(refusal(path.child("resourceClaims"))) }
        if isSet("resources") { errors.append(refusal(path.child("resources"))) }
        if isSet("hostnameOverride") { errors.append(refusal(path.child("hostnameOverride"))) }
        for (index, container) in spec.containers.enumerated() {
            errors += refusals(container, path: path.child("containers").index(index), hostNetwork: spec.hostNetwork)
        }
        for (index, container) in spec.initContainers.enumerated() {
            errors += refusals(container, path: path.child("initContainers").index(index), hostNetwork: spec.hostNetwork,
                               refusingHooks: container.isSidecar)
        }
        return errors
    }

    /// `refusingHooks` false leaves probes and lifecycle hooks to Kubernetes' own refusal (on
    /// regular init containers), so they are not refused twice. In a pod with `hostNetwork` a
    /// `hostPort` is the port the container listens on in the node's network (validation makes
    /// it equal the `containerPort`); elsewhere the node maps it to the pod, for app containers.
    static func refusals(_ container: Container, path: FieldPath, hostNetwork: Bool = false, refusingHooks: Bool = true) -> [FieldError] {
        var errors: [FieldError] = []
        let fields = container.preservedFields
        func isSet(_ name: String) -> Bool { !(fields[name]?.isEmpty ?? true) }

        let isInitContainer = path.description.contains("initContainers")
        for (index, port) in container.ports.enumerated() where port.hostPort != 0 && !hostNetwork && isInitContainer {
            errors.append(refusal(path.child("ports").index(index).child("hostPort"), "podlab maps the host ports of app containers only"))
        }
        for (index, variable) in container.env.enumerated() {
            for source in (variable.valueFrom?.preservedFields ?? [:]).filter({ $0.value != .null }).keys.sorted() {
                errors.append(refusal(path.child("env").index(index).child("valueFrom").child(source)))
            }
        }
        let resources = fields["resources"]
        for name in (resources?["limits"]?.objectValue ?? [:]).keys.sorted() where !enforcedLimits.contains(name) {
            errors.append(refusal(path.child("resources").child("limits").key(name), "podlab enforces cpu and memory limits only"))
        }
        if !(resources?["claims"]?.isEmpty ?? true) { errors.append(refusal(path.child("resources").child("claims"))) }
        if isSet("resizePolicy") { errors.append(refusal(path.child("resizePolicy"))) }
        for (index, mount) in container.volumeMounts.enumerated() {
            errors += refusals(mount, path: path.child("volumeMounts").index(index))
        }
        if isSet("volumeDevices") { errors.append(refusal(path.child("volumeDevices"))) }
        if refusingHooks {
            for type in [ContainerProbeType.liveness, .readiness, .startup] {
                guard let probe = container.probe(type) else { continue }
                errors += refusals(probe, path: path.child(type.field))
            }
            errors += setFields(of: fields["lifecycle"], path: path.child("lifecycle")).map { refusal($0) }
        }
        // An OCI runtime applies more of them than a built-in image's host process can.
        let acted = ImageSource.isOCIImage(container.image) ? ContainerCredentials.containerFields.union(ImageSource.securityContextFields)
            : ContainerCredentials.containerFields
        errors += setFields(of: fields["securityContext"], path: path.child("securityContext"))
            .filter { !acted.contains(lastField($0)) }.map { refusal($0) }
        errors += ContainerCredentials.validate(fields["securityContext"], path: path.child("securityContext"), pod: false)
        return errors
    }

    /// Refusals of the cpu and memory limits of `pod`'s containers, on a host where they cannot
    /// be enforced (`why`).
    public static func limitRefusals(_ pod: Pod, reason why: String) -> [FieldError] {
        var errors: [FieldError] = []
        for (list, containers) in [("containers", pod.spec.containers), ("initContainers", pod.spec.initContainers)] {
            for (index, container) in containers.enumerated() {
                let limits = container.preservedFields["resources"]?["limits"]?.objectValue ?? [:]
                for name in limits.keys.sorted() where enforcedLimits.contains(name) {
                    errors.append(refusal(FieldPath(stringLiteral: "spec").child(list).index(index).child("resources").child("limits").key(name), why))
                }
            }
        }
        return errors
    }

    /// A probe podlab cannot run as asked: gRPC, HTTPS, a host given by name.
    static func refusals(_ probe: ContainerProbe, path: FieldPath) -> [FieldError] {
        var errors: [FieldError] = []
        if probe.grpc != nil { errors.append(refusal(path.child("grpc"), "use httpGet, tcpSocket or exec")) }
        if let http = probe.httpGet {
            if http.scheme == HTTPGetAction.https { errors.append(refusal(path.child("httpGet").child("scheme"), "probes speak plain HTTP")) }
            if !http.host.isEmpty, IPv4Address(http.host) == nil {
                errors.append(refusal(path.child("httpGet").child("host"), "give an IPv4 address, or none for the pod's IP"))
            }
        }
        if let host = probe.tcpSocket?.host, !host.isEmpty, IPv4Address(host) == nil {
            errors.append(refusal(path.child("tcpSocket").child("host"), "give an IPv4 address, or none for the pod's IP"))
        }
        return errors
    }

    /// The name of the last field of `path` ("" when it ends in an index or key).
    private static func lastField(_ path: FieldPath) -> String {
        if case let .field(name)? = path.components.last { return name }
        return ""
    }

    /// Why the projections Kubernetes keeps behind feature gates are refused.
    static let gatedProjections = [
        "clusterTrustBundle": "Kubernetes serves it only with the ClusterTrustBundleProjection feature gate (beta, off by default), and podlab has no ClusterTrustBundle objects",
        "podCertificate": "Kubernetes serves it only with the PodCertificateRequest feature gate (alpha, off by default), and podlab issues no pod certificates",
    ]

    /// The storage media of `emptyDir` Kubernetes defines (`HugePages-<size>` besides).
    static let storageMedia = ["", "HugePages", "Memory"]

    /// A volume source other than `emptyDir` and `hostPath`, huge pages, and a relative host path.
    static func refusals(_ volume: Volume, path: FieldPath) -> [FieldError] {
        var errors = Volume.otherSources.filter { volume.preservedFields[$0] != nil }.map { refusal(path.child($0)) }
        for (index, source) in (volume.projected?.sources ?? []).enumerated() {
            for name in VolumeProjection.unmodeledSources.sorted() where source.preservedFields[name] != nil && source.preservedFields[name] != .null {
                errors.append(refusal(path.child("projected").child("sources").index(index).child(name), gatedProjections[name] ?? ""))
            }
        }
        if let medium = volume.emptyDir?.medium, medium != "", medium != EmptyDirVolumeSource.memory {
            let mediumPath = path.child("emptyDir").child("medium")
            errors.append(medium == "HugePages" || medium.hasPrefix("HugePages-")
                ? refusal(mediumPath) : .notSupported(mediumPath, medium, supported: storageMedia))
        }
        if let hostPath = volume.hostPath?.path, !hostPath.isEmpty, !hostPath.hasPrefix("/") {
            errors.append(.invalid(path.child("hostPath").child("path"), .string(hostPath), "must be an absolute path"))
        }
        return errors
    }

    /// A mount podlab cannot make as asked: a relative path or the root, an expanded subpath,
    /// mounts propagating from the host, a recursively read-only mount.
    static func refusals(_ mount: VolumeMount, path: FieldPath) -> [FieldError] {
        var errors: [FieldError] = []
        if !mount.mountPath.isEmpty, !mount.mountPath.hasPrefix("/") {
            errors.append(.invalid(path.child("mountPath"), .string(mount.mountPath), "must be an absolute path"))
        } else if !mount.mountPath.isEmpty, mount.mountPath.split(separator: "/").isEmpty {
            errors.append(refusal(path.child("mountPath"), "a volume cannot replace the root of the container"))
        }
        if !mount.subPathExpr.isEmpty { errors.append(refusal(path.child("subPathExpr"))) }
        if mount.mountPropagation == "HostToContainer" { errors.append(refusal(path.child("mountPropagation"))) }
        if let mode = mount.recursiveReadOnly, mode == "Enabled" || mode == "IfPossible" {
            errors.append(refusal(path.child("recursiveReadOnly")))
        }
        return errors
    }

    /// The paths of the fields of an object that hold a value (not `null`), sorted.
    private static func setFields(of value: JSONValue?, path: FieldPath) -> [FieldPath] {
        (value?.objectValue ?? [:]).filter { $0.value != .null }.keys.sorted().map { path.child($0) }
    }
}
