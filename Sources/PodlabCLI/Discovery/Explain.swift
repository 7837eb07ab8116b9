import ArgumentParser
import PodNet

/// `podlab explain RESOURCE[.field…] [--recursive] [--api-version G/V]`: a kind's or a field's
/// documentation from the agent's OpenAPI document, as kubectl prints it. The resource name
/// is looked up in the agent's discovery, as kubectl's is.
public struct ExplainCommand: PodlabCommand {
    public static let configuration = CommandConfiguration(
        commandName: "explain",
        abstract: "Get documentation for a resource.")

    @OptionGroup public var scope: ScopeOptions

    @Argument(help: "RESOURCE[.field…], e.g. pods.spec.containers.")
    public var target: String

    @Flag(name: .customLong("recursive"), help: "Print all the fields under the one named, without descriptions.")
    public var recursive = false

    @Option(name: .customLong("api-version"), help: "Explain the resource of this group version (v1, apps/v1).")
    public var apiVersion: String?

    public init() {}

    public func execute(_ context: CommandContext) async throws -> Int32 {
        let path = target.split(separator: ".", omittingEmptySubsequences: true).map(String.init)
        guard let name = path.first else { throw CLIError("you must specify the type of resource to explain") }
        let client = scope.client(context)
        var resources = DiscoveredResource.list(try await client.json("/api/v1"))
        for group in try await client.json("/apis")["groups"]?.arrayValue ?? [] {
            for version in group["versions"]?.arrayValue ?? [] {
                guard let groupVersion = version["groupVersion"]?.stringValue else { continue }
                resources += DiscoveredResource.list(try await client.json("/apis/\(groupVersion)"))
            }
        }
        let output: Explain.Output
        do {
            let resource = try Explain.resolve(name, in: resources, apiVersion: apiVersion)
            output = try Explain.explain(resource, fieldPath: Array(path.dropFirst()), recursive: recursive,
                                         document: try await client.json("/openapi/v2"))
        } catch let error as ExplainError where error.printedBare {
            context.stderr.line(error.message)
            throw ExitStatus(1)
        } catch let error as ExplainError {
            throw CLIError(error.message)
        }
        context.stdout.write(output.text)
        if let error = output.error { throw CLIError(error) }
        return 0
    }
}
