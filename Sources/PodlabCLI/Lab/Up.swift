import ArgumentParser
import Foundation
import Netns
import PodNet
import PodlabAgent

/// `podlab up [TOPOLOGY]`: starts the lab's agent in the background and waits until the lab is ready.
public struct Up: PodlabCommand {
    public static let configuration = CommandConfiguration(
        commandName: "up",
        abstract: "Create a lab: start its agent and wait until its nodes are ready.",
        discussion: """
            Without TOPOLOGY, uses topologies/default.yaml of the podlab checkout when there is one, \
            else the built-in default (two nodes, host-gw routing).
            """)

    @Argument(help: "A topology file (YAML).")
    public var topology: String?

    @Option(help: "The lab's name (default: $PODLAB_LAB or \"podlab\").")
    public var lab: String?

    @Option(name: .customLong("restart-backoff"), help: "Initial back-off in seconds before a crashed container restarts or a failed image pull is tried again.")
    public var restartBackoff: Double?

    @Option(name: .customLong("oci-runtime"), help: "The OCI runtime of containers of OCI images: runc or crun (default: $PODLAB_OCI_RUNTIME or runc).")
    public var ociRuntime: String?

    @Option(help: "Seconds to wait for the lab to become ready.")
    public var timeout: Double = 300

    public init() {}

    public func execute(_ context: CommandContext) async throws -> Int32 {
        let paths = context.labPaths(lab)
        let client = APIClient(paths: paths)
        let deadline = ContinuousClock.now + .seconds(timeout)

        // An agent that answers: report it, and keep waiting if it is still creating the lab.
        let answer: LabInfo?
        do { answer = try await client.get(LabInfo.self, LabInfo.path) } catch let error as APIError where error.isPermissionDenied {
            throw error
        } catch { answer = nil }
        if let info = answer {
            // A topology named on the command line must be the one the lab runs.
            if let topology {
                let plan = try Up.checkTopology(try resolveTopology(context) ?? topology, lab: paths.lab)
                let differences = Up.differences(between: plan, and: info)
                if !differences.isEmpty {
                    throw CLIError("lab \"\(paths.lab)\" is already up with another topology than \(topology): "
                        + differences.joined(separator: "; ")
                        + ". Run \"podlab down\(LabFiles.labFlag(paths.lab))\" first, or choose another lab with --lab")
                }
            }
            context.stderr.line("lab \"\(paths.lab)\" is already up (agent pid \(info.agent?.pid.map(String.init) ?? "?"), phase \(info.phase))")
            return try await wait(for: client, child: nil, deadline: deadline, context: context)
        }
        if let running = LabFiles.liveAgent(paths) {
            context.stderr.line("the agent of lab \"\(paths.lab)\" is running (pid \(running.pid)) but does not answer yet; waiting")
            return try await wait(for: client, child: nil, deadline: deadline, context: context)
        }

        // Refused before anything is made: the agent could not build the lab anyway.
        guard geteuid() == 0 else {
            throw CLIError("podlab up needs root (CAP_NET_ADMIN, CAP_SYS_ADMIN) to create network namespaces; run it with sudo")
        }
        let topologyPath = try resolveTopology(context)
        // A topology that cannot make a lab is refused here, before an agent or any state exists.
        if let topologyPath { try Up.checkTopology(topologyPath, lab: paths.lab) }
        if let ociRuntime, OCIRuntimeKind(rawValue: ociRuntime) == nil {
            throw CLIError("invalid --oci-runtime \"\(ociRuntime)\": use runc or crun")
        }
        let child = try Up.startAgent(paths, topologyPath: topologyPath, restartBackoff: restartBackoff, ociRuntime: ociRuntime, context: context)
        context.stderr.line("Starting lab \"\(paths.lab)\" (keeper pid \(child.pid), topology \(topologyPath ?? "built-in default"), log \(paths.logFile))")
        return try await wait(for: client, child: child, deadline: deadline, context: context)
    }

