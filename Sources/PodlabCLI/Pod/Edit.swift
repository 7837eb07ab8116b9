#if canImport(Glibc)
import Glibc
#endif
import ArgumentParser
import Foundation
import Netns
import PodNet

/// `podlab edit pod|deployment|replicaset|service NAME`: opens the object's YAML in
/// `$KUBE_EDITOR`, `$EDITOR` or `vi`, and saves the changes, with kubectl's loop: an invalid change reopens the editor with the
/// reasons on top; leaving it unchanged then cancels and keeps a copy of the changes.
public struct Edit: PodlabCommand {
    public static let configuration = CommandConfiguration(
        commandName: "edit",
        abstract: "Edit a pod, deployment, replica set or service in your editor ($KUBE_EDITOR, $EDITOR, or vi).")

    @OptionGroup public var scope: ScopeOptions

    @Argument(help: "pod NAME, or pod/NAME (deployment, replicaset and service too)")
    public var resources: [String] = []

    public init() {}

    static let header = """
        # Please edit the object below. Lines beginning with a '#' will be ignored,
        # and an empty file will abort the edit. If an error occurs while saving this file will be
        # reopened with the relevant failures.
        #

        """

    public func execute(_ context: CommandContext) async throws -> Int32 {
        guard let parsed = try ResourceName.parse(resources), parsed.names.count == 1 else {
            throw CLIError("you must specify one pod to edit: podlab edit pod NAME")
        }
        switch parsed.kind {
        case .pods: return try await edit(Pod.self, parsed.names[0], context: context)
        case .deployments: return try await edit(Deployment.self, parsed.names[0], context: context)
        case .replicasets: return try await edit(ReplicaSet.self, parsed.names[0], context: context)
        case .services: return try await edit(Service.self, parsed.names[0], context: context)
        case .networkpolicies: return try await edit(NetworkPolicy.self, parsed.names[0], context: context)
        case .configmaps: return try await edit(ConfigMap.self, parsed.names[0], context: context)
        case .secrets: return try await edit(Secret.self, parsed.names[0], context: context)
        case .meshpolicies: return try await edit(MeshPolicy.self, parsed.names[0], context: context)
        case .routes: return try await edit(MeshRoute.self, parsed.names[0], context: context)
        default: throw CLIError("podlab edits pods, deployments, replica sets, services, network policies, mesh policies, routes, config maps and secrets only")
        }
    }

