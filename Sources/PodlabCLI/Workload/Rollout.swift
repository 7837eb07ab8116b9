import ArgumentParser
import Foundation
import PodNet

/// `podlab rollout status|history|undo deployment/NAME`.
public struct Rollout: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "rollout",
        abstract: "Manage the rollout of a deployment.",
        subcommands: [RolloutStatus.self, RolloutHistory.self, RolloutUndo.self])

    public init() {}
}

/// `rollout status`: waits until the rollout is done, printing kubectl's progress lines.
public struct RolloutStatus: PodlabCommand {
    public static let configuration = CommandConfiguration(commandName: "status", abstract: "Show the status of the rollout.")

    @OptionGroup public var scope: ScopeOptions

    @Argument(help: "deployment/NAME, or deployment NAME")
    public var resources: [String] = []

    @Option(help: "How long to wait (e.g. 60s); 0 waits as long as it takes.")
    public var timeout: String = "0s"

    @Flag(name: [.customShort("w"), .customLong("watch")], inversion: .prefixedNo, help: "Watch the status until the rollout is done.")
    public var watch = true

    public init() {}

    public func execute(_ context: CommandContext) async throws -> Int32 {
        let (_, name) = try ResourceName.object(resources, allowed: [.deployments])
        let client = scope.client(context)
        let path = Deployment.path(namespace: scope.resolvedNamespace, name: name)
        let seconds = try GoDuration.seconds(timeout, flag: "timeout")
        let deadline = seconds > 0 ? ContinuousClock.now + .seconds(seconds) : nil
        var last = ""
        while true {
            let deployment = try await client.get(Deployment.self, path)
            let (message, done, failed) = DeploymentRollout.rolloutStatus(deployment)
            if failed { throw CLIError(message) }
            if message != last {
                context.stdout.line(message)
                last = message
            }
            if done || !watch { return 0 }
            if let deadline, ContinuousClock.now >= deadline { throw CLIError("timed out waiting for the condition") }
            try await context.pause()
        }
    }
}

/// `rollout history`: the revisions of a Deployment's ReplicaSets.
public struct RolloutHistory: PodlabCommand {
    public static let configuration = CommandConfiguration(commandName: "history", abstract: "View the rollout history.")

    @OptionGroup public var scope: ScopeOptions

    @Argument(help: "deployment/NAME, or deployment NAME")
    public var resources: [String] = []

    @Option(help: "Show the pod template of this revision.")
    public var revision: Int64 = 0

    public init() {}

    public func execute(_ context: CommandContext) async throws -> Int32 {
        let (kind, name) = try ResourceName.object(resources, allowed: [.deployments])
        let client = scope.client(context)
        let deployment = try await client.get(Deployment.self, Deployment.path(namespace: scope.resolvedNamespace, name: name))
        let replicaSets = try await WorkloadUpdate.replicaSets(of: deployment, client: client)
        if revision > 0 {
            guard let chosen = replicaSets.first(where: { DeploymentRollout.revision(of: $0.metadata) == revision }) else {
                throw CLIError("unable to find the specified revision")
            }
            context.stdout.write("\(kind.singular)/\(name) with revision #\(revision)\n")
            context.stdout.write(TabWriter().format(WorkloadDescription.template(PodTemplateHash.withoutHash(chosen.spec.template))))
            context.stdout.write("\n")
            return 0
        }
        // kubectl's history viewer pads its tabwriter with two spaces, not its tables' three.
        let rows = [["REVISION", "CHANGE-CAUSE"]] + DeploymentRollout.history(replicaSets).map {
            [String($0.revision), $0.changeCause.isEmpty ? "<none>" : $0.changeCause]
        }
        let width = (rows.map { $0[0].count }.max() ?? 0) + 2
        let text = rows.map { $0[0].padding(toLength: width, withPad: " ", startingAt: 0) + $0[1] + "\n" }.joined()
        context.stdout.write("\(kind.singular)/\(name) \n" + text + "\n")
        return 0
    }
}

/// `rollout undo`: back to the previous revision, or `--to-revision`.
public struct RolloutUndo: PodlabCommand {
    public static let configuration = CommandConfiguration(commandName: "undo", abstract: "Undo a previous rollout.")

    @OptionGroup public var scope: ScopeOptions

    @Argument(help: "deployment/NAME, or deployment NAME")
    public var resources: [String] = []

    @Option(name: .customLong("to-revision"), help: "The revision to roll back to (0: the previous one).")
    public var toRevision: Int64 = 0

    public init() {}

    public func execute(_ context: CommandContext) async throws -> Int32 {
        let (kind, name) = try ResourceName.object(resources, allowed: [.deployments])
        let client = scope.client(context)
        let namespace = scope.resolvedNamespace
        let deployment = try await client.get(Deployment.self, Deployment.path(namespace: namespace, name: name))
        let replicaSets = try await WorkloadUpdate.replicaSets(of: deployment, client: client)
        let template: PodTemplateSpec
        do { template = try DeploymentRollout.rollbackTemplate(deployment, among: replicaSets, to: toRevision) } catch {
            throw CLIError(error.description)
        }
        if PodTemplateHash.equalIgnoringHash(template, deployment.spec.template) {
            let revision = toRevision > 0 ? toRevision : DeploymentRollout.revision(of: deployment.metadata)
            context.stdout.line("\(kind.singular)/\(name) skipped rollback (current template already matches revision \(revision))")
            return 0
        }
        _ = try await WorkloadUpdate.update(Deployment.self, namespace: namespace, name: name, client: client) { $0.spec.template = template }
        context.stdout.line("\(kind.singular)/\(name) rolled back")
        return 0
    }
}
