// PLACEHOLDER: stands in for `PodlabAgent.AgentMain` / `PodlabAgent.AgentOptions` until the
// agent provides them. Delete this file when it does: declarations of this module shadow the
// imported ones, so while it exists `podlab agent` runs this stub.

/// How `podlab agent` starts the control plane of one lab.
struct AgentOptions: Sendable {
    var lab: String
    /// The topology file; nil uses the built-in default topology.
    var topologyPath: String?
    var stateRoot: String
    var restartBackoffSeconds: Double

    init(lab: String, topologyPath: String?, stateRoot: String, restartBackoffSeconds: Double) {
        self.lab = lab
        self.topologyPath = topologyPath
        self.stateRoot = stateRoot
        self.restartBackoffSeconds = restartBackoffSeconds
    }
}

/// The agent's entry point.
enum AgentMain {
    static func run(_ options: AgentOptions) async throws {
        throw CLIError("this build has no agent (the control plane is not linked in)")
    }
}
