import ArgumentParser
import Foundation
import PodNet

/// `podlab expose pod|deployment NAME --port P [--target-port T] [--type NodePort] [--name N]`:
/// a service in front of a pod (selecting it by its labels) or a deployment's pods (by its
/// selector), as `kubectl expose` makes it.
public struct Expose: PodlabCommand {
    public static let configuration = CommandConfiguration(
        commandName: "expose",
        abstract: "Expose a pod, deployment, replica set or service as a new service.",
        discussion: """
            Examples:
              podlab expose pod nginx --port 80
              podlab expose deployment web --port 80
              podlab expose pod web --port 8080 --target-port 80 --type NodePort --name web-np
            """)

    @OptionGroup public var scope: ScopeOptions

    @Argument(help: "pod|deployment|replicaset|service NAME, or TYPE/NAME")
    public var resources: [String] = []

    @Option(help: "The service's port (default: the pod's container ports).")
    public var port: Int32?

    @Option(name: .customLong("target-port"), help: "The pods' port: a number or a container port name (default: --port).")
    public var targetPort: String?

    @Option(help: "ClusterIP (default) or NodePort.")
    public var type: String?

    @Option(help: "The service's name (default: the pod's).")
    public var name: String?

    @Option(name: .customLong("protocol"), help: "TCP (default) or UDP.")
    public var portProtocol: String?

    @Option(help: "The selector (default: the pod's labels), e.g. app=web.")
    public var selector: String?

    @Option(name: .customLong("cluster-ip"), help: "The ClusterIP to ask for, or None for a headless service.")
    public var clusterIP: String?

    @Option(name: [.customShort("l"), .customLong("labels")], help: "Labels of the service (default: the pod's).")
    public var labels: String?

    @Option(name: .customLong("session-affinity"), help: "None or ClientIP.")
    public var sessionAffinity: String?

    @Option(name: .customLong("dry-run"), help: "none, client or server.")
    public var dryRun: String = "none"

    @Option(name: [.customShort("o"), .customLong("output")], help: "yaml, json or name.")
    public var output: String?

    public init() {}

    public func execute(_ context: CommandContext) async throws -> Int32 {
        try DryRunFlag.validate(dryRun)
        let format = try OutputFormat.parse(output, allowed: [.json, .name, .yaml])
        guard let parsed = try ResourceName.parse(resources), !parsed.names.isEmpty else {
            throw CLIError("You must provide one or more resources by argument or filename.\nExample resource specifications include:\n   '-f rsrc.yaml'\n   '--filename=rsrc.json'\n   '<resource> <name>'\n   '<resource>'")
        }
        guard [.pods, .services, .deployments, .replicasets].contains(parsed.kind) else {
            throw CLIError("cannot expose a \(parsed.kind.kind)")
        }
        let client = scope.client(context)
        let namespace = scope.resolvedNamespace
        var failed = false
        for source in parsed.names {
            do {
                let service = try await service(exposing: parsed.kind, source, namespace: namespace, client: client)
                try await DryRunFlag.create(service, in: namespace, dryRun: dryRun, format: format, verb: "exposed", client: client, context: context)
            } catch let error as APIError {
                context.stderr.line(error.description)
                failed = true
            }
        }
        return failed ? 1 : 0
    }

