import ArgumentParser
import PodNet

/// `podlab logs POD [-c C] [-f] [-p] [--tail N]`: a container's stdout and stderr.
/// `podlab logs --policy NAME [-f]`: the drops of a NetworkPolicy annotated `podlab.dev/log: "true"`.
public struct Logs: PodlabCommand {
    public static let configuration = CommandConfiguration(
        commandName: "logs",
        abstract: "Print the logs for a container in a pod.")

    @OptionGroup public var scope: ScopeOptions

    @Argument(help: "The pod (NAME or pod/NAME).")
    public var pod: String?

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

    @Option(help: "A NetworkPolicy whose drops to show (it needs the annotation podlab.dev/log: \"true\").")
    public var policy: String?

    public init() {}

    public func execute(_ context: CommandContext) async throws -> Int32 {
        if let policy {
            guard pod == nil else { throw CLIError("a pod and --policy cannot be given together") }
            return try await policyLog(policy, context)
        }
        guard let pod else { throw CLIError("expected 'logs [-f] [-p] (POD | TYPE/NAME) [-c CONTAINER]' or 'logs --policy NAME [-f]'.") }
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

    /// The policy's kept drops, one line each (time, node, from → to, protocol, verdict); with
    /// `-f`, the new ones as they come (asked for every half second).
    private func policyLog(_ policy: String, _ context: CommandContext) async throws -> Int32 {
        let name = policy.hasPrefix("networkpolicy/") || policy.hasPrefix("netpol/") ? String(policy.split(separator: "/", maxSplits: 1)[1]) : policy
        let client = scope.client(context)
        var after = 0
        var warned = false
        while true {
            let query = [("name", name), ("namespace", scope.resolvedNamespace), ("after", String(after))]
            let answer = try await client.get(PolicyLog.Answer.self, "/podlab/v1/policylog", query: query)
            if !answer.logging && !warned {
                context.stderr.line("networkpolicy \(answer.policy) does not log its drops: annotate it \(PolicyLog.annotation)=\"true\"")
                warned = true
            }
            var records = answer.records
            if after == 0, tail >= 0 { records = Array(records.suffix(tail)) }
            for record in records { context.stdout.line(record.line) }
            after = max(after, answer.lastSequence)
            guard follow else { return 0 }
            try await Task.sleep(for: .milliseconds(500))
        }
    }
}
