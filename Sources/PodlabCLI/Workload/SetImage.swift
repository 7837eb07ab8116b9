import ArgumentParser
import Foundation
import PodNet

/// `podlab set image deployment/NAME CONTAINER=IMAGE…`.
public struct SetCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "set",
        abstract: "Set specific features on objects.",
        subcommands: [SetImage.self])

    public init() {}
}

public struct SetImage: PodlabCommand {
    public static let configuration = CommandConfiguration(
        commandName: "image",
        abstract: "Update the image of a deployment's (or replica set's) containers.",
        discussion: "Example: podlab set image deployment/web nginx=httpd")

    @OptionGroup public var scope: ScopeOptions

    @Argument(help: "deployment/NAME (or deployment NAME), then CONTAINER=IMAGE… (* for every container)")
    public var arguments: [String] = []

    public init() {}

    public func execute(_ context: CommandContext) async throws -> Int32 {
        let resources = arguments.filter { !$0.contains("=") }
        let assignments = arguments.filter { $0.contains("=") }
        guard !assignments.isEmpty else { throw CLIError("at least one image update is required") }
        var images: [(container: String, image: String)] = []
        for assignment in assignments {
            let parts = assignment.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
            guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else { throw CLIError("invalid image update: \(assignment)") }
            images.append((parts[0], parts[1]))
        }
        let (kind, name) = try ResourceName.object(resources, allowed: [.deployments, .replicasets])
        let client = scope.client(context)
        let namespace = scope.resolvedNamespace
        func apply(_ template: inout PodTemplateSpec) throws {
            for (container, image) in images {
                var found = false
                for index in template.spec.containers.indices where container == "*" || template.spec.containers[index].name == container {
                    template.spec.containers[index].image = image
                    found = true
                }
                for index in template.spec.initContainers.indices where container == "*" || template.spec.initContainers[index].name == container {
                    template.spec.initContainers[index].image = image
                    found = true
                }
                if !found { throw CLIError("unable to find container named \"\(container)\"") }
            }
        }
        let changed: Bool
        switch kind {
        case .deployments:
            let before = try await client.get(Deployment.self, Deployment.path(namespace: namespace, name: name))
            let after = try await WorkloadUpdate.update(Deployment.self, namespace: namespace, name: name, client: client) { try apply(&$0.spec.template) }
            changed = before.spec.template != after.spec.template
        default:
            let before = try await client.get(ReplicaSet.self, ReplicaSet.path(namespace: namespace, name: name))
            let after = try await WorkloadUpdate.update(ReplicaSet.self, namespace: namespace, name: name, client: client) { try apply(&$0.spec.template) }
            changed = before.spec.template != after.spec.template
        }
        // kubectl prints nothing when the images were already these.
        if changed { context.stdout.line("\(kind.singular)/\(name) image updated") }
        return 0
    }
}
