import ArgumentParser
import Foundation
import PodNet

/// `podlab mesh status`: the mesh's view of its pods.
public struct MeshCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "mesh",
        abstract: "Show the service mesh's pods: identities, mTLS modes, certificates.",
        subcommands: [MeshStatusCommand.self])

    public init() {}
}

/// `podlab mesh status [-n NS] [-o json|yaml]`.
public struct MeshStatusCommand: PodlabCommand {
    public static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "List meshed pods: identity, mTLS mode, time left on the workload certificate, readiness.",
        discussion: """
            Every namespace's meshed pods, or one namespace's with -n. CERT EXPIRES is the time \
            left on the pod's workload certificate (renewed by the agent at two thirds of its hour); \
            MODE is the one its sidecar was started with.

            Examples:
              podlab mesh status
              podlab mesh status -n shop -o yaml
            """)

    @OptionGroup public var scope: ScopeOptions

    @Option(name: [.customShort("o"), .customLong("output")], help: "json or yaml: the whole answer.")
    public var output: String?

    public init() {}

    public func execute(_ context: CommandContext) async throws -> Int32 {
        if let output, !["json", "yaml"].contains(output) {
            throw CLIError("unable to match a printer suitable for the output format \"\(output)\", allowed formats are: json,yaml")
        }
        let query = scope.namespace.flatMap { $0.isEmpty ? nil : [("namespace", $0)] } ?? []
        let report = try await scope.client(context).get(MeshStatusReport.self, "/podlab/v1/mesh", query: query)
        switch output {
        case "json":
            context.stdout.write(try InspectionText.json(report))
        case "yaml":
            let tree = try JSONDecoder().decode(JSONValue.self, from: JSONEncoder().encode(report))
            context.stdout.write(tree.yamlText())
        default:
            guard !report.pods.isEmpty else {
                context.stderr.line(scope.namespace.map { "No meshed pods found in \($0) namespace." } ?? "No meshed pods found.")
                return 0
            }
            context.stdout.write(MeshStatusTable.table(report.pods, now: Timestamp(context.now())).render())
        }
        return 0
    }
}
