import PodNet
import ArgumentParser
import Foundation
import PodlabAgent

/// `podlab down`: asks the agent to tear the whole lab down and waits until it has exited.
public struct Down: PodlabCommand {
    public static let configuration = CommandConfiguration(
        commandName: "down",
        abstract: "Delete a lab: all its pods, nodes and namespaces; the agent exits.")

    @Option(help: "The lab's name (default: $PODLAB_LAB or \"podlab\").")
    public var lab: String?

    @Option(help: "Seconds to wait for the agent to finish.")
    public var timeout: Double = 300

    public init() {}

    public func execute(_ context: CommandContext) async throws -> Int32 {
        let paths = context.labPaths(lab)
        let client = APIClient(paths: paths)
        let deadline = ContinuousClock.now + .seconds(timeout)
        let info: LabInfo
        do {
            info = try await client.get(LabInfo.self, LabInfo.path)
        } catch let error as APIError where error.isUnreachable {
            guard LabFiles.liveAgent(paths) == nil, FileManager.default.fileExists(atPath: paths.database) else {
                return notRunning(paths, context: context)
            }
            guard let restarted = try await restartAgent(paths, client: client, deadline: deadline, context: context) else { return 1 }
            info = restarted
        }
        let agent = info.agent?.pid.flatMap { ProcessIdentity.of(pid: $0) } ?? LabFiles.liveAgent(paths)

        do {
            _ = try await client.send(.DELETE, LabInfo.path)
        } catch let error as APIError where error.isUnreachable {
            // The agent went away between the two calls: it was already on its way out.
        } catch APIError.interrupted {
            // The agent may close the connection as it exits.
        }

        // Only the agent's pid is watched from here on: the agent closes its API while it
        // tears the lab down, and connections made during that are of no use to anyone.
        var progress = ProgressLine(context.stderr)
        while let agent, agent.isAlive {
            progress.update("Deleting lab \"\(paths.lab)\": waiting for the agent (pid \(agent.pid)) to remove pods, nodes and namespaces…")
            if ContinuousClock.now >= deadline {
                progress.finish()
                context.stderr.line("error: the agent of lab \"\(paths.lab)\" (pid \(agent.pid)) is still running after \(Int(timeout))s")
                LabFiles.printLogTail(paths, to: context)
                return 1
            }
            try await context.pause()
        }
        progress.finish()
        if agent == nil {
            // No process to watch (the agent did not say its pid): wait for the socket to go quiet.
            while (try? await client.get(LabInfo.self, LabInfo.path)) != nil, ContinuousClock.now < deadline {
                try await context.pause()
            }
        }
        // Each keeper exits once the processes it kept are gone, which the agent has just ended;
        // one that still holds processes that left their containers is made to end them.
        for keeper in await LabKeeper.endAll(paths) {
            context.stderr.line("The keeper of lab \"\(paths.lab)\" (pid \(keeper)) still held processes after the agent exited: ended them")
        }
        context.stdout.line("lab \"\(paths.lab)\" deleted")
        return 0
    }

    /// A lab whose agent died (killed or crashed) still has its namespaces and containers: an
    /// agent started on its state adopts them, and can then delete them.
    private func restartAgent(_ paths: LabPaths, client: APIClient, deadline: ContinuousClock.Instant,
                              context: CommandContext) async throws -> LabInfo? {
        let child = try Up.startAgent(paths, topologyPath: nil, restartBackoff: nil, context: context)
        context.stderr.line("The agent of lab \"\(paths.lab)\" is not running: started one (keeper pid \(child.pid)) to delete the lab")
        while true {
            if let status = try child.poll() {
                context.stderr.line("error: the agent of lab \"\(paths.lab)\" exited (\(status)) before it could delete the lab")
                LabFiles.printLogTail(paths, to: context)
                return nil
            }
            if let info = try? await client.get(LabInfo.self, LabInfo.path), info.phase != .creating { return info }
            if ContinuousClock.now >= deadline {
                context.stderr.line("error: the agent of lab \"\(paths.lab)\" (pid \(child.pid)) did not start within \(Int(timeout))s")
                LabFiles.printLogTail(paths, to: context)
                return nil
            }
            try await context.pause()
        }
    }

    /// True when the state directory holds more than a finished agent leaves behind
    /// (its log, its pid file and empty directories).
    static func hasLeftovers(_ directory: String) -> Bool {
        let fm = FileManager.default
        guard let entries = try? fm.contentsOfDirectory(atPath: directory) else { return false }
        for entry in entries where entry != "agent.log" && entry != "agent.pid" {
            let path = directory + "/" + entry
            var isDirectory: ObjCBool = false
            guard fm.fileExists(atPath: path, isDirectory: &isDirectory) else { continue }
            if !isDirectory.boolValue || hasLeftovers(path) || !((try? fm.contentsOfDirectory(atPath: path))?.isEmpty ?? true) {
                return true
            }
        }
        return false
    }

    private func notRunning(_ paths: LabPaths, context: CommandContext) -> Int32 {
        let flag = LabFiles.labFlag(paths.lab)
        if let agent = LabFiles.liveAgent(paths) {
            context.stderr.line("error: the agent of lab \"\(paths.lab)\" (pid \(agent.pid)) does not answer on \(paths.socket)")
            LabFiles.printLogTail(paths, to: context)
            return 1
        }
        if Self.hasLeftovers(paths.directory) {
            context.stderr.line("""
                error: lab "\(paths.lab)" is not running, but its state is still in \(paths.directory).
                The agent cleans up what a stopped lab left behind when it starts: run "podlab up\(flag)", then "podlab down\(flag)".
                """)
            return 1
        }
        context.stderr.line("lab \"\(paths.lab)\" is not running; nothing to delete")
        return 0
    }
}
