import Foundation

/// The mesh's sidecar: its name, image, user and ports, which the capture rules
/// (`MeshCaptureRules`) and the proxy itself agree on.
public enum MeshProxy {
    /// The sidecar container's name (`podlab logs POD -c podlab-proxy`).
    public static let containerName = "podlab-proxy"
    /// The built-in image that runs the proxy.
    public static let image = "podlab/proxy"
    /// The proxy's user: the capture rules let its own connections out uncaptured, as Istio's
    /// 1337 (a container of the application running as it would bypass the mesh).
    public static let uid: UInt32 = 1337
    /// Where captured outbound connections arrive.
    public static let outboundPort: UInt16 = 15001
    /// Where captured inbound connections arrive.
    public static let inboundPort: UInt16 = 15006
    /// Prometheus metrics (`/metrics`).
    public static let metricsPort: UInt16 = 15090
    /// Readiness (`/healthz/ready`), the sidecar's readiness probe.
    public static let readinessPort: UInt16 = 15021
    public static let readinessPath = "/healthz/ready"

    /// Every port the proxy listens on, with what it is for (the error of a colliding
    /// application port names it).
    public static let ports: [(port: UInt16, role: String)] = [
        (outboundPort, "outbound capture"), (inboundPort, "inbound capture"), (metricsPort, "metrics"), (readinessPort, "readiness"),
    ]
}

/// The annotations and the namespace label that put a pod in the mesh.
public enum MeshAnnotations {
    /// `podlab.dev/mesh: "enabled"` on a pod (or its template) injects the sidecar;
    /// `"disabled"` keeps a pod of a meshed namespace out.
    public static let mesh = "podlab.dev/mesh"
    /// The namespace label `podlab.dev/mesh=enabled` meshes every pod created in it.
    public static let namespaceLabel = "podlab.dev/mesh"
    /// `podlab.dev/exclude-ports: "5432,6379"`: TCP ports neither direction captures (the
    /// application talks to them, and is reached on them, directly).
    public static let excludePorts = "podlab.dev/exclude-ports"
    public static let enabled = "enabled"
    public static let disabled = "disabled"
    /// Kubernetes' annotation that names the container `logs`, `exec` and `attach` use when
    /// none is given; set to the first application container, as Istio's injector does.
    public static let defaultContainer = "kubectl.kubernetes.io/default-container"
}

/// Sidecar injection at admission, as Istio's webhook does it: the stored pod carries the
/// `podlab-proxy` container, so `get -o yaml`, `describe` and `READY 2/2` show it.
public enum MeshInjection {
    /// Whether `pod` belongs in the mesh: its own annotation decides, else its namespace's label.
    /// A pod with `hostNetwork` shares its node's network, which the mesh never captures: a
    /// namespace's label passes it by (as Istio's injector does), its own annotation is refused
    /// by `inject`.
    public static func isMeshed(_ pod: Pod, namespaceLabels: [String: String]) -> Bool {
        switch pod.metadata.annotations[MeshAnnotations.mesh] {
        case MeshAnnotations.enabled?: return true
        case MeshAnnotations.disabled?: return false
        default: return namespaceLabels[MeshAnnotations.namespaceLabel] == MeshAnnotations.enabled && !pod.spec.hostNetwork
        }
    }

    /// The pod as it is stored: with the sidecar when it is meshed (see `isMeshed`), unchanged
    /// otherwise. The mesh's annotations are checked on every pod, and a meshed pod's
    /// containers for what the sidecar needs to itself (its uid, its ports, its name); any
    /// failure throws every error found and injects nothing.
    public static func inject(_ pod: Pod, namespaceLabels: [String: String]) throws(InvalidObjectError) -> Pod {
        var errors = annotationErrors(pod.metadata.annotations)
        let meshed = isMeshed(pod, namespaceLabels: namespaceLabels)
        if meshed {
            if pod.spec.hostNetwork {
                errors.append(FieldError(type: .forbidden, field: annotationPath(MeshAnnotations.mesh),
                                         detail: "a pod with hostNetwork shares its node's network, which the mesh does not capture"))
            }
            errors += conflicts(pod)
        }
        guard errors.isEmpty else { throw InvalidObjectError(kind: Pod.kind, name: pod.metadata.name, errors: errors) }
        guard meshed, !pod.spec.containers.contains(where: { $0.name == MeshProxy.containerName }) else { return pod }
        var injected = pod
        if injected.metadata.annotations[MeshAnnotations.defaultContainer] == nil, let first = pod.spec.containers.first {
            injected.metadata.annotations[MeshAnnotations.defaultContainer] = first.name
        }
        injected.spec.containers.append(sidecar())
        return injected
    }

    /// The TCP ports `podlab.dev/exclude-ports` names, sorted, without duplicates; empty when
    /// the annotation is absent (a malformed one is refused at admission: `inject`).
    public static func excludedPorts(_ annotations: [String: String]) -> [UInt16] {
        guard let text = annotations[MeshAnnotations.excludePorts] else { return [] }
        return (try? parsePorts(text)) ?? []
    }

