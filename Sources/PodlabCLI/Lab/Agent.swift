import ArgumentParser
import PodlabAgent

/// `podlab agent`: runs a lab's control plane in the foreground (`podlab up` starts it detached).
public struct Agent: PodlabCommand {
    public static let configuration = CommandConfiguration(
        commandName: "agent",
        abstract: "Run a lab's agent (control plane and API) in the foreground.")

    @Option(help: "The lab's name (default: $PODLAB_LAB or \"podlab\").")
    public var lab: String?

    @Option(help: "The topology file (default: the built-in default topology).")
    public var topology: String?

    @Option(name: .customLong("state-root"), help: "Where labs keep their state (default: $PODLAB_STATE_ROOT or /run/podlab).")
    public var stateRoot: String?

    @Option(name: .customLong("restart-backoff"), help: "Initial back-off in seconds before a crashed container restarts or a failed image pull is tried again.")
    public var restartBackoff: Double = 10

    public init() {}

    public func execute(_ context: CommandContext) async throws -> Int32 {
        try await AgentMain.run(AgentOptions(
            lab: context.labName(lab), topologyPath: topology, stateRoot: stateRoot ?? context.stateRoot,
            restartBackoffSeconds: restartBackoff))
        return 0
    }
}
