import ArgumentParser
import PodNet

/// `podlab version [--client] [-o json|yaml]`: this CLI's version and the agent's, as kubectl prints them.
public struct Version: PodlabCommand {
    public static let configuration = CommandConfiguration(
        commandName: "version",
        abstract: "Print the client and server version information.")

    @OptionGroup public var scope: ScopeOptions

    @Flag(name: .customLong("client"), help: "Print the client version only (no agent needed).")
    public var client = false

    @Option(name: [.customShort("o"), .customLong("output")], help: "json or yaml.")
    public var output: String?

    public init() {}

    /// The client's version, in `/version`'s shape.
    static var clientVersion: JSONValue {
        let version = Podlab.configuration.version
        let parts = version.split(separator: ".").map(String.init)
        return ["major": .string(parts.first ?? "0"), "minor": .string(parts.count > 1 ? parts[1] : "0"),
                "gitVersion": .string("v" + version), "platform": "linux/amd64"]
    }

    public func execute(_ context: CommandContext) async throws -> Int32 {
        if let output, output != "json", output != "yaml" { throw CLIError("--output must be 'yaml' or 'json'") }
        var server: JSONValue?
        var failure: (any Error)?
        if !client {
            do { server = try await scope.client(context).json("/version") } catch { failure = error }
        }
        switch output {
        case let format?:
            var document: [String: JSONValue] = ["clientVersion": Self.clientVersion]
            if let server { document["serverVersion"] = server }
            context.stdout.write(format == "json" ? JSONValue.object(document).jsonText(indent: 2) + "\n" : JSONValue.object(document).yamlText())
        case nil:
            context.stdout.line("Client Version: \(Self.clientVersion["gitVersion"]?.stringValue ?? "")")
            if let version = server?["gitVersion"]?.stringValue { context.stdout.line("Server Version: \(version)") }
        }
        if let failure { throw failure }
        return 0
    }
}

/// `podlab api-resources [-o wide|name] [--namespaced=true|false] [--api-group G] [--sort-by name|kind] [--no-headers]`.
public struct APIResources: PodlabCommand {
    public static let configuration = CommandConfiguration(
        commandName: "api-resources",
        abstract: "Print the supported API resources on the server.")

    @OptionGroup public var scope: ScopeOptions

    @Option(name: [.customShort("o"), .customLong("output")], help: "wide or name.")
    public var output: String?

    @Option(name: .customLong("namespaced"), help: "true: only namespaced resources; false: only cluster-wide ones.")
    public var namespaced: Bool?

    @Option(name: .customLong("api-group"), help: "Only the resources of this group (\"\" for the core group).")
    public var apiGroup: String?

    @Option(name: .customLong("sort-by"), help: "name or kind.")
    public var sortBy: String?

    @Option(name: .customLong("verbs"), parsing: .upToNextOption, help: "Only the resources that support these verbs.")
    public var verbs: [String] = []

    @Flag(name: .customLong("no-headers"), help: "Print the table without headers.")
    public var noHeaders = false

    public init() {}

    public func execute(_ context: CommandContext) async throws -> Int32 {
        if let output, output != "wide", output != "name" {
            throw CLIError("--output wide or name is accepted")
        }
        if let sortBy, sortBy != "name", sortBy != "kind" {
            throw CLIError("--sort-by accepts only name or kind")
        }
        let client = scope.client(context)
        var lists = [try await client.json("/api/v1")]
        let groups = try await client.json("/apis")
        for group in groups["groups"]?.arrayValue ?? [] {
            guard let groupVersion = group["preferredVersion"]?["groupVersion"]?.stringValue else { continue }
            lists.append(try await client.json("/apis/\(groupVersion)"))
        }
        let wantedVerbs = verbs.flatMap { $0.split(separator: ",").map(String.init) }
        let entries = APIResourceEntry.sorted(lists.flatMap(APIResourceEntry.entries), by: sortBy).filter { entry in
            (namespaced.map { $0 == entry.namespaced } ?? true)
                && (apiGroup.map { $0 == entry.group } ?? true)
                && wantedVerbs.allSatisfy(entry.verbs.contains)
        }
        if output == "name" {
            for entry in entries { context.stdout.line(entry.qualifiedName) }
        } else {
            context.stdout.write(APIResourceEntry.table(entries, wide: output == "wide").render(showHeaders: !noHeaders))
        }
        return 0
    }
}
