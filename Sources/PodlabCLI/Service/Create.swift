import ArgumentParser
import Foundation
import PodNet

/// `podlab create namespace NAME`, `podlab create deployment NAME --image I`,
/// `podlab create configmap NAME …`, `podlab create secret generic NAME …`.
public struct Create: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "create",
        abstract: "Create an object from the command line.",
        subcommands: [CreateNamespace.self, CreateDeployment.self, CreateConfigMap.self, CreateSecret.self])

    public init() {}
}

/// `podlab create namespace NAME [--dry-run=client|server] [-o yaml|json|name]`.
public struct CreateNamespace: PodlabCommand {
    public static let configuration = CommandConfiguration(
        commandName: "namespace",
        abstract: "Create a namespace.",
        aliases: ["ns"])

    @Option(help: "The lab to talk to (default: $PODLAB_LAB or \"podlab\").")
    public var lab: String?

    @Argument(help: "The namespace's name (an RFC 1123 label).")
    public var name: String

    @Option(name: .customLong("dry-run"), help: "none, client or server.")
    public var dryRun: String = "none"

    @Option(name: [.customShort("o"), .customLong("output")], help: "yaml, json or name.")
    public var output: String?

    public init() {}

    public func execute(_ context: CommandContext) async throws -> Int32 {
        try DryRunFlag.validate(dryRun)
        let format = try OutputFormat.parse(output, allowed: [.json, .name, .yaml])
        let namespace = Namespace(metadata: ObjectMeta(name: name))
        try await DryRunFlag.create(namespace, in: nil, dryRun: dryRun, format: format, client: context.client(lab), context: context)
        return 0
    }
}
