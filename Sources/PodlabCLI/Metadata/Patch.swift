import ArgumentParser
import Foundation
import PodNet

/// `podlab patch TYPE NAME -p PATCH [--type strategic|merge|json]` (or `--patch-file FILE`).
public struct Patch: PodlabCommand {
    public static let configuration = CommandConfiguration(
        commandName: "patch",
        abstract: "Update fields of a resource using strategic merge patch, a JSON merge patch, or a JSON patch.",
        discussion: """
            Examples:
              podlab patch pod web -p '{"metadata":{"labels":{"tier":"frontend"}}}'
              podlab patch deployment/web --type merge -p '{"spec":{"replicas":3}}'
              podlab patch pod web --type json -p '[{"op":"replace","path":"/spec/containers/0/image","value":"httpd"}]'
            """)

    @OptionGroup public var scope: ScopeOptions

    @Argument(help: "TYPE NAME or TYPE/NAME.")
    public var resources: [String] = []

    @Option(name: [.customShort("p"), .customLong("patch")], help: "The patch, as JSON or YAML.")
    public var patch: String?

    @Option(name: .customLong("patch-file"), help: "A file holding the patch.")
    public var patchFile: String?

    @Option(name: .customLong("type"), help: "strategic (default), merge or json.")
    public var type = "strategic"

    public init() {}

    /// kubectl's names of the patch types.
    static let types: [String: PatchType] = ["json": .json, "merge": .merge, "strategic": .strategicMerge]

    public func execute(_ context: CommandContext) async throws -> Int32 {
        guard let patchType = Self.types[type.lowercased()] else {
            throw CLIError("--type must be one of [json merge strategic], not \"\(type)\"")
        }
        if patch != nil, patchFile != nil { throw CLIError("cannot specify --patch and --patch-file together") }
        let text: String
        if let patch {
            text = patch
        } else if let patchFile {
            guard let contents = FileManager.default.contents(atPath: patchFile) else {
                throw CLIError("unable to read patch file: open \(patchFile): no such file or directory")
            }
            text = String(decoding: contents, as: UTF8.self)
        } else {
            throw CLIError("must specify --patch or --patch-file containing the contents of the patch")
        }
        guard !text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
            throw CLIError("must specify --patch or --patch-file containing the contents of the patch")
        }
        // kubectl reads the patch as YAML (JSON is YAML) and sends it as JSON.
        let body: JSONValue
        do { body = try YAMLReader.value(from: text) } catch { throw CLIError("unable to parse \"\(text)\": \(error)") }
        let (targets, missing) = try await ObjectTargets.resolve(resources, selector: nil, all: false, namespace: scope.resolvedNamespace,
                                                                client: scope.client(context), context: context)
        if targets.isEmpty, missing == 0 { throw CLIError("one or more resources must be specified as <resource> <name> or <resource>/<name>") }
        var failed = missing > 0
        for target in targets {
            do {
                let patched = try await scope.client(context).patch(target.path, body, type: patchType)
                // kubectl compares the object before and after: a patch that changed nothing says so.
                context.stdout.line("\(target.displayName) patched" + (patched == target.object ? " (no change)" : ""))
            } catch let error as APIError {
                context.stderr.line(error.description)
                failed = true
            }
        }
        return failed ? 1 : 0
    }
}
