import ArgumentParser
import PodNet

/// `podlab logs POD [-c C] [-f] [-p] [--tail N]`: a container's stdout and stderr.
public struct Logs: PodlabCommand {
    public static let configuration = CommandConfiguration(
        commandName: "logs",
        abstract: "Print the logs for a container in a pod.")

    @OptionGroup public var scope: ScopeOptions

    @Argument(help: "The pod (NAME or pod/NAME).")
    public var pod: String

    @Argument(help: "The container (same as -c).")
    public var containerArgument: String?

    @Option(name: .shortAndLong, help: "The container (default: the pod's first container).")
    public var container: String?

    @Flag(name: .shortAndLong, help: "Stream the logs as they are written.")
    public var follow = false

    @Flag(name: .shortAndLong, help: "Print the logs of the previous, terminated instance of the container.")
    public var previous = false

    @Option(help: "Lines of recent log to show; -1 shows all.")
    public var tail: Int = -1

    public init() {}

    public func execute(_ context: CommandContext) async throws -> Int32 {
        let name = try ResourceName.pod(pod)
        let namespace = scope.resolvedNamespace
        let client = scope.client(context)
        var chosen = container ?? containerArgument
        if chosen == nil {
            // kubectl picks the first container, and says so when the pod has others.
            let spec = try await client.get(Pod.self, APIPath.pod(namespace, name)).spec
            chosen = spec.containers.first?.name
            if let first = chosen, spec.containers.count > 1 || !spec.initContainers.isEmpty {
                context.stderr.line("Defaulted container \"\(first)\" out of: \(spec.kubectlContainerNames)")
            }
        }
        var query: [(String, String)] = []
        if let chosen { query.append(("container", chosen)) }
        if follow { query.append(("follow", "true")) }
        if previous { query.append(("previous", "true")) }
        if tail >= 0 { query.append(("tailLines", String(tail))) }
        let body = try await client.stream(APIPath.log(namespace, name), query: query)
        do {
            for try await chunk in body {
                context.stdout.write(bytes: Array(chunk.readableBytesView))
            }
        } catch {
            throw APIError.interrupted(lab: client.paths.lab, reason: "\(error)")
        }
        return 0
    }
}
