import ArgumentParser
import Foundation
import PodNet

/// `podlab ipam [-o json]`: the lab's address ranges, each node's allocated and free pod
/// addresses, and every allocation.
public struct IPAM: PodlabCommand {
    public static let configuration = CommandConfiguration(
        commandName: "ipam",
        abstract: "Show the cluster and node CIDRs, allocated and free addresses, and each allocation.")

    @Option(help: "The lab to talk to (default: $PODLAB_LAB or \"podlab\").")
    public var lab: String?

    @Option(name: [.customShort("o"), .customLong("output")], help: "json: the whole answer as JSON.")
    public var output: String?

    public init() {}

    public func execute(_ context: CommandContext) async throws -> Int32 {
        if let output, output != "json" {
            throw CLIError("unable to match a printer suitable for the output format \"\(output)\", allowed formats are: json")
        }
        let report = try await context.client(lab).get(IPAMReport.self, "/podlab/v1/ipam")
        context.stdout.write(output == "json" ? try InspectionText.json(report) : InspectionText.ipam(report))
        return 0
    }
}
