import ArgumentParser
import Foundation
import PodlabAgent

/// `podlab keeper --lab LAB --state-root DIR -- agent …`: the lab's keeper (`LabKeeper`), which
/// `podlab up` starts and which starts the agent with the arguments after `--`. Not a verb for
/// users: it runs from `main` before anything else, so that its signal mask is in place before
/// the process has a second thread.
public struct Keeper: ParsableCommand {
    public static let commandName = "keeper"
    public static let configuration = CommandConfiguration(
        commandName: commandName,
        abstract: "Keep a lab's agent and its orphaned containers (started by podlab up).",
        shouldDisplay: false)

    @Option(help: "The lab's name.")
    public var lab: String

    @Option(name: .customLong("state-root"), help: "Where labs keep their state.")
    public var stateRoot: String

    @Argument(parsing: .postTerminator, help: "The agent's arguments.")
    public var agentArguments: [String] = []

    public init() {}

    /// Runs the keeper and never returns when the command line is `podlab keeper …`; returns
    /// at once for any other.
    public static func runIfRequested(_ arguments: [String]) {
        guard arguments.first == commandName else { return }
        let keeper: Keeper
        do { keeper = try parse(Array(arguments.dropFirst())) } catch { exit(withError: error) }
        do {
            LabKeeper.run(paths: LabPaths(lab: keeper.lab, stateRoot: keeper.stateRoot),
                          executable: try LabFiles.ownExecutable(), agentArguments: keeper.agentArguments,
                          environment: ProcessInfo.processInfo.environment)
        } catch {
            exit(withError: error)
        }
    }
}
