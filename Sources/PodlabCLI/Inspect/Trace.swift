import ArgumentParser
import Foundation
import PodNet

/// `podlab trace POD DST:PORT [--proto udp]`: what the Service rules of the pod's node do to a
/// packet from it — which chain, which map element, which endpoints, which verdict.
public struct Trace: PodlabCommand {
    public static let configuration = CommandConfiguration(
        commandName: "trace",
        abstract: "Trace a packet from a pod through its node's Service rules.",
        discussion: """
            Examples:
              podlab trace client 10.96.12.34:80
              podlab trace client 192.168.200.12:30080
              podlab trace client 10.96.0.10:53 --proto udp
            """)

    @OptionGroup public var scope: ScopeOptions

    @Argument(help: "The pod the packet comes from (NAME or pod/NAME).")
    public var source: String

    @Argument(help: "The destination, IP:PORT.")
    public var destination: String

    @Option(name: .customLong("proto"), help: "tcp (default) or udp.")
    public var transport: String = "tcp"

    @Option(name: [.customShort("o"), .customLong("output")], help: "json: the answer as JSON.")
    public var output: String?

    public init() {}

    public func execute(_ context: CommandContext) async throws -> Int32 {
        if let output, output != "json" {
            throw CLIError("unable to match a printer suitable for the output format \"\(output)\", allowed formats are: json")
        }
        guard let colon = destination.lastIndex(of: ":"), IPv4Address(String(destination[..<colon])) != nil,
              let port = UInt16(destination[destination.index(after: colon)...]), port > 0 else {
            throw CLIError("\"\(destination)\" is not IP:PORT (e.g. 10.96.0.10:53)")
        }
        let query = [("from", try ResourceName.pod(source)), ("namespace", scope.resolvedNamespace),
                     ("to", String(destination[..<colon])), ("port", String(port)), ("protocol", transport)]
        let answer = try await scope.client(context).get(JSONValue.self, "/podlab/v1/trace", query: query)
        if output == "json" {
            context.stdout.write(answer.jsonText() + "\n")
        } else {
            context.stdout.line(answer["text"]?.stringValue ?? "")
        }
        return 0
    }
}
