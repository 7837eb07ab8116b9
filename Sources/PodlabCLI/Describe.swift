import ArgumentParser
import Foundation
import PodNet

/// `podlab describe pod NAME`: a pod in kubectl's describe layout.
public struct Describe: PodlabCommand {
    public static let configuration = CommandConfiguration(
        commandName: "describe",
        abstract: "Show details of pods.",
        discussion: "Examples: podlab describe pod nginx; podlab describe pods; podlab describe pods -l run=nginx")

    @OptionGroup public var scope: ScopeOptions

    @Argument(help: "pods [NAME…], or pod/NAME…")
    public var resources: [String] = []

    @Option(name: [.customShort("l"), .customLong("selector")], help: "Label selector (e.g. run=nginx).")
    public var selector: String?

    @Flag(name: [.customShort("A"), .customLong("all-namespaces")], help: "Pods of every namespace.")
    public var allNamespaces = false

    public init() {}

    public func execute(_ context: CommandContext) async throws -> Int32 {
        guard let parsed = try ResourceName.parse(resources) else {
            throw CLIError("You must specify the type of resource to describe. Use \"podlab describe pods\"")
        }
        guard parsed.kind == .pods else {
            throw CLIError("podlab describes pods only; see \"podlab get nodes -o wide\" and \"podlab status\" for nodes")
        }
        let client = scope.client(context)
        let namespace = scope.resolvedNamespace
        var pods: [Pod] = []
        var failed = false
        if parsed.names.isEmpty {
            let query = selector.map { [("labelSelector", $0)] } ?? []
            pods = try await client.get(PodList.self, APIPath.pods(allNamespaces ? nil : namespace), query: query).items
            if pods.isEmpty {
                context.stderr.line(allNamespaces ? "No resources found" : "No resources found in \(namespace) namespace.")
                return 0
            }
        } else {
            for name in parsed.names {
                do {
                    pods.append(try await client.get(Pod.self, APIPath.pod(namespace, name)))
                } catch let error as APIError {
                    context.stderr.line(error.description)
                    failed = true
                }
            }
        }
        var texts: [String] = []
        for pod in pods {
            // As kubectl asks: the events of this very pod (a pod of the same name before it had others).
            let selector = "involvedObject.name=\(pod.metadata.name),involvedObject.namespace=\(pod.metadata.namespace),involvedObject.uid=\(pod.metadata.uid)"
            let events = (try? await client.get(EventList.self, APIPath.events(pod.metadata.namespace), query: [("fieldSelector", selector)]))?.items ?? []
            texts.append(PodDescription(pod: pod, now: context.now(), timeZone: context.timeZone, events: events).render())
        }
        if !texts.isEmpty { context.stdout.write(texts.joined(separator: "\n\n")) }
        return failed ? 1 : 0
    }
}
