import ArgumentParser
import Foundation
import PodNet

/// The sources `create configmap` and `create secret generic` share.
public struct ConfigDataOptions: ParsableArguments {
    @Option(name: .customLong("from-literal"), help: "A key and literal value (key=value); repeatable.")
    public var literals: [String] = []

    @Option(name: .customLong("from-file"), help: "A file ([key=]path; the key defaults to the file's name) or a directory (each regular file in it); repeatable.")
    public var files: [String] = []

    @Option(name: .customLong("from-env-file"), help: "A file of KEY=value lines; repeatable.")
    public var envFiles: [String] = []

    public init() {}

    /// The data from every source, files read here; kubectl's messages for bad sources.
    func sources(kind: String, name: String, context: CommandContext) throws -> ConfigDataSources {
        var sources = ConfigDataSources(kind: kind, name: name)
        do {
            for file in files {
                let (key, path) = try ConfigDataSources.fileSource(file)
                var isDirectory: ObjCBool = false
                guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
                    throw CLIError("error reading \(path): no such file or directory")
                }
                if isDirectory.boolValue {
                    guard key == nil else { throw CLIError("cannot give a key name for a directory path") }
                    for entry in try FileManager.default.contentsOfDirectory(atPath: path).sorted() {
                        var entryIsDirectory: ObjCBool = false
                        let entryPath = "\(path)/\(entry)"
                        guard FileManager.default.fileExists(atPath: entryPath, isDirectory: &entryIsDirectory), !entryIsDirectory.boolValue,
                              let data = FileManager.default.contents(atPath: entryPath) else { continue }
                        try sources.add(key: entry, value: Array(data))
                    }
                    continue
                }
                guard let data = FileManager.default.contents(atPath: path) else { throw CLIError("error reading \(path): permission denied") }
                try sources.add(key: key ?? ConfigDataSources.baseName(path), value: Array(data))
            }
            for literal in literals { try sources.addLiteral(literal) }
            for path in envFiles {
                guard let data = FileManager.default.contents(atPath: path) else { throw CLIError("error reading \(path): no such file or directory") }
                try sources.addEnvFile(Array(data), path: path, environment: context.environment)
            }
        } catch let error as ConfigDataSources.SourceError {
            throw CLIError(error.description)
        }
        return sources
    }
}

/// `podlab create configmap NAME [--from-literal=k=v] [--from-file=[key=]path] [--from-env-file=path]`.
public struct CreateConfigMap: PodlabCommand {
    public static let configuration = CommandConfiguration(
        commandName: "configmap",
        abstract: "Create a config map from literal values, files or env files.",
        aliases: ["cm"])

    @OptionGroup public var scope: ScopeOptions

    @Argument(help: "The config map's name.")
    public var name: String

    @OptionGroup public var data: ConfigDataOptions

    @Option(name: .customLong("dry-run"), help: "none, client or server.")
    public var dryRun: String = "none"

    @Option(name: [.customShort("o"), .customLong("output")], help: "yaml, json or name.")
    public var output: String?

    public init() {}

    public func execute(_ context: CommandContext) async throws -> Int32 {
        try DryRunFlag.validate(dryRun)
        let format = try OutputFormat.parse(output, allowed: [.json, .name, .yaml])
        let map = try data.sources(kind: ConfigMap.kind, name: name, context: context).configMap(namespace: scope.resolvedNamespace)
        try await DryRunFlag.create(map, in: map.metadata.namespace, dryRun: dryRun, format: format, client: scope.client(context), context: context)
        return 0
    }
}

/// `podlab create secret generic …`.
public struct CreateSecret: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "secret",
        abstract: "Create a secret.",
        subcommands: [CreateSecretGeneric.self])

    public init() {}
}

/// `podlab create secret generic NAME [--type T] [--from-literal=k=v] [--from-file=[key=]path] [--from-env-file=path]`.
public struct CreateSecretGeneric: PodlabCommand {
    public static let configuration = CommandConfiguration(
        commandName: "generic",
        abstract: "Create a secret from literal values, files or env files.")

    @OptionGroup public var scope: ScopeOptions

    @Argument(help: "The secret's name.")
    public var name: String

    @OptionGroup public var data: ConfigDataOptions

    @Option(help: "The secret's type (default Opaque).")
    public var type: String = ""

    @Option(name: .customLong("dry-run"), help: "none, client or server.")
    public var dryRun: String = "none"

    @Option(name: [.customShort("o"), .customLong("output")], help: "yaml, json or name.")
    public var output: String?

    public init() {}

    public func execute(_ context: CommandContext) async throws -> Int32 {
        try DryRunFlag.validate(dryRun)
        let format = try OutputFormat.parse(output, allowed: [.json, .name, .yaml])
        let secret = try data.sources(kind: Secret.kind, name: name, context: context).secret(namespace: scope.resolvedNamespace, type: type)
        try await DryRunFlag.create(secret, in: secret.metadata.namespace, dryRun: dryRun, format: format, client: scope.client(context), context: context)
        return 0
    }
}
