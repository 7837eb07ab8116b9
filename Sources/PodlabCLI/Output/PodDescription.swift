import Foundation
import PodNet

/// `kubectl describe pod` text for a pod, line for line as kubectl lays it out (its
/// `describePod`): the lines are written with tabs and aligned by `TabWriter`.
struct PodDescription {
    var pod: Pod
    var now: Date
    var timeZone: TimeZone
    /// The pod's events, for the `Events:` section.
    var events: [Event] = []

    /// Annotations that describe leaves out (kubectl's `skipAnnotations`).
    static let skippedAnnotations: Set<String> = [ApplyPlan.lastAppliedAnnotation]
    static let maximumAnnotationLength = 140

    func render() -> String {
        var w = ""
        let spec = pod.spec
        let status = pod.status
        w += "Name:\t\(pod.metadata.name)\n"
        w += "Namespace:\t\(pod.metadata.namespace.isEmpty ? "default" : pod.metadata.namespace)\n"
        w += "Priority:\t\(spec.preservedFields["priority"].flatMap(Self.integer) ?? 0)\n"
        if let className = spec.preservedFields["priorityClassName"]?.stringValue, !className.isEmpty {
            w += "Priority Class Name:\t\(className)\n"
        }
        w += "Service Account:\t\(spec.preservedFields["serviceAccountName"]?.stringValue ?? "default")\n"
        w += spec.nodeName.isEmpty ? "Node:\t<none>\n" : "Node:\t\(spec.nodeName)/\(status.hostIP)\n"
        if let start = status.startTime { w += "Start Time:\t\(format(start))\n" }
        w += Self.multiline("Labels", pod.metadata.labels)
        w += Self.annotations(pod.metadata.annotations)
        if let deletion = pod.metadata.deletionTimestamp, status.phase?.isTerminal != true {
            let lasts = HumanDuration.since(deletion, now: Timestamp(now))
            w += "Status:\tTerminating (lasts \(lasts))\n"
            w += "Termination Grace Period:\t\(pod.metadata.deletionGracePeriodSeconds ?? spec.terminationGracePeriodSeconds ?? 30)s\n"
        } else {
            w += "Status:\t\(status.phase?.rawValue ?? "")\n"
        }
        if !status.reason.isEmpty { w += "Reason:\t\(status.reason)\n" }
        if !status.message.isEmpty { w += "Message:\t\(status.message)\n" }
        w += "IP:\t\(status.podIP)\n"
        if status.podIPs.isEmpty {
            w += "IPs:\t<none>\n"
        } else {
            w += "IPs:\n"
            for ip in status.podIPs { w += "  IP:\t\(ip.ip)\n" }
        }
        if !status.nominatedNodeName.isEmpty { w += "NominatedNodeName:\t\(status.nominatedNodeName)\n" }
        if !spec.initContainers.isEmpty {
            w += containers("Init Containers", spec.initContainers, status.initContainerStatuses)
        }
        w += containers("Containers", spec.containers, status.containerStatuses)
        if !status.conditions.isEmpty {
            w += "Conditions:\n  Type\tStatus\n"
            for condition in status.conditions { w += "  \(condition.type.rawValue) \t\(condition.status.rawValue) \n" }
        }
        w += Self.volumes(spec.volumes)
        w += "QoS Class:\t\(qosClass)\n"
        w += Self.multiline("Node-Selectors", (spec.preservedFields["nodeSelector"]?.objectValue ?? [:]).compactMapValues(\.stringValue))
        w += Self.tolerations(spec.tolerations)
        w += EventDescription.section(events, now: Timestamp(now))
        return TabWriter().format(w)
    }