    /// The sidecar container. The agent's socket and the credentials to read endpoints through
    /// it are given at start, not stored in the spec.
    public static func sidecar() -> Container {
        func fieldEnv(_ name: String, _ path: String) -> EnvVar {
            EnvVar(name: name, valueFrom: EnvVarSource(fieldRef: ObjectFieldSelector(fieldPath: path, apiVersion: "v1")))
        }
        var container = Container(
            name: MeshProxy.containerName, image: MeshProxy.image,
            ports: [ContainerPort(containerPort: Int32(MeshProxy.metricsPort), protocol: .tcp, name: "http-metrics")],
            env: [fieldEnv("POD_NAME", "metadata.name"), fieldEnv("POD_NAMESPACE", "metadata.namespace"), fieldEnv("POD_IP", "status.podIP")],
            // Every second (not the default ten): the pod is Ready only once its proxy is.
            readinessProbe: ContainerProbe(httpGet: HTTPGetAction(path: MeshProxy.readinessPath, port: .number(Int32(MeshProxy.readinessPort))),
                                           periodSeconds: 1, failureThreshold: 30))
        container.preservedFields["securityContext"] = .object([
            "runAsUser": .integer(Int64(MeshProxy.uid)), "runAsGroup": .integer(Int64(MeshProxy.uid)), "runAsNonRoot": true,
        ])
        return container
    }

    // MARK: Checks

    static func annotationPath(_ key: String) -> FieldPath { FieldPath("metadata").child("annotations").key(key) }

    static func annotationErrors(_ annotations: [String: String]) -> [FieldError] {
        var errors: [FieldError] = []
        if let value = annotations[MeshAnnotations.mesh], value != MeshAnnotations.enabled, value != MeshAnnotations.disabled {
            errors.append(.notSupported(annotationPath(MeshAnnotations.mesh), value, supported: [MeshAnnotations.enabled, MeshAnnotations.disabled]))
        }
        if let error = MeshTLSMode.annotationError(annotations, path: annotationPath(MeshTLSMode.annotation)) { errors.append(error) }
        if let text = annotations[MeshAnnotations.excludePorts] {
            do { _ = try parsePorts(text) } catch {
                errors.append(.invalid(annotationPath(MeshAnnotations.excludePorts), .string(text), error.description))
            }
        }
        return errors
    }

    struct PortListError: Error, CustomStringConvertible {
        var description: String
    }

    /// `"80, 8080"` → [80, 8080]: TCP port numbers separated by commas.
    static func parsePorts(_ text: String) throws(PortListError) -> [UInt16] {
        var ports: Set<UInt16> = []
        for item in text.split(separator: ",", omittingEmptySubsequences: false) {
            let trimmed = item.trimmingCharacters(in: .whitespaces)
            guard let number = Int(trimmed), (1...65535).contains(number) else {
                throw PortListError(description: trimmed.isEmpty
                    ? "must be a comma-separated list of port numbers (1-65535), without empty items"
                    : "\"\(trimmed)\" is not a port number: must be a comma-separated list of port numbers (1-65535)")
            }
            ports.insert(UInt16(number))
        }
        return ports.sorted()
    }

    /// What a meshed pod's own containers may not have: the proxy's uid (its connections
    /// would not be captured), the proxy's ports (the containers share the pod's network
    /// namespace, so two cannot listen on one port), the sidecar's name on another image.
    static func conflicts(_ pod: Pod) -> [FieldError] {
        var errors: [FieldError] = []
        let podUser = pod.spec.preservedFields["securityContext"]?["runAsUser"]
        let uidDetail = "uid \(MeshProxy.uid) is the \(MeshProxy.containerName) sidecar's, whose connections the mesh does not capture; run the container as another user"
        if podUser == .integer(Int64(MeshProxy.uid)),
           pod.spec.allContainers.contains(where: { $0.name != MeshProxy.containerName && $0.preservedFields["securityContext"]?["runAsUser"] == nil }) {
            errors.append(.invalid(FieldPath("spec").child("securityContext").child("runAsUser"), .integer(Int64(MeshProxy.uid)), uidDetail))
        }
        let lists: [(String, [Container])] = [("initContainers", pod.spec.initContainers), ("containers", pod.spec.containers)]
        for (list, containers) in lists {
            for (index, container) in containers.enumerated() {
                let path = FieldPath("spec").child(list).index(index)
                if container.name == MeshProxy.containerName {
                    if list == "containers", container.image == MeshProxy.image { continue }   // injected already
                    errors.append(.invalid(path.child("name"), .string(container.name),
                                           "\(MeshProxy.containerName) is the name of the mesh's sidecar container"))
                    continue
                }
                if container.preservedFields["securityContext"]?["runAsUser"] == .integer(Int64(MeshProxy.uid)) {
                    errors.append(.invalid(path.child("securityContext").child("runAsUser"), .integer(Int64(MeshProxy.uid)), uidDetail))
                }
                for (portIndex, port) in container.ports.enumerated() where port.effectiveProtocol == .tcp {
                    guard let taken = MeshProxy.ports.first(where: { Int32($0.port) == port.containerPort }) else { continue }
                    errors.append(.invalid(path.child("ports").index(portIndex).child("containerPort"), .integer(Int64(port.containerPort)),
                                           "the \(MeshProxy.containerName) sidecar listens on \(taken.port) (\(taken.role)) in the pod's network namespace, "
                                           + "which its containers share: two containers of a pod cannot use the same port"))
                }
            }
        }
        return errors
    }
}
