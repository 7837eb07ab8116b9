import ArgumentParser
import Foundation
import PodNet

/// `podlab ip [pods|nodes|underlay|all] [NAME] [-br] [-o json]`: the interfaces, addresses,
/// routes and neighbour entries of the lab's namespaces, as the kernel holds them.
public struct IP: PodlabCommand {
    public static let configuration = CommandConfiguration(
        commandName: "ip",
        abstract: "Show interfaces, addresses and routes of the lab's namespaces.",
        discussion: """
            Without arguments: the underlay, every node and every pod. Select with a kind \
            (pods, nodes, underlay, all), one pod or node (pod NAME, pod/NAME, node n1, node/n1), \
            or a bare NAME (a pod, else a node). -br prints `ip -br addr` lines, -o json the \
            namespaces with `ip -j`'s keys.

            Examples:
              podlab ip
              podlab ip -br
              podlab ip pod nginx
              podlab ip node/n1 -o json
            """)

    @OptionGroup public var scope: ScopeOptions

    @Argument(help: "What to show: pods|nodes|underlay|all, TYPE NAME, TYPE/NAME or NAME.")
    public var target: [String] = []

    @Flag(name: [.customLong("br", withSingleDash: true), .customLong("brief")], help: "One line per interface: name, state, addresses (as `ip -br addr`).")
    public var brief = false

    @Option(name: [.customShort("o"), .customLong("output")], help: "json: the whole answer as JSON.")
    public var output: String?

    public init() {}

    /// What the arguments select.
    enum Selection: Equatable {
        case kind(NamespaceKind?)
        case pod(String)
        case node(String)
        /// A bare name: a pod if there is one, else a node.
        case either(String)
    }

    public func validate() throws {
        if brief && output != nil { throw ValidationError("-br and -o cannot be used together") }
    }

    public func execute(_ context: CommandContext) async throws -> Int32 {
        if let output, output != "json" {
            throw CLIError("unable to match a printer suitable for the output format \"\(output)\", allowed formats are: json")
        }
        let selection = try IP.parse(target)
        let client = scope.client(context)
        let namespace = scope.resolvedNamespace
        let inspection: NetworkInspection
        switch selection {
        case let .kind(kind):
            inspection = try await fetch(client, kind: kind?.rawValue ?? "all", name: nil, namespace: namespace)
        case let .pod(name):
            inspection = try await fetch(client, kind: "pod", name: name, namespace: namespace)
        case let .node(name):
            inspection = try await fetch(client, kind: "node", name: name, namespace: namespace)
        case let .either(name):
            do {
                inspection = try await fetch(client, kind: "pod", name: name, namespace: namespace)
            } catch let error as APIError where error.isNotFound {
                do {
                    inspection = try await fetch(client, kind: "node", name: name, namespace: namespace)
                } catch let error as APIError where error.isNotFound {
                    throw CLIError("no pod \"\(name)\" in namespace \"\(namespace)\" and no node \"\(name)\" in lab \"\(context.labName(scope.lab))\"")
                }
            }
        }
        if output == "json" {
            context.stdout.write(try InspectionText.json(inspection))
        } else if inspection.namespaces.isEmpty {
            context.stderr.line("No namespaces found.")
        } else {
            context.stdout.write(brief ? InspectionText.brief(inspection) : InspectionText.detailed(inspection))
        }
        return 0
    }

    private func fetch(_ client: APIClient, kind: String, name: String?, namespace: String) async throws -> NetworkInspection {
        var query = [("kind", kind), ("namespace", namespace)]
        if let name { query.append(("name", name)) }
        return try await client.get(NetworkInspection.self, "/podlab/v1/ip", query: query)
    }

    /// Reads the target words: nothing, a kind, `TYPE NAME`, `TYPE/NAME` or a bare `NAME`.
    static func parse(_ words: [String]) throws -> Selection {
        guard let first = words.first else { return .kind(nil) }
        guard words.count <= 2 else {
            throw CLIError("too many arguments: give a kind (pods, nodes, underlay, all), TYPE NAME, TYPE/NAME or NAME")
        }
        if let slash = first.firstIndex(of: "/") {
            guard words.count == 1 else { throw CLIError("give one TYPE/NAME, not \(words.joined(separator: " "))") }
            let type = String(first[..<slash]), name = String(first[first.index(after: slash)...])
            guard !name.isEmpty else { throw CLIError("\"\(first)\" names no \(type)") }
            return try named(type, name)
        }
        if words.count == 2 { return try named(first, words[1]) }
        switch first.lowercased() {
        case "all": return .kind(nil)
        case "underlay", "u": return .kind(.underlay)
        default:
            if let kind = ResourceKind(argument: first), kind == .pods || kind == .nodes { return .kind(kind == .pods ? .pod : .node) }
            return .either(first)
        }
    }

    private static func named(_ type: String, _ name: String) throws -> Selection {
        switch ResourceKind(argument: type) {
        case .pods?: return .pod(name)
        case .nodes?: return .node(name)
        default:
            if ["underlay", "u", "all"].contains(type.lowercased()) {
                throw CLIError("\"\(type)\" takes no name")
            }
            throw CLIError("unknown selector \"\(type)\": use pods, nodes, underlay or all, or pod NAME / node NAME")
        }
    }
}
