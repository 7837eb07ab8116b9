#if canImport(Glibc)
import Glibc
#endif
import ArgumentParser
import Foundation
import Netns
import PodNet

/// `podlab edit pod NAME`: opens the pod's YAML in `$KUBE_EDITOR`, `$EDITOR` or `vi`, and
/// saves the changes, with kubectl's loop: an invalid change reopens the editor with the
/// reasons on top; leaving it unchanged then cancels and keeps a copy of the changes.
public struct Edit: PodlabCommand {
    public static let configuration = CommandConfiguration(
        commandName: "edit",
        abstract: "Edit a pod in your editor ($KUBE_EDITOR, $EDITOR, or vi).")

    @OptionGroup public var scope: ScopeOptions

    @Argument(help: "pod NAME, or pod/NAME")
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
        guard parsed.kind == .pods else { throw CLIError("podlab edits pods only") }
        let name = parsed.names[0]
        let namespace = scope.resolvedNamespace
        let client = scope.client(context)
        let path = APIPath.pod(namespace, name)
        let live = try await client.get(Pod.self, path)
        let original = live.yamlText

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
                let pod = try Pod(json: value)
                if pod.metadata.name != name || (!pod.metadata.namespace.isEmpty && pod.metadata.namespace != namespace) {
                    reasons = ["the name and namespace of the pod cannot be changed"]
                } else {
                    do {
                        _ = try await client.send(.PUT, path, json: Data(pod.jsonText.utf8), as: Pod.self)
                        try? FileManager.default.removeItem(atPath: file)
                        context.stdout.line("pod/\(name) edited")
                        return 0
                    } catch let APIError.status(status) where status.reason == .invalid {
                        context.stderr.line("error: pods \"\(name)\" is invalid")
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
                context.stderr.line("error: pods \"\(name)\" is invalid")
                reasons = ["\(error)"]
            }
            previousEdit = stripped
            content = Self.header + "# pods \"\(name)\" was not valid:\n"
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
