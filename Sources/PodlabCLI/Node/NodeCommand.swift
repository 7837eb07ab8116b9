import ArgumentParser
import Foundation
import PodNet

/// `podlab node add|delete NAME`: change the nodes of a running lab.
public struct NodeCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "node",
        abstract: "Add or remove a node of a running lab (routes on every other node are reprogrammed).",
        subcommands: [NodeAdd.self, NodeDelete.self])

    public init() {}
}

/// `podlab node add NAME`.
public struct NodeAdd: PodlabCommand {
    public static let configuration = CommandConfiguration(
        commandName: "add",
        abstract: "Add a node: a new node namespace with the next free pod CIDR and underlay address.")

    @Option(help: "The lab's name (default: $PODLAB_LAB or \"podlab\").")
    public var lab: String?

    @Argument(help: "The node's name (an RFC 1123 label).")
    public var name: String

    public init() {}

    public func execute(_ context: CommandContext) async throws -> Int32 {
        let body = JSONValue.object(["apiVersion": "v1", "kind": "Node", "metadata": .object(["name": .string(name)])])
        let node = try await context.client(lab).send(.POST, APIPath.nodes, json: Data(body.jsonText(indent: 0).utf8), as: Node.self)
        context.stdout.line("node/\(node.metadata.name) created (pod CIDR \(node.spec.podCIDR), underlay \(node.internalIP ?? "?"))")
        return 0
    }
}

/// `podlab node delete NAME`.
public struct NodeDelete: PodlabCommand {
    public static let configuration = CommandConfiguration(
        commandName: "delete",
        abstract: "Remove a node: its pods are deleted, then its namespace and the routes to it.",
        aliases: ["rm"])

    @Option(help: "The lab's name (default: $PODLAB_LAB or \"podlab\").")
    public var lab: String?

    @Argument(help: "The node's name.")
    public var name: String

    public init() {}

    public func execute(_ context: CommandContext) async throws -> Int32 {
        let client = context.client(lab)
        // The pods the agent deletes with the node (as a drain would), named as kubectl names them.
        let pods = try await client.get(PodList.self, APIPath.pods(nil)).items.filter { $0.spec.nodeName == name }
        _ = try await client.send(.DELETE, APIPath.node(name))
        for pod in pods {
            context.stdout.line("pod \"\(pod.metadata.name)\" deleted from \(pod.metadata.namespace) namespace")
        }
        context.stdout.line("node \"\(name)\" deleted")
        return 0
    }
}