    private func containers(_ label: String, _ containers: [Container], _ statuses: [ContainerStatus]) -> String {
        guard !containers.isEmpty else { return "\(label): <none>\n" }
        var w = "\(label):\n"
        for container in containers {
            let status = statuses.first { $0.name == container.name }
            w += "  \(container.name):\n"
            if let status { w += "    Container ID:\t\(status.containerID)\n" }
            w += "    Image:\t\(container.image)\n"
            if let status { w += "    Image ID:\t\(status.imageID)\n" }
            let ports = container.ports.map { "\($0.containerPort)/\($0.effectiveProtocol.rawValue)" }.joined(separator: ", ")
            let hostPorts = container.ports.map { "\($0.hostPort)/\($0.effectiveProtocol.rawValue)" }.joined(separator: ", ")
            w += ports.contains(",") ? "    Ports:\t\(ports)\n" : "    Port:\t\(ports.isEmpty ? "<none>" : ports)\n"
            w += hostPorts.contains(",") ? "    Host Ports:\t\(hostPorts)\n" : "    Host Port:\t\(hostPorts.isEmpty ? "<none>" : hostPorts)\n"
            if !container.command.isEmpty {
                w += "    Command:\n"
                for part in container.command { for line in part.split(separator: "\n", omittingEmptySubsequences: false) { w += "      \(line)\n" } }
            }
            if !container.args.isEmpty {
                w += "    Args:\n"
                for part in container.args { for line in part.split(separator: "\n", omittingEmptySubsequences: false) { w += "      \(line)\n" } }
            }
            if let status {
                w += state("State", status.state)
                if status.lastState.terminated != nil { w += state("Last State", status.lastState) }
                w += "    Ready:\t\(status.ready ? "True" : "False")\n"
                w += "    Restart Count:\t\(status.restartCount)\n"
            }
            w += resources(container.preservedFields["resources"])
            for type in [ContainerProbeType.liveness, .readiness, .startup] {
                if let probe = container.probe(type) { w += "    \(type.rawValue):\t\(Self.describe(probe))\n" }
            }
            if !container.envFrom.isEmpty {
                // kubectl's `describeContainerEnvFrom`.
                w += "    Environment Variables from:\n"
                for source in container.envFrom {
                    let (name, kind, optional) = source.configMapRef.map { ($0.name, "ConfigMap", $0.optional == true) }
                        ?? source.secretRef.map { ($0.name, "Secret", $0.optional == true) } ?? ("", "", false)
                    let prefix = source.prefix.isEmpty ? "" : " with prefix '\(source.prefix)'"
                    w += "      \(name)\t\(kind)\(prefix)\tOptional: \(optional)\n"
                }
            }
            if container.env.isEmpty {
                w += "    Environment:\t<none>\n"
            } else {
                w += "    Environment:\n"
                for variable in container.env {
                    if let source = variable.valueFrom {
                        w += "      \(variable.name):\t\(Self.describe(source, container: container, metadata: pod.metadata))\n"
                        continue
                    }
                    for (index, line) in variable.value.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
                        w += index == 0 ? "      \(variable.name):\t\(line)\n" : "      \t\(line)\n"
                    }
                }
            }
            w += Self.mounts(container.volumeMounts)
        }
        return w
    }

    /// What kubectl shows for a variable set from a source: the value where kubectl can work
    /// it out from the pod object itself (metadata fields, the container's own resources),
    /// then the source (`10.244.1.5 (v1:status.podIP)` shows as ` (v1:status.podIP)`).
    static func describe(_ source: EnvVarSource, container: Container, metadata: ObjectMeta) -> String {
        if let field = source.fieldRef {
            let value = (try? DownwardAPI.metadataValue(field.fieldPath, of: metadata)) ?? ""
            return "\(value) (\(field.apiVersion):\(field.fieldPath))"
        }
        if let resource = source.resourceFieldRef {
            let (requests, limits) = container.resourceRequirements
            var value = (try? DownwardAPI.resourceValue(resource, requests: requests, limits: limits)) ?? ""
            if value == "0", resource.resource == "limits.cpu" || resource.resource == "limits.memory" { value = "node allocatable" }
            return "\(value) (\(resource.resource))"
        }
        for (reference, kind, preposition) in [(source.secretKeyRef, "secret", "in"), (source.configMapKeyRef, "config map", "of")] {
            guard let reference else { continue }
            return "<set to the key '\(reference.key)' \(preposition) \(kind) '\(reference.name)'>\tOptional: \(reference.optional == true)"
        }
        return ""
    }

    /// kubectl's `DescribeProbe`: `http-get http://:8080/healthz delay=0s timeout=1s period=10s #success=1 #failure=3`.
    static func describe(_ probe: ContainerProbe) -> String {
        let attributes = "delay=\(probe.initialDelaySeconds)s timeout=\(probe.timeoutSeconds)s period=\(probe.periodSeconds)s "
            + "#success=\(probe.successThreshold) #failure=\(probe.failureThreshold)"
        if let exec = probe.exec { return "exec [\(exec.command.joined(separator: " "))] \(attributes)" }
        if let http = probe.httpGet {
            let port = http.port?.description ?? ""
            let host = port.isEmpty ? http.host : "\(http.host):\(port)"
            return "http-get \(http.scheme.lowercased())://\(host)\(http.path) \(attributes)"
        }
        if let tcp = probe.tcpSocket { return "tcp-socket \(tcp.host):\(tcp.port?.description ?? "") \(attributes)" }
        if probe.grpc != nil {
            var port: Int64 = 0
            if case let .integer(number)? = probe.grpc?["port"] { port = number }
            return "grpc <pod>:\(port) \(probe.grpc?["service"]?.stringValue ?? "") \(attributes)"
        }
        return "unknown \(attributes)"
    }

    private func state(_ name: String, _ state: ContainerState) -> String {
        if let running = state.running {
            return "    \(name):\tRunning\n      Started:\t\(format(running.startedAt))\n"
        }
        if let waiting = state.waiting {
            var w = "    \(name):\tWaiting\n"
            if !waiting.reason.isEmpty { w += "      Reason:\t\(waiting.reason)\n" }
            // kubectl leaves the message to the events; podlab has no events, so it shows it here.
            if !waiting.message.isEmpty { w += "      Message:\t\(waiting.message)\n" }
            return w
        }
        if let terminated = state.terminated {
            var w = "    \(name):\tTerminated\n"
            if !terminated.reason.isEmpty { w += "      Reason:\t\(terminated.reason)\n" }
            if !terminated.message.isEmpty { w += "      Message:\t\(terminated.message)\n" }
            w += "      Exit Code:\t\(terminated.exitCode)\n"
            if terminated.signal > 0 { w += "      Signal:\t\(terminated.signal)\n" }
            w += "      Started:\t\(format(terminated.startedAt))\n"
            w += "      Finished:\t\(format(terminated.finishedAt))\n"
            return w
        }
        return "    \(name):\tWaiting\n"
    }

    private func resources(_ value: JSONValue?) -> String {
        var w = ""
        for (title, key) in [("Limits", "limits"), ("Requests", "requests")] {
            guard let entries = value?[key]?.objectValue, !entries.isEmpty else { continue }
            w += "    \(title):\n"
            for name in entries.keys.sorted() { w += "      \(name):\t\(Self.scalar(entries[name]!))\n" }
        }
        return w
    }

    /// `Mounts:` of a container, sorted by path as kubectl sorts them: `/data from cache (rw)`,
    /// `/logs from cache (ro,path="logs")`.
    static func mounts(_ mounts: [VolumeMount]) -> String {
        guard !mounts.isEmpty else { return "    Mounts:\t<none>\n" }
        var w = "    Mounts:\n"
        for mount in mounts.sorted(by: { $0.mountPath < $1.mountPath }) {
            var flags = [mount.readOnly ? "ro" : "rw"]
            if !mount.subPath.isEmpty { flags.append("path=\(FieldError.goQuoted(mount.subPath))") }
            w += "      \(mount.mountPath) from \(mount.name) (\(flags.joined(separator: ",")))\n"
        }
        return w
    }

    /// `Volumes:` as kubectl's `describeVolumes` prints `emptyDir` and `hostPath` sources.
    static func volumes(_ volumes: [Volume]) -> String {
        guard !volumes.isEmpty else { return "Volumes:\t<none>\n" }
        var w = "Volumes:\n"
        for volume in volumes {
            w += "  \(volume.name):\n"
            if let hostPath = volume.hostPath {
                w += "    Type:\tHostPath (bare host directory volume)\n"
                w += "    Path:\t\(hostPath.path)\n"
                w += "    HostPathType:\t\(hostPath.type?.rawValue ?? "<none>")\n"
            } else if let emptyDir = volume.emptyDir {
                let limit = emptyDir.sizeLimit.flatMap { $0 > .zero ? $0.description : nil } ?? "<unset>"
                w += "    Type:\tEmptyDir (a temporary directory that shares a pod's lifetime)\n"
                w += "    Medium:\t\(emptyDir.medium)\n"
                w += "    SizeLimit:\t\(limit)\n"
            } else if let map = volume.configMap {
                w += "    Type:\tConfigMap (a volume populated by a ConfigMap)\n"
                w += "    Name:\t\(map.name)\n"
                w += "    Optional:\t\(map.optional == true)\n"
            } else if let secret = volume.secret {
                w += "    Type:\tSecret (a volume populated by a Secret)\n"
                w += "    SecretName:\t\(secret.secretName)\n"
                w += "    Optional:\t\(secret.optional == true)\n"
            } else if let downward = volume.downwardAPI {
                w += "    Type:\tDownwardAPI (a volume populated by information about the pod)\n"
                w += "    Items:\n"
                for item in downward.items {
                    w += "      \(item.fieldRef?.fieldPath ?? item.resourceFieldRef?.resource ?? "") -> \(item.path)\n"
                }
            } else if let projected = volume.projected {
                w += "    Type:\tProjected (a volume that contains injected data from multiple sources)\n"
                for source in projected.sources {
                    if let secret = source.secret {
                        w += "    SecretName:\t\(secret.name)\n    Optional:\t\(secret.optional == true)\n"
                    } else if source.downwardAPI != nil {
                        w += "    DownwardAPI:\ttrue\n"
                    } else if let map = source.configMap {
                        w += "    ConfigMapName:\t\(map.name)\n    Optional:\t\(map.optional == true)\n"
                    } else if let token = source.serviceAccountToken {
                        w += "    TokenExpirationSeconds:\t\(token.lifetime)\n"
                    }
                }
            } else {
                w += "    <unknown>\n"
            }
        }
        return w
    }

    /// The class the pod got at creation (`status.qosClass`), as kubectl reads it; computed
    /// for a pod stored without one.
    var qosClass: String {
        (pod.status.qosClass ?? PodQOSClass(pod.spec)).rawValue
    }

    /// RFC 1123 with numeric zone, in local time, as Go's `time.RFC1123Z`; a missing time is
    /// Go's zero time, as kubectl prints it.
    private func format(_ timestamp: Timestamp?) -> String {
        guard let timestamp else { return "Mon, 01 Jan 0001 00:00:00 +0000" }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = timeZone
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss Z"
        return formatter.string(from: timestamp.date)
    }

    /// `Labels:` and `Node-Selectors:`: sorted `key=value`, one per line, `<none>` when empty.
    static func multiline(_ title: String, _ map: [String: String]) -> String {
        guard !map.isEmpty else { return "\(title):\t<none>\n" }
        return map.keys.sorted().enumerated().map { index, key in
            (index == 0 ? "\(title):\t" : "\t") + "\(key)=\(map[key]!)\n"
        }.joined()
    }

    /// `Annotations:` without the last-applied configuration; long values on their own lines.
    static func annotations(_ map: [String: String]) -> String {
        let keys = map.keys.filter { !skippedAnnotations.contains($0) }.sorted()
        guard !keys.isEmpty else { return "Annotations:\t<none>\n" }
        var w = "Annotations:\t"
        for (index, key) in keys.enumerated() {
            if index > 0 { w += "\t" }
            var value = map[key]!
            if value.hasSuffix("\n") { value.removeLast() }
            if value.count + key.count + 2 > maximumAnnotationLength || value.contains("\n") {
                w += "\(key):\n"
                for line in value.split(separator: "\n", omittingEmptySubsequences: false) {
                    let short = line.count > maximumAnnotationLength - 2 ? line.prefix(maximumAnnotationLength - 2) + "..." : line
                    w += "\t  \(short)\n"
                }
            } else {
                w += "\(key): \(value)\n"
            }
        }
        return w
    }

    /// `Tolerations:` as kubectl prints them: `key=value:Effect op=Exists for 300s`.
    static func tolerations(_ tolerations: [JSONValue]) -> String {
        guard !tolerations.isEmpty else { return "Tolerations:\t<none>\n" }
        let sorted = tolerations.sorted { ($0["key"]?.stringValue ?? "") < ($1["key"]?.stringValue ?? "") }
        var w = ""
        for (index, toleration) in sorted.enumerated() {
            w += index == 0 ? "Tolerations:\t" : "\t"
            let key = toleration["key"]?.stringValue ?? ""
            let value = toleration["value"]?.stringValue ?? ""
            let effect = toleration["effect"]?.stringValue ?? ""
            w += key
            if !value.isEmpty { w += "=\(value)" }
            if !effect.isEmpty { w += ":\(effect)" }
            if toleration["operator"]?.stringValue == "Exists", value.isEmpty {
                w += key.isEmpty && effect.isEmpty ? "op=Exists" : " op=Exists"
            }
            if let seconds = toleration["tolerationSeconds"].flatMap(integer) { w += " for \(seconds)s" }
            w += "\n"
        }
        return w
    }

    static func integer(_ value: JSONValue) -> Int64? {
        switch value {
        case let .integer(number): number
        case let .number(number): Int64(number)
        default: nil
        }
    }

    static func scalar(_ value: JSONValue) -> String {
        switch value {
        case let .string(text): text
        case let .integer(number): String(number)
        case let .number(number): String(number)
        case let .bool(flag): String(flag)
        default: value.jsonText(indent: 0)
        }
    }
}
