/// The files of one lab's state directory, `<stateRoot>/<lab>/`.
public struct LabPaths: Sendable, Equatable {
    /// The lab's name (`podlab` unless `--lab` or `$PODLAB_LAB` says otherwise).
    public var lab: String
    /// `<stateRoot>/<lab>`.
    public var directory: String

    public init(lab: String, stateRoot: String) {
        self.lab = lab
        self.directory = stateRoot.hasSuffix("/") ? stateRoot + lab : stateRoot + "/" + lab
    }

    /// The agent's API: HTTP/1.1 on a unix socket.
    public var socket: String { directory + "/agent.sock" }
    /// The agent's process id.
    public var pidFile: String { directory + "/agent.pid" }
    /// The agent's stdout and stderr.
    public var logFile: String { directory + "/agent.log" }
    /// The agent's store: present once an agent has started on the lab.
    public var database: String { directory + "/state.db" }
}

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
