import ArgumentParser
import Foundation
import PodNet

/// `podlab whois IP [--from POD] [-o json]`: which pod, node, gateway or range an address
/// belongs to, and the way a packet from a pod takes to it.
public struct Whois: PodlabCommand {
    public static let configuration = CommandConfiguration(
        commandName: "whois",
        abstract: "Tell which pod, node or gateway owns an address, and how a pod reaches it.",
        discussion: """
            Exits with 1 for an address outside the lab.

            Examples:
              podlab whois 10.244.1.2
              podlab whois 10.244.2.1 --from nginx
            """)

    @OptionGroup public var scope: ScopeOptions

    @Argument(help: "An IPv4 or IPv6 address.")
    public var address: String

    @Option(help: "Trace the path a packet from this pod takes (pod name, or pod/NAME).")
    public var from: String?

    @Option(name: [.customShort("o"), .customLong("output")], help: "json: the whole answer as JSON.")
    public var output: String?

    public init() {}

    public func execute(_ context: CommandContext) async throws -> Int32 {
        if let output, output != "json" {
            throw CLIError("unable to match a printer suitable for the output format \"\(output)\", allowed formats are: json")
        }
        guard PodNet.IPAddress(address) != nil else { throw CLIError("\"\(address)\" is not an IP address") }
        var query = [("ip", address), ("namespace", scope.resolvedNamespace)]
        if let from { query.append(("from", try ResourceName.pod(from))) }
        let answer = try await scope.client(context).get(WhoisAnswer.self, "/podlab/v1/whois", query: query)
        context.stdout.write(output == "json" ? try InspectionText.json(answer) : InspectionText.whois(answer))
        return answer.owner.isInLab ? 0 : 1
    }
}
