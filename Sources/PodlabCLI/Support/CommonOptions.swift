import ArgumentParser
import PodNet

/// `--lab` and `-n/--namespace`, accepted by every pod verb.
public struct ScopeOptions: ParsableArguments {
    @Option(help: "The lab to talk to (default: $PODLAB_LAB or \"podlab\").")
    public var lab: String?

    @Option(name: .shortAndLong, help: "The namespace (default: \"default\").")
    public var namespace: String?

    public init() {}

    /// The namespace to use.
    public var resolvedNamespace: String { namespace.flatMap { $0.isEmpty ? nil : $0 } ?? "default" }

    /// The API client of the lab.
    public func client(_ context: CommandContext) -> APIClient { context.client(lab) }
}

/// `-o/--output` values that the pod verbs print.
public enum OutputFormat: String, CaseIterable, Sendable {
    case wide, yaml, json, name

    /// Parses kubectl's `-o` value; anything else is kubectl's error.
    public static func parse(_ value: String?, allowed: [OutputFormat] = OutputFormat.allCases) throws -> OutputFormat? {
        guard let value, !value.isEmpty else { return nil }
        guard let format = OutputFormat(rawValue: value), allowed.contains(format) else {
            throw CLIError("unable to match a printer suitable for the output format \"\(value)\", allowed formats are: "
                + allowed.map(\.rawValue).sorted().joined(separator: ","))
        }
        return format
    }
}

/// Resource paths of the API.
enum APIPath {
    static func pods(_ namespace: String?) -> String {
        namespace.map { "/api/v1/namespaces/\($0)/pods" } ?? "/api/v1/pods"
    }

    static func pod(_ namespace: String, _ name: String) -> String { "/api/v1/namespaces/\(namespace)/pods/\(name)" }

    static func log(_ namespace: String, _ name: String) -> String { pod(namespace, name) + "/log" }

    static let nodes = "/api/v1/nodes"

    static func node(_ name: String) -> String { "/api/v1/nodes/\(name)" }

    static func events(_ namespace: String?) -> String {
        namespace.map { "/api/v1/namespaces/\($0)/events" } ?? "/api/v1/events"
    }
}

/// What `attach` and `exec` share: the pod, the container, and kubectl's stream flags.
public struct ContainerSessionOptions: ParsableArguments {
    @Argument(help: "The pod (NAME or pod/NAME).")
    public var pod: String

    @Option(name: .shortAndLong, help: "The container (default: the pod's first container).")
    public var container: String?

    @Flag(name: [.customShort("i"), .customLong("stdin")], help: "Pass stdin to the container.")
    public var stdin = false

    @Flag(name: [.customShort("t"), .customLong("tty")], help: "Stdin is a TTY.")
    public var tty = false

    @Flag(name: .shortAndLong, help: "Only print output from the remote session.")
    public var quiet = false

    public init() {}
}

/// `-o jsonpath=TEMPLATE` and `-o custom-columns=SPEC`: the outputs drawn from a template.
enum TemplatePrinter {
    case jsonPath(JSONPathTemplate, source: String)
    case customColumns(CustomColumns)

    /// The printer `-o` names, or nil when it names another format.
    init?(output: String?) throws {
        guard let output else { return nil }
        if output.hasPrefix("jsonpath=") {
            let source = String(output.dropFirst("jsonpath=".count))
            do { self = .jsonPath(try JSONPathTemplate(source), source: source) } catch {
                throw CLIError("error parsing jsonpath \(source), \(error.message)")
            }
        } else if output.hasPrefix("custom-columns=") {
            do { self = .customColumns(try CustomColumns(String(output.dropFirst("custom-columns=".count)))) } catch {
                throw CLIError(error.message)
            }
        } else if output == "jsonpath" || output == "custom-columns" {
            throw CLIError(output == "jsonpath" ? "template format specified but no template given"
                : "custom-columns format specified but no custom columns given")
        } else {
            return nil
        }
    }
}
