import ArgumentParser
import Foundation
import PodNet

/// `podlab run NAME --image IMAGE [flags] [-- COMMAND ARGS…]`: creates a pod with one
/// container, the way `kubectl run` does; with `-i` waits for it and attaches to it (this
/// stdin is the container's, with `-t` through a terminal), with `--attach` streams its
/// output, and with `--rm` deletes it afterwards.
public struct Run: PodlabCommand {
    public static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run a particular image in a pod.",
        discussion: """
            Examples:
              podlab run nginx --image nginx
              podlab run nginx-ser --image nginx --restart=Never --dry-run=client -o yaml
              podlab run curl --image curlimages/curl --restart=Never -it --rm -- curl http://10.244.1.2
            """)

    @OptionGroup public var scope: ScopeOptions

    @Argument(help: "The pod's name.")
    public var name: String?

    @Option(help: "The container image.")
    public var image: String?

    @Option(help: "The pod's restart policy: Always, OnFailure or Never.")
    public var restart: String = "Always"

    @Option(help: "The port the container exposes.")
    public var port: String?

    @Option(name: [.customShort("l"), .customLong("labels")], help: "Comma-separated labels (default run=NAME).")
    public var labels: String?

    @Option(help: "Environment variables for the container (K=V), repeatable.")
    public var env: [String] = []

    @Option(name: .customLong("dry-run"), help: "none, client or server.")
    public var dryRun: String = "none"

    @Option(name: [.customShort("o"), .customLong("output")], help: "yaml, json or name.")
    public var output: String?

    @Flag(name: [.customShort("i"), .customLong("stdin")], help: "Keep stdin open on the container and attach to it.")
    public var stdin = false

    @Flag(name: [.customShort("t"), .customLong("tty")], help: "Allocate a TTY for the container.")
    public var tty = false

    @Flag(help: "Wait for the pod to start and stream its output.")
    public var attach = false

    @Flag(help: "Delete the pod after it exits (with -i or --attach).")
    public var rm = false

    @Flag(help: "Use the arguments after -- as the container's command, not its args.")
    public var command = false

    @Flag(name: .customLong("leave-stdin-open"), help: "Leave stdin open after the first attach ends.")
    public var leaveStdinOpen = false

    @Flag(name: .shortAndLong, help: "Suppress prompt messages.")
    public var quiet = false

    @Option(name: .customLong("pod-running-timeout"), help: "How long to wait for the pod to run (e.g. 1m0s).")
    public var podRunningTimeout: String = "1m0s"

    @Argument(parsing: .postTerminator, help: "The container's arguments (or command, with --command), after --.")
    public var arguments: [String] = []

    public init() {}

    /// The pod `kubectl run` would create for these flags; throws kubectl's errors for bad flags.
    public func buildPod() throws -> Pod {
        guard let name, !name.isEmpty else { throw CLIError("NAME is required for run") }
        guard let image, !image.isEmpty else { throw CLIError("required flag(s) \"image\" not set") }
        guard let policy = RestartPolicy.supported.first(where: { $0.rawValue == restart }) else {
            throw CLIError("invalid restart policy: \(restart)")
        }
        var parsedLabels: [String: String]?
        if let labels {
            var map: [String: String] = [:]
            for spec in labels.split(separator: ",", omittingEmptySubsequences: false) {
                let parts = spec.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                guard parts.count == 2, !parts[0].isEmpty else { throw CLIError("invalid label spec: \(spec)") }
                map[String(parts[0])] = String(parts[1])
            }
            parsedLabels = map
        }
        var variables: [EnvVar] = []
        for spec in env {
            let parts = spec.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard parts.count == 2, !parts[0].isEmpty else { throw CLIError("invalid env: \(spec)") }
            variables.append(EnvVar(name: String(parts[0]), value: String(parts[1])))
        }
        var containerPort: Int32?
        if let port, !port.isEmpty {
            guard let value = Int32(port), (1...65535).contains(value) else {
                throw CLIError("invalid port \"\(port)\": must be a number between 1 and 65535")
            }
            containerPort = value
        }
        return Pod.run(name: name, image: image, restartPolicy: policy, labels: parsedLabels, port: containerPort,
                       env: variables, arguments: arguments, argumentsAreCommand: command,
                       stdin: stdin, tty: tty, leaveStdinOpen: leaveStdinOpen)
    }

    /// Whether the command waits for the pod and streams its output.
    var isAttached: Bool { stdin || attach }

    func checkFlags() throws -> (dryRun: String, format: OutputFormat?) {
        try DryRunFlag.validate(dryRun)
        let format = try OutputFormat.parse(output, allowed: [.json, .name, .yaml])
        if tty && !stdin { throw CLIError("-i/--stdin is required for containers with -t/--tty=true") }
        if rm && !isAttached { throw CLIError("--rm should only be used for attached containers") }
        if dryRun != "none" && isAttached {
            throw CLIError("--dry-run=[server|client] can't be used with attached containers options (--attach, --stdin, or --tty)")
        }
        return (dryRun, format)
    }

    public func execute(_ context: CommandContext) async throws -> Int32 {
        let (dryRun, format) = try checkFlags()
        let pod = try buildPod()
        let name = pod.metadata.name
        if dryRun == "client" {
            context.stdout.write(Printing.created(pod, format: format, note: DryRunFlag.note(dryRun)))
            return 0
        }
        let namespace = scope.resolvedNamespace
        let client = scope.client(context)
        let query: [(String, String)] = dryRun == "server" ? [("dryRun", "All")] : []
        let created = try await client.send(.POST, APIPath.pods(namespace), json: Data(pod.jsonText.utf8), query: query, as: Pod.self)
        guard isAttached else {
            context.stdout.write(Printing.created(created, format: format, note: DryRunFlag.note(dryRun)))
            return 0
        }
        let timeout = try GoDuration.seconds(podRunningTimeout, flag: "pod-running-timeout")
        let outcome: Outcome
        do {
            outcome = try await attachAndWait(name: name, namespace: namespace, policy: pod.spec.effectiveRestartPolicy,
                                              timeout: timeout, client: client, context: context)
        } catch {
            if rm { try? await remove(name, namespace: namespace, client: client, context: context) }
            throw error
        }
        if rm { try await remove(name, namespace: namespace, client: client, context: context) }
        switch outcome {
        case .done:
            return 0
        case let .terminated(terminated):
            // kubectl: `pod default/x terminated (Error)` and the termination message, exit code passed on.
            context.stderr.line("pod \(namespace)/\(name) terminated (\(terminated.reason))")
            if !terminated.message.isEmpty { context.stderr.line(terminated.message) }
            return terminated.exitCode
        }
    }

    /// How an attached run ended.
    enum Outcome {
        /// Succeeded, or a restart policy whose exit code does not matter.
        case done
        /// Failed with a non-zero exit code.
        case terminated(ContainerState.Terminated)
    }

    /// Waits for the container to start; with `-i` attaches to it (stdin, and a terminal with
    /// `-t`), else streams its output until it ends; then (for Never and OnFailure) waits for
    /// the pod to complete, as `kubectl run --attach` does. A pod that completed before it
    /// could be attached shows its log instead.
    private func attachAndWait(name: String, namespace: String, policy: RestartPolicy, timeout: Double,
                               client: APIClient, context: CommandContext) async throws -> Outcome {
        let path = APIPath.pod(namespace, name)
        let deadline = ContinuousClock.now + .seconds(timeout)
        var started: Pod
        while true {
            started = try await client.get(Pod.self, path)
            if let phase = started.status.phase, phase.isTerminal { break }
            if let state = started.status.containerStatus(named: name)?.state {
                if state.running != nil || state.terminated != nil { break }
                if let waiting = state.waiting, Printing.reasonsThatCannotStart.contains(waiting.reason) {
                    throw CLIError("pod \(namespace)/\(name): container \(name) cannot start: \(waiting.reason)"
                        + (waiting.message.isEmpty ? "" : ": \(waiting.message)"))
                }
            }
            if ContinuousClock.now >= deadline { throw CLIError("timed out waiting for the condition") }
            try await context.pause()
        }

        if stdin, started.status.phase?.isTerminal != true, let container = started.spec.containers.first(where: { $0.name == name }) {
            do {
                try await Attach.session(client: client, namespace: namespace, pod: name, container: container, stdin: true, tty: tty,
                                         quiet: quiet, context: context)
            } catch let error as CLIError where error.message.hasPrefix("unable to upgrade connection") {
                // Ended between the wait and the attach: kubectl falls back the same way.
                context.stderr.line("warning: couldn't attach to pod/\(name), falling back to streaming logs: \(error.message)")
                try await streamLog(name: name, namespace: namespace, client: client, context: context)
            }
        } else {
            try await streamLog(name: name, namespace: namespace, client: client, context: context)
        }

        guard !leaveStdinOpen, policy == .never || policy == .onFailure else { return .done }
        while true {
            let pod = try await client.get(Pod.self, path)
            switch pod.status.phase {
            case .succeeded?:
                return .done
            case .failed? where policy == .never:
                let terminated = pod.status.containerStatuses.first?.state.terminated
                guard let terminated, terminated.exitCode != 0 else {
                    throw CLIError("pod \(namespace)/\(name) failed with unknown exit code")
                }
                return .terminated(terminated)
            default:
                break
            }
            if ContinuousClock.now >= deadline { throw CLIError("timed out waiting for the condition") }
            try await context.pause()
        }
    }

    /// The container's log, followed until its run ends.
    private func streamLog(name: String, namespace: String, client: APIClient, context: CommandContext) async throws {
        let body = try await client.stream(APIPath.log(namespace, name), query: [("container", name), ("follow", "true")])
        do {
            for try await chunk in body { context.stdout.write(bytes: Array(chunk.readableBytesView)) }
        } catch {
            throw APIError.interrupted(lab: client.paths.lab, reason: "\(error)")
        }
    }

    private func remove(_ name: String, namespace: String, client: APIClient, context: CommandContext) async throws {
        do {
            _ = try await client.send(.DELETE, APIPath.pod(namespace, name))
        } catch let error as APIError where error.isNotFound {
            return
        }
        if !quiet { context.stdout.line("pod \"\(name)\" deleted") }
        // kubectl does not wait here; waiting a little lets the same command run again at once.
        _ = try? await Deletion.waitUntilGone([(namespace, name, nil)], client: client, context: context, timeout: 30)
    }
}
