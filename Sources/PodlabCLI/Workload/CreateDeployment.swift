import ArgumentParser
import Foundation
import PodNet

/// `podlab create deployment NAME --image I [--replicas N] [--port P]`: a Deployment as
/// `kubectl create deployment` makes it — `app: NAME` as labels and selector, one container
/// per image named after the image.
public struct CreateDeployment: PodlabCommand {
    public static let configuration = CommandConfiguration(
        commandName: "deployment",
        abstract: "Create a deployment with the specified name.",
        discussion: "Example: podlab create deployment web --image nginx --replicas 3 --port 80",
        aliases: ["deploy"])

    @OptionGroup public var scope: ScopeOptions

    @Argument(help: "The deployment's name.")
    public var name: String

    @Option(help: "Image(s) to run; one container per image.")
    public var image: [String] = []

    @Option(help: "Number of replicas.")
    public var replicas: Int32 = 1

    @Option(help: "The containerPort the containers expose.")
    public var port: Int32 = -1

    @Option(name: .customLong("dry-run"), help: "none, client or server.")
    public var dryRun: String = "none"

    @Option(name: [.customShort("o"), .customLong("output")], help: "yaml, json or name.")
    public var output: String?

    public init() {}

    public func execute(_ context: CommandContext) async throws -> Int32 {
        try DryRunFlag.validate(dryRun)
        guard !image.isEmpty else { throw CLIError("required flag(s) \"image\" not set") }
        if image.count > 1, port >= 0 { throw CLIError("cannot specify multiple --image options and port") }
        let format = try OutputFormat.parse(output, allowed: [.json, .name, .yaml])
        let namespace = scope.resolvedNamespace
        let deployment = Self.deployment(name: name, namespace: namespace, images: image, replicas: replicas, port: port)
        try await DryRunFlag.create(deployment, in: namespace, dryRun: dryRun, format: format, client: scope.client(context), context: context)
        return 0
    }

    /// The object `kubectl create deployment` sends.
    static func deployment(name: String, namespace: String, images: [String], replicas: Int32, port: Int32) -> Deployment {
        let labels = ["app": name]
        var template = PodTemplateSpec(metadata: ObjectMeta(labels: labels))
        template.spec.containers = images.map { image in
            var container = Container(name: containerName(for: image), image: image)
            if port >= 0 { container.ports = [ContainerPort(containerPort: port)] }
            return container
        }
        return Deployment(metadata: ObjectMeta(name: name, namespace: namespace, labels: labels),
                          spec: DeploymentSpec(replicas: replicas, selector: LabelSelectorSpec(matchLabels: labels), template: template))
    }

    /// kubectl names a container after its image: the last path element, without tag or
    /// digest, characters a name cannot hold turned into `-` (`curlimages/curl:8` → `curl`).
    static func containerName(for image: String) -> String {
        var base = image.split(separator: "/").last.map(String.init) ?? image
        if let at = base.firstIndex(of: "@") { base = String(base[..<at]) }
        if let colon = base.firstIndex(of: ":") { base = String(base[..<colon]) }
        let cleaned = String(base.lowercased().map { $0.isLetter || $0.isNumber || $0 == "-" ? $0 : "-" })
        return cleaned.isEmpty ? "container" : cleaned
    }
}
