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

    @Option(name: .customLong("oci-runtime"), help: "The OCI runtime of containers of OCI images: runc or crun (default: $PODLAB_OCI_RUNTIME or runc).")
    public var ociRuntime: String?

    public init() {}

    public func execute(_ context: CommandContext) async throws -> Int32 {
        let runtimeName = ociRuntime ?? context.environment["PODLAB_OCI_RUNTIME"] ?? OCIRuntimeKind.runc.rawValue
        guard let runtime = OCIRuntimeKind(rawValue: runtimeName) else {
            throw CLIError("invalid --oci-runtime \"\(runtimeName)\": use runc or crun")
        }
        let registries = try RegistryScope(environment: context.environment["PODLAB_REGISTRIES"])
        var volumeSync = 60.0
        if let text = context.environment["PODLAB_VOLUME_SYNC_SECONDS"] {
            guard let seconds = Double(text), seconds > 0 else {
                throw CLIError("invalid PODLAB_VOLUME_SYNC_SECONDS \"\(text)\": give a number of seconds above 0")
            }
            volumeSync = seconds
        }
        try await AgentMain.run(AgentOptions(
            lab: context.labName(lab), topologyPath: topology, stateRoot: stateRoot ?? context.stateRoot,
            restartBackoffSeconds: restartBackoff, ociRuntime: runtime, registries: registries, volumeSyncSeconds: volumeSync))
        return 0
    }
}
