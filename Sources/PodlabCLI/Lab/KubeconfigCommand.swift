import ArgumentParser
import Foundation
import PodNet
import PodlabAgent

/// `podlab kubeconfig [--path | --merge]`: a kubeconfig for kubectl and client libraries to
/// reach the lab's HTTPS API.
public struct KubeconfigCommand: PodlabCommand {
    public static let configuration = CommandConfiguration(
        commandName: "kubeconfig",
        abstract: "Print a kubeconfig for the lab's HTTPS API (cluster, user and context named after the lab).",
        discussion: """
            Examples:
              podlab kubeconfig > lab.yaml && kubectl --kubeconfig lab.yaml get pods
              export KUBECONFIG=$(podlab kubeconfig --path)
              podlab kubeconfig --merge     # into $KUBECONFIG's first file, else ~/.kube/config
            """)

    @Option(help: "The lab's name (default: $PODLAB_LAB or \"podlab\").")
    public var lab: String?

    @Flag(help: "Write the kubeconfig under the lab's state directory and print its path.")
    public var path = false

    @Flag(help: "Add the lab's cluster, user and context to $KUBECONFIG's first file (else ~/.kube/config) and make it current.")
    public var merge = false

    public init() {}

    public func execute(_ context: CommandContext) async throws -> Int32 {
        if path && merge { throw CLIError("--path and --merge cannot be used together") }
        let paths = context.labPaths(lab)
        guard let credentials = ClusterCredentials.load(paths) else {
            throw CLIError("lab \"\(paths.lab)\" has no HTTPS API credentials in \(ClusterCredentials.Files(paths).directory): "
                + "is it up? (start it with \"podlab up\(LabFiles.labFlag(paths.lab))\")")
        }
        let config = Kubeconfig(name: paths.lab, server: credentials.serverURL, certificateAuthorityPEM: credentials.caCertificatePEM,
                                       token: credentials.token)
        if path {
            let file = ClusterCredentials.Files(paths).directory + "/kubeconfig"
            try Self.write(config.yaml, to: file)
            context.stdout.line(file)
        } else if merge {
            let file = Self.mergeTarget(context.environment)
            let existing = (try? String(contentsOfFile: file, encoding: .utf8)) ?? ""
            let text: String
            do { text = try config.merged(into: existing) } catch { throw CLIError("\(file): \(error)") }
            try FileManager.default.createDirectory(atPath: (file as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try Self.write(text, to: file)
            context.stdout.line("Merged cluster, user and context \"\(paths.lab)\" into \(file); current context is now \"\(paths.lab)\".")
        } else {
            context.stdout.write(config.yaml)
        }
        return 0
    }

    /// The file kubectl writes to: the first of `$KUBECONFIG`'s list, else `~/.kube/config`.
    public static func mergeTarget(_ environment: [String: String]) -> String {
        if let list = environment["KUBECONFIG"], let first = list.split(separator: ":").first(where: { !$0.isEmpty }) {
            return String(first)
        }
        let home = environment["HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? NSHomeDirectory()
        return home + "/.kube/config"
    }

    /// Writes `text` readable by its owner only: it holds the lab's token.
    static func write(_ text: String, to file: String) throws {
        let temporary = file + ".podlab-tmp"
        guard FileManager.default.createFile(atPath: temporary, contents: Data(text.utf8), attributes: [.posixPermissions: 0o600]) else {
            throw CLIError("cannot write \(temporary)")
        }
        if rename(temporary, file) != 0 {
            unlink(temporary)
            throw CLIError("cannot write \(file): \(String(cString: strerror(errno)))")
        }
    }
}
