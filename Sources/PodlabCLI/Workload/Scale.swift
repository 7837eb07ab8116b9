import ArgumentParser
import Foundation
import PodNet

/// `podlab scale deployment NAME --replicas N` (and `deployment/NAME`, `rs`).
public struct Scale: PodlabCommand {
    public static let configuration = CommandConfiguration(
        commandName: "scale",
        abstract: "Set a new size for a deployment or replica set.",
        discussion: "Example: podlab scale deployment web --replicas 3")

    @OptionGroup public var scope: ScopeOptions

    @Argument(help: "deployment NAME, or deployment/NAME (replicaset too)")
    public var resources: [String] = []

    @Option(help: "The new number of replicas.")
    public var replicas: Int32 = -1

    @Option(name: .customLong("current-replicas"), help: "Scale only if the current number of replicas is this.")
    public var currentReplicas: Int32 = -1

    public init() {}

    public func execute(_ context: CommandContext) async throws -> Int32 {
        guard replicas >= 0 else { throw CLIError("The --replicas=COUNT flag is required, and COUNT must be greater than or equal to 0") }
        let (kind, name) = try ResourceName.object(resources, allowed: [.deployments, .replicasets])
        let client = scope.client(context)
        let namespace = scope.resolvedNamespace
        let expected = currentReplicas
        func check(_ current: Int) throws {
            if expected >= 0, current != Int(expected) {
                throw CLIError("Expected replicas to be \(expected), was \(current)")
            }
        }
        switch kind {
        case .deployments:
            _ = try await WorkloadUpdate.update(Deployment.self, namespace: namespace, name: name, client: client) {
                try check($0.desiredReplicas)
                $0.spec.replicas = replicas
            }
        default:
            _ = try await WorkloadUpdate.update(ReplicaSet.self, namespace: namespace, name: name, client: client) {
                try check($0.desiredReplicas)
                $0.spec.replicas = replicas
            }
        }
        context.stdout.line("\(kind.singular)/\(name) scaled")
        return 0
    }
}