    /// How a running lab differs from a planned one, in words (empty when it does not): routing,
    /// address ranges and nodes with their pod CIDRs.
    static func differences(between plan: LabPlan, and info: LabInfo) -> [String] {
        var result: [String] = []
        func compare(_ what: String, running: String?, file: String) {
            if (running ?? "") != file { result.append("\(what) \(running ?? "<none>") (the file: \(file))") }
        }
        compare("routing", running: info.routing, file: plan.routing.rawValue)
        compare("clusterCIDR", running: info.clusterCIDR, file: plan.clusterCIDR.description)
        compare("serviceCIDR", running: info.serviceCIDR, file: plan.serviceCIDR.description)
        compare("underlayCIDR", running: info.underlayCIDR, file: plan.underlayCIDR.description)
        let running = (info.nodes ?? []).map { "\($0.name) \($0.podCIDR ?? "?")" }.sorted()
        let planned = plan.nodes.map { "\($0.name) \($0.podCIDR)" }.sorted()
        if running != planned {
            result.append("nodes \(running.joined(separator: ", ")) (the file: \(planned.joined(separator: ", ")))")
        }
        return result
    }

    /// Reads and plans a topology file as the agent will; throws naming the field at fault.
    @discardableResult
    static func checkTopology(_ path: String, lab: String) throws -> LabPlan {
        let text: String
        do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
            throw CLIError("cannot read topology \(path): \(error.localizedDescription)")
        }
        do {
            var spec = try TopologySpec(yaml: text)
            spec.name = lab
            return try spec.plan()
        } catch {
            throw CLIError("topology \(path): \(error)")
        }
    }

    /// Starts the lab's keeper in its own session, its output going to the lab's log; the
    /// keeper starts `podlab agent` (see `LabKeeper`). Returns the keeper.
    static func startAgent(_ paths: LabPaths, topologyPath: String?, restartBackoff: Double?, ociRuntime: String? = nil,
                           context: CommandContext) throws -> ChildProcess {
        try LabStateModes.makeLabDirectory(paths)
        // The keeper's and the agent's output: opened by the spawn, made root's alone first.
        try LabStateModes.makePrivateFile(paths.logFile)
        var arguments = ["agent", "--lab", paths.lab, "--state-root", context.stateRoot]
        if let topologyPath { arguments += ["--topology", topologyPath] }
        if let restartBackoff { arguments += ["--restart-backoff", String(restartBackoff)] }
        if let ociRuntime { arguments += ["--oci-runtime", ociRuntime] }
        let executable = try LabFiles.ownExecutable()
        return try Spawner.spawn(SpawnRequest(
            executable: executable, arguments: [Keeper.commandName, "--lab", paths.lab, "--state-root", context.stateRoot, "--"] + arguments,
            argv0: "podlab",
            environment: context.environment,
            stdin: .null, stdout: .file(paths.logFile), stderr: .file(paths.logFile),
            newSession: true))
    }

    /// Polls the lab until it is ready, failed, or its agent died. `child` is the keeper this
    /// command started: it exits with the agent's status when the agent leaves nothing behind.
    func wait(for client: APIClient, child: ChildProcess?, deadline: ContinuousClock.Instant,
              context: CommandContext) async throws -> Int32 {
        let paths = client.paths
        var progress = ProgressLine(context.stderr)
        while true {
            if let child, let status = try child.poll() {
                progress.finish()
                context.stderr.line("error: the agent of lab \"\(paths.lab)\" exited (\(status)) before the lab was ready")
                LabFiles.printLogTail(paths, to: context)
                return 1
            }
            if let child, let entry = LabKeeper.running(paths).first(where: { $0.keeper.pid == child.pid }), !entry.agent.isAlive {
                // The keeper stays for the containers the agent left; the agent is gone.
                progress.finish()
                context.stderr.line("error: the agent of lab \"\(paths.lab)\" (pid \(entry.agent.pid)) exited before the lab was ready")
                LabFiles.printLogTail(paths, to: context)
                return 1
            }
            do {
                let info = try await client.get(LabInfo.self, LabInfo.path)
                switch info.phase {
                case .ready:
                    progress.finish()
                    context.stdout.write(Self.summary(info, paths: paths))
                    return 0
                case .failed:
                    progress.finish()
                    context.stderr.line("error: lab \"\(paths.lab)\" failed: \(info.message ?? "no reason given")")
                    LabFiles.printLogTail(paths, to: context)
                    context.stderr.line("Remove what is left with \"podlab down\(LabFiles.labFlag(paths.lab))\".")
                    return 1
                default:
                    progress.update(info.message.map { "\(info.phase): \($0)" } ?? "\(info.phase)…")
                }
            } catch let error as APIError where error.isUnreachable {
                if child == nil, LabFiles.liveAgent(paths) == nil {
                    progress.finish()
                    context.stderr.line("error: the agent of lab \"\(paths.lab)\" is gone")
                    LabFiles.printLogTail(paths, to: context)
                    return 1
                }
                progress.update("Starting the agent…")
            }
            if ContinuousClock.now >= deadline {
                progress.finish()
                context.stderr.line("error: lab \"\(paths.lab)\" is not ready after \(Int(timeout))s; the agent keeps working (see \"podlab status\(LabFiles.labFlag(paths.lab))\")")
                LabFiles.printLogTail(paths, to: context)
                return 1
            }
            try await context.pause()
        }
    }

    /// The topology file to use: the argument, else `topologies/default.yaml` in the current
    /// directory or above the executable (a checkout's `.build/debug/podlab`), else nil.
    func resolveTopology(_ context: CommandContext) throws -> String? {
        let fm = FileManager.default
        if let topology {
            let absolute = topology.hasPrefix("/") ? topology : fm.currentDirectoryPath + "/" + topology
            guard fm.fileExists(atPath: absolute) else { throw CLIError("the topology file \"\(topology)\" does not exist") }
            return (absolute as NSString).standardizingPath
        }
        var candidates = [fm.currentDirectoryPath]
        if var dir = try? LabFiles.executableDirectory() {
            for _ in 0..<5 {
                candidates.append(dir)
                dir = (dir as NSString).deletingLastPathComponent
            }
        }
        for dir in candidates {
            let path = dir + "/topologies/default.yaml"
            if fm.fileExists(atPath: path) { return (path as NSString).standardizingPath }
        }
        return nil
    }

    /// What `up` prints once the lab is ready: its nodes, ranges and what to try next.
    static func summary(_ info: LabInfo, paths: LabPaths) -> String {
        let nodes = info.nodes ?? []
        let flag = LabFiles.labFlag(paths.lab)
        var out = "Lab \"\(info.name)\" is ready: \(nodes.count) node\(nodes.count == 1 ? "" : "s")"
        if let routing = info.routing { out += ", \(routing) routing" }
        if let pid = info.agent?.pid { out += " (agent pid \(pid))" }
        out += ".\n\n"
        var rows: [[String]] = []
        for node in nodes {
            rows.append([node.name, node.underlayIP ?? "<none>", node.podCIDR ?? "<none>", node.gateway ?? "<none>"])
        }
        out += TextTable(headers: ["NODE", "UNDERLAY IP", "POD CIDR", "GATEWAY"], rows: rows).render() + "\n"
        var ranges: [[String]] = []
        if let cidr = info.clusterCIDR { ranges.append(["Cluster CIDR:", cidr]) }
        if let cidr = info.serviceCIDR {
            ranges.append(["Service CIDR:", cidr])
            if let prefix = IPv4Prefix(cidr), let dns = PodDNS.clusterDNSAddress(serviceCIDR: prefix) {
                ranges.append(["Cluster DNS:", "\(dns) (Service kube-dns in kube-system; pods' /etc/resolv.conf names it)"])
            }
        }
        if let cidr = info.underlayCIDR { ranges.append(["Underlay CIDR:", cidr]) }
        if let server = info.apiServer { ranges.append(["API server:", "\(server) (for kubectl: podlab kubeconfig --merge\(flag))"]) }
        if !ranges.isEmpty {
            let width = ranges.map { $0[0].count }.max()! + 2
            for range in ranges { out += range[0] + String(repeating: " ", count: width - range[0].count) + range[1] + "\n" }
            out += "\n"
        }
        out += """
            Next steps:
              podlab get nodes -o wide\(flag)
              podlab run nginx --image nginx\(flag)
              podlab get pods -o wide\(flag)
              podlab run curl --image curlimages/curl --restart=Never -it --rm\(flag) -- curl http://<pod IP>
              podlab down\(flag)

            """
        return out
    }
}
