import PodlabAgent

/// The files of one lab's state directory (shared with the agent, which creates them).
public typealias LabPaths = PodlabAgent.LabPaths

extension CommandContext {
    /// The state files of the lab named by `option` (see `labName(_:)`).
    public func labPaths(_ option: String?) -> LabPaths {
        LabPaths(lab: labName(option), stateRoot: stateRoot)
    }

    /// A client for the API of the lab named by `option`.
    public func client(_ option: String?) -> APIClient {
        APIClient(paths: labPaths(option))
    }
}
