import ArgumentParser
import Foundation
import PodNet

/// `podlab status`: the lab at a glance — agent, ranges, nodes, pods per namespace.
public struct Status: PodlabCommand {
    public static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show a lab's state: agent, address ranges, nodes and pod counts.")

    @Option(help: "The lab's name (default: $PODLAB_LAB or \"podlab\").")
    public var lab: String?

    public init() {}

    /// Just enough of a pod to count it.
    struct PodCountView: Decodable {
        struct Metadata: Decodable { var namespace: String? }
        struct Status: Decodable { var phase: String? }
        var metadata: Metadata?
        var status: Status?
    }

    struct PodListView: Decodable { var items: [PodCountView]? }

    public func execute(_ context: CommandContext) async throws -> Int32 {
        let paths = context.labPaths(lab)
        let client = APIClient(paths: paths)
        let info: LabInfo
        do {
            info = try await client.get(LabInfo.self, LabInfo.path)
        } catch let error as APIError where error.isUnreachable {
            if let agent = LabFiles.liveAgent(paths) {
                context.stderr.line("error: the agent of lab \"\(paths.lab)\" (pid \(agent.pid)) does not answer on \(paths.socket)")
            } else {
                context.stderr.line("lab \"\(paths.lab)\" is not running (start it with \"podlab up\(LabFiles.labFlag(paths.lab))\")")
            }
            return 1
        }
        let healthy = (try? await client.send(.GET, "/healthz")) != nil
        let pods = (try? await client.get(PodListView.self, "/api/v1/pods"))?.items ?? []
        context.stdout.write(Self.render(info, pods: pods, healthy: healthy, paths: paths))
        return info.phase == .failed ? 1 : 0
    }

    static func render(_ info: LabInfo, pods: [PodCountView], healthy: Bool, paths: LabPaths) -> String {
        var out = TextTable(headers: ["LAB", "PHASE", "HEALTH", "AGENT", "ROUTING", "CLUSTER CIDR", "SERVICE CIDR", "UNDERLAY CIDR"], rows: [
            [info.name, info.phase.rawValue, healthy ? "ok" : "unhealthy", info.agent?.pid.map { "pid \($0)" } ?? "<unknown>",
             info.routing ?? "<none>", info.clusterCIDR ?? "<none>", info.serviceCIDR ?? "<none>", info.underlayCIDR ?? "<none>"],
        ]).render()
        if let message = info.message, !message.isEmpty { out += "Message: \(message)\n" }
        if let server = info.apiServer { out += "API server: \(server)\n" }

        var nodeRows: [[String]] = []
        for node in info.nodes ?? [] {
            nodeRows.append([node.name, node.ready == false ? "NotReady" : "Ready", node.namespace ?? "<none>",
                             node.underlayIP ?? "<none>", node.podCIDR ?? "<none>", node.gateway ?? "<none>",
                             node.pods.map(String.init) ?? "0"])
        }
        out += "\n" + TextTable(headers: ["NODE", "STATUS", "NAMESPACE", "UNDERLAY IP", "POD CIDR", "GATEWAY", "PODS"], rows: nodeRows).render()

        var byNamespace: [String: [String: Int]] = [:]
        for pod in pods {
            let namespace = pod.metadata?.namespace ?? "default"
            byNamespace[namespace, default: [:]][pod.status?.phase ?? "Pending", default: 0] += 1
        }
        if byNamespace.isEmpty {
            out += "\nNo pods.\n"
        } else {
            var rows: [[String]] = []
            for namespace in byNamespace.keys.sorted() {
                let phases = byNamespace[namespace]!
                rows.append([namespace, String(phases.values.reduce(0, +)), String(phases["Running"] ?? 0),
                             String(phases["Pending"] ?? 0), String(phases["Succeeded"] ?? 0), String(phases["Failed"] ?? 0)])
            }
            out += "\n" + TextTable(headers: ["NAMESPACE", "PODS", "RUNNING", "PENDING", "SUCCEEDED", "FAILED"], rows: rows).render()
        }
        out += "\nState: \(paths.directory)  Log: \(paths.logFile)\n"
        return out
    }
}