    private func edit<T: KubernetesResource>(_ type: T.Type, _ name: String, context: CommandContext) async throws -> Int32 {
        let namespace = scope.resolvedNamespace
        let client = scope.client(context)
        let path = T.path(namespace: namespace, name: name)
        let resource = T.qualifiedResource
        let singular = ResourceKind(argument: T.resource)?.singular ?? T.resource
        let live = try await client.get(T.self, path)
        // managedFields are not shown for editing, as kubectl (≥ 1.21) does.
        let original = Get.hidingManagedFields(live.json).yamlText()

        let file = try Self.temporaryFile()
        var content = Self.header + original
        var previousEdit: String?   // what the user saved last time, when that failed
        while true {
            try content.write(toFile: file, atomically: true, encoding: .utf8)
            try await Self.runEditor(on: file, context: context)
            guard let data = FileManager.default.contents(atPath: file) else {
                throw CLIError("cannot read the edited file \(file)")
            }
            let edited = String(decoding: data, as: UTF8.self)
            let stripped = Self.stripComments(edited)
            if let previousEdit, stripped == previousEdit {
                context.stderr.line("A copy of your changes has been stored to \"\(file)\"")
                throw CLIError("Edit cancelled, no valid changes were saved.")
            }
            if previousEdit == nil, stripped == Self.stripComments(original) {
                try? FileManager.default.removeItem(atPath: file)
                context.stdout.line("Edit cancelled, no changes made.")
                return 0
            }
            if stripped.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
                try? FileManager.default.removeItem(atPath: file)
                context.stdout.line("Edit cancelled, saved file was empty.")
                return 0
            }

            var reasons: [String] = []
            do {
                let value = try YAMLReader.value(from: edited)
                let object = try T(json: value)
                if object.metadata.name != name || (!object.metadata.namespace.isEmpty && object.metadata.namespace != namespace) {
                    reasons = ["the name and namespace of the \(T.kind.lowercased()) cannot be changed"]
                } else {
                    do {
                        _ = try await client.send(.PUT, path, json: Data(object.jsonText.utf8), as: T.self)
                        try? FileManager.default.removeItem(atPath: file)
                        context.stdout.line("\(singular)/\(name) edited")
                        return 0
                    } catch let APIError.status(status) where status.reason == .invalid {
                        context.stderr.line("error: \(resource) \"\(name)\" is invalid")
                        reasons = status.details?.causes.map { $0.field.isEmpty ? $0.message : "\($0.field): \($0.message)" } ?? []
                        if reasons.isEmpty { reasons = [status.message] }
                    } catch let error as APIError {
                        context.stderr.line(error.description)
                        context.stderr.line("A copy of your changes has been stored to \"\(file)\"")
                        return 1
                    }
                }
            } catch let error as DocumentSyntaxError {
                context.stderr.line("error: the edited file had a syntax error: \(error)")
                reasons = ["The edited file had a syntax error: \(error)"]
            } catch let error as ObjectDecodingError {
                context.stderr.line("error: \(resource) \"\(name)\" is invalid")
                reasons = ["\(error)"]
            }
            previousEdit = stripped
            content = Self.header + "# \(resource) \"\(name)\" was not valid:\n"
                + reasons.map { Self.comment("* " + $0) }.joined() + "#\n" + stripped
        }
    }

    /// `text` as comment lines (a reason may span several lines).
    static func comment(_ text: String) -> String {
        text.split(separator: "\n", omittingEmptySubsequences: false).map { "# \($0)\n" }.joined()
    }

    /// The text without `#` comment lines, as kubectl compares edits.
    static func stripComments(_ text: String) -> String {
        text.split(separator: "\n", omittingEmptySubsequences: false)
            .filter { !$0.trimmingCharacters(in: .whitespaces).hasPrefix("#") }
            .joined(separator: "\n")
    }

    static func temporaryFile() throws -> String {
        var template = Array("/tmp/podlab-edit-XXXXXX.yaml".utf8CString)
        let fd = mkstemps(&template, 5)
        guard fd >= 0 else { throw CLIError("cannot create a temporary file: \(String(cString: strerror(errno)))") }
        close(fd)
        return String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Runs the editor on `file` with this terminal, like kubectl: a plain command name runs
    /// directly, anything with spaces through `sh -c`.
    static func runEditor(on file: String, context: CommandContext) async throws {
        let editor = [context.environment["KUBE_EDITOR"], context.environment["EDITOR"]]
            .compactMap { $0?.trimmingCharacters(in: .whitespaces) }.first { !$0.isEmpty } ?? "vi"
        let request: SpawnRequest
        if editor.contains(" ") || editor.contains("\t") {
            request = SpawnRequest(executable: "/bin/sh", arguments: ["-c", "\(editor) \"\(file)\""], argv0: "sh",
                                   environment: context.environment, stdin: .inherit, stdout: .inherit, stderr: .inherit,
                                   newSession: false)
        } else {
            request = SpawnRequest(executable: editor, arguments: [file], environment: context.environment,
                                   stdin: .inherit, stdout: .inherit, stderr: .inherit, newSession: false)
        }
        let child: ChildProcess
        do {
            child = try Spawner.spawn(request)
        } catch {
            throw CLIError("unable to launch the editor \"\(editor)\": \(error)")
        }
        let status = try await child.exitStatus()
        guard status == .exited(0) else {
            throw CLIError("there was a problem with the editor \"\(editor)\": \(status)")
        }
    }
}