    /// The service kubectl would make: the pod's labels as selector and labels, one port per
    /// `--port` (or per container port of the pod, named `port-N` when there are several).
    func service(exposing kind: ResourceKind, _ source: String, namespace: String, client: APIClient) async throws -> Service {
        var selectorLabels: [String: String]
        var ports: [ServicePort] = []
        var sourceLabels: [String: String]
        let proto = portProtocol.map { PortProtocol(rawValue: $0.uppercased()) }
        if kind == .pods {
            let pod = try await client.get(Pod.self, Pod.path(namespace: namespace, name: source))
            sourceLabels = pod.metadata.labels
            selectorLabels = pod.metadata.labels
            if port == nil {
                let containerPorts = pod.spec.containers.flatMap(\.ports)
                ports = containerPorts.enumerated().map { index, containerPort in
                    ServicePort(name: containerPorts.count > 1 ? "port-\(index + 1)" : "", protocol: proto ?? containerPort.protocol,
                                port: containerPort.containerPort, targetPort: .int(containerPort.containerPort))
                }
            }
        } else if kind == .deployments || kind == .replicasets {
            // The workload's selector (its `matchLabels`, as kubectl requires) and its pods' ports.
            let (labels, selector, template): ([String: String], LabelSelectorSpec?, PodTemplateSpec)
            if kind == .deployments {
                let deployment = try await client.get(Deployment.self, Deployment.path(namespace: namespace, name: source))
                (labels, selector, template) = (deployment.metadata.labels, deployment.spec.selector, deployment.spec.template)
            } else {
                let replicaSet = try await client.get(ReplicaSet.self, ReplicaSet.path(namespace: namespace, name: source))
                (labels, selector, template) = (replicaSet.metadata.labels, replicaSet.spec.selector, replicaSet.spec.template)
            }
            if let selector, !selector.matchExpressions.isEmpty {
                throw CLIError("couldn't convert expressions - \"\(selector.description)\" to map-based selector format")
            }
            sourceLabels = labels
            selectorLabels = selector?.matchLabels ?? [:]
            if port == nil {
                let containerPorts = template.spec.containers.flatMap(\.ports)
                ports = containerPorts.enumerated().map { index, containerPort in
                    ServicePort(name: containerPorts.count > 1 ? "port-\(index + 1)" : "", protocol: proto ?? containerPort.protocol,
                                port: containerPort.containerPort, targetPort: .int(containerPort.containerPort))
                }
            }
        } else {
            let existing = try await client.get(Service.self, Service.path(namespace: namespace, name: source))
            sourceLabels = existing.metadata.labels
            selectorLabels = existing.spec.selector
            if port == nil { ports = existing.spec.ports.map { ServicePort(name: $0.name, protocol: $0.protocol, port: $0.port, targetPort: $0.targetPort) } }
        }
        if let selector { selectorLabels = try Self.labelMap(selector, flag: "--selector") }
        if let labels { sourceLabels = try Self.labelMap(labels, flag: "--labels") }
        guard !selectorLabels.isEmpty else {
            throw CLIError("couldn't retrieve selectors via --selector flag or introspection: the \(kind.kind.lowercased()) has no labels and cannot be exposed")
        }
        if let port {
            let target: IntOrString? = targetPort.map { Int32($0).map(IntOrString.int) ?? .string($0) }
            ports = [ServicePort(protocol: proto, port: port, targetPort: target ?? .int(port))]
        } else if let targetPort, ports.count == 1 {
            ports[0].targetPort = Int32(targetPort).map(IntOrString.int) ?? .string(targetPort)
        }
        guard !ports.isEmpty else { throw CLIError("couldn't find port via --port flag or introspection") }
        var spec = ServiceSpec(type: type.map { ServiceType(rawValue: $0) }, selector: selectorLabels, ports: ports, clusterIP: clusterIP ?? "")
        spec.sessionAffinity = sessionAffinity.map { SessionAffinity(rawValue: $0) }
        return Service(metadata: ObjectMeta(name: name ?? source, namespace: namespace, labels: sourceLabels), spec: spec)
    }

    /// `a=b,c=d` as a map; anything else is kubectl's error for the flag.
    static func labelMap(_ text: String, flag: String) throws -> [String: String] {
        var map: [String: String] = [:]
        for pair in text.split(separator: ",") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard parts.count == 2, !parts[0].isEmpty else { throw CLIError("invalid label spec for \(flag): \(text)") }
            map[String(parts[0])] = String(parts[1])
        }
        return map
    }
}
