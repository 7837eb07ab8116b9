import ArgumentParser
import PodNet

/// `podlab logs POD [-c C] [-f] [-p] [--tail N] [--since D | --since-time T] [--timestamps] [--all-containers]`,
/// or `podlab logs -l SELECTOR`: containers' stdout and stderr.
/// `podlab logs --policy NAME [-f]`: the drops of a NetworkPolicy annotated `podlab.dev/log: "true"`.
public struct Logs: PodlabCommand {
    public static let configuration = CommandConfiguration(
        commandName: "logs",
        abstract: "Print the logs for a container in a pod.")

    @OptionGroup public var scope: ScopeOptions

    @Argument(help: "The pod (NAME or pod/NAME); omitted with -l or --policy.")
    public var pod: String?

    @Argument(help: "The container (same as -c).")
    public var containerArgument: String?

    @Option(name: .shortAndLong, help: "The container (default: the pod's first container).")
    public var container: String?

    @Flag(name: .shortAndLong, help: "Stream the logs as they are written.")
    public var follow = false

    @Flag(name: .shortAndLong, help: "Print the logs of the previous, terminated instance of the container.")
    public var previous = false

    @Option(help: "Lines of recent log to show; -1 shows all (the default, 10 with -l).")
    public var tail: Int?

    @Option(name: .customLong("since"), help: "Only lines newer than this duration (e.g. 5s, 2m, 3h).")
    public var since: String?

    @Option(name: .customLong("since-time"), help: "Only lines at or after this RFC 3339 time (e.g. 2026-12-06T18:00:00Z).")
    public var sinceTime: String?

    @Flag(name: .customLong("timestamps"), help: "Start each line with its RFC 3339 timestamp.")
    public var timestamps = false

    @Flag(name: .customLong("all-containers"), help: "The logs of every container of the pod(s).")
    public var allContainers = false

    @Flag(name: .customLong("prefix"), help: "Start each line with its source (pod/NAME/CONTAINER).")
    public var prefix = false

    @Option(name: [.customShort("l"), .customLong("selector")], help: "Label selector of the pods.")
    public var selector: String?

    @Option(help: "A NetworkPolicy whose drops to show (it needs the annotation podlab.dev/log: \"true\").")
    public var policy: String?

    public init() {}

    public func execute(_ context: CommandContext) async throws -> Int32 {
        if let policy {
            guard pod == nil, selector == nil else { throw CLIError("a pod or -l and --policy cannot be given together") }
            return try await policyLog(policy, context)
        }
        let namespace = scope.resolvedNamespace
        let client = scope.client(context)
        var sinceSeconds: Int?
        if let sinceTime {
            // kubectl's checks, before any request.
            if since != nil { throw CLIError("at most one of `sinceTime` or `sinceSeconds` may be specified") }
            do { _ = try Timestamp(parsing: sinceTime) } catch { throw CLIError("\(error)") }
        }
        if let since {
            let seconds = try GoDuration.seconds(since, flag: "--since")
            // The API takes whole seconds, at least one (kubectl rounds up).
            sinceSeconds = max(1, Int(seconds.rounded(.up)))
        }
        var pods: [Pod]
        if let selector {
            if pod != nil { throw CLIError("only one of -l or POD can be given") }
            do { _ = try LabelSelector(parsing: selector) } catch { throw CLIError("\(error)") }
            pods = try await client.get(PodList.self, APIPath.pods(namespace), query: [("labelSelector", selector)]).items
                .sorted { $0.metadata.name < $1.metadata.name }
            if pods.isEmpty {
                context.stderr.line("No resources found in \(namespace) namespace.")
                return 0
            }
        } else {
            guard let pod else { throw CLIError("expected 'logs [-f] [-p] (POD | TYPE/NAME) [-c CONTAINER]'.\nPOD or TYPE/NAME is a required argument for the logs command") }
            pods = [try await client.get(Pod.self, APIPath.pod(namespace, try ResourceName.pod(pod)))]
        }
        var sources: [(pod: String, container: String)] = []
        for pod in pods {
            let chosen = container ?? containerArgument
            if allContainers {
                if chosen != nil { throw CLIError("--container cannot be used with --all-containers") }
                for name in pod.spec.initContainers.map(\.name) + pod.spec.containers.map(\.name) { sources.append((pod.metadata.name, name)) }
            } else if let chosen {
                sources.append((pod.metadata.name, chosen))
            } else if let first = pod.spec.containers.first?.name {
                // kubectl picks the first container, and says so when the pod has others.
                if pod.spec.containers.count > 1 || !pod.spec.initContainers.isEmpty {
                    context.stderr.line("Defaulted container \"\(first)\" out of: \(pod.spec.kubectlContainerNames)")
                }
                sources.append((pod.metadata.name, first))
            }
        }
        let lines = tail ?? (selector != nil ? 10 : -1)
        var query: [(String, String)] = []
        if follow { query.append(("follow", "true")) }
        if previous { query.append(("previous", "true")) }
        if lines >= 0 { query.append(("tailLines", String(lines))) }
        if let sinceSeconds { query.append(("sinceSeconds", String(sinceSeconds))) }
        if let sinceTime { query.append(("sinceTime", sinceTime)) }
        if timestamps { query.append(("timestamps", "true")) }
        guard follow, sources.count > 1 else {
            for source in sources { try await Self.stream(source, namespace: namespace, query: query, prefix: prefix, client: client, context: context) }
            return 0
        }
        // Followed streams run side by side, as kubectl runs them (at most 5 by default).
        if sources.count > 5 {
            throw CLIError("you are attempting to follow \(sources.count) log streams, but maximum allowed concurrency is 5, use --max-log-requests to increase the limit")
        }
        let prefix = self.prefix, options = query
        try await withThrowingTaskGroup(of: Void.self) { group in
            for source in sources {
                group.addTask { try await Self.stream(source, namespace: namespace, query: options, prefix: prefix, client: client, context: context) }
            }
            try await group.waitForAll()
        }
        return 0
    }

    /// Copies one container's log to stdout, each line after its source with `--prefix`.
    private static func stream(_ source: (pod: String, container: String), namespace: String, query: [(String, String)], prefix: Bool,
                               client: APIClient, context: CommandContext) async throws {
        let body = try await client.stream(APIPath.log(namespace, source.pod), query: [("container", source.container)] + query)
        let label = Array("[pod/\(source.pod)/\(source.container)] ".utf8)
        var pending: [UInt8] = []
        do {
            for try await chunk in body {
                guard prefix else {
                    context.stdout.write(bytes: Array(chunk.readableBytesView))
                    continue
                }
                pending.append(contentsOf: chunk.readableBytesView)
                while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                    context.stdout.write(bytes: label + pending[...newline])
                    pending.removeSubrange(...newline)
                }
            }
            if !pending.isEmpty { context.stdout.write(bytes: label + pending + [UInt8(ascii: "\n")]) }
        } catch {
            throw APIError.interrupted(lab: client.paths.lab, reason: "\(error)")
        }
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
            if after == 0, let tail, tail >= 0 { records = Array(records.suffix(tail)) }
            for record in records { context.stdout.line(record.line) }
            after = max(after, answer.lastSequence)
            guard follow else { return 0 }
            try await Task.sleep(for: .milliseconds(500))
        }
    }
}
