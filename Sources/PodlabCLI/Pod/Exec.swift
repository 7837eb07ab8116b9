#if canImport(Glibc)
import Glibc
#endif
import ArgumentParser
import Foundation
import Netns
import PodNet

/// `podlab exec POD [-c C] [-i] [-t] -- CMD ARGS…`: runs a command inside a pod's namespaces.
///
/// The agent tells where the pod lives (its network, UTS, IPC and mount namespaces, or the
/// container's own mount namespace when it has volumes) and each container's environment; the command then starts right here, inside those namespaces,
/// with this terminal as its stdio. A command that is one of the image's built-in tools
/// (`curl`, `wget`, `nc`, `sh`, `hostname`, …) runs as `podlab-tools TOOL`, so it works even
/// where the host has no such program.
public struct Exec: PodlabCommand {
    public static let configuration = CommandConfiguration(
        commandName: "exec",
        abstract: "Execute a command in a container.",
        discussion: "Example: podlab exec nginx -- curl -s http://localhost")

    @OptionGroup public var scope: ScopeOptions

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

    @Argument(parsing: .postTerminator, help: "The command and its arguments, after --.")
    public var command: [String] = []

    public init() {}

    public func execute(_ context: CommandContext) async throws -> Int32 {
        guard !command.isEmpty else { throw CLIError("you must specify at least one command for the container") }
        let name = try ResourceName.pod(pod)
        let namespace = scope.resolvedNamespace
        let client = scope.client(context)
        let podObject = try await client.get(Pod.self, APIPath.pod(namespace, name))
        if let phase = podObject.status.phase, phase.isTerminal {
            throw CLIError("cannot exec into a container in a completed pod; current phase is \(phase.rawValue)")
        }
        let sandbox = try await client.get(PodSandbox.self, PodSandbox.path(namespace: namespace, pod: name))
        let names = sandbox.containers.map(\.name)
        let chosen: PodSandbox.Container
        if let container {
            guard let found = sandbox.containers.first(where: { $0.name == container }) else {
                throw CLIError("unable to upgrade connection: container \(container) not found in pod \(name)")
            }
            chosen = found
        } else {
            guard let first = sandbox.containers.first else { throw CLIError("pod \(name) has no containers") }
            if names.count > 1, !quiet {
                context.stderr.line("Defaulted container \"\(first.name)\" out of: \(names.joined(separator: ", "))")
            }
            chosen = first
        }
        let image = podObject.spec.containers.first(where: { $0.name == chosen.name })?.image
        // A container with volumes is joined in its own mount namespace, which only a running
        // process holds (kubectl's answer for a container that is not running).
        if sandbox.mnt != nil, chosen.mnt == nil {
            throw CLIError("unable to upgrade connection: container not found (\"\(chosen.name)\")")
        }

        var environment = chosen.env ?? [:]
        let resolvedImage = image.flatMap { try? ImageCatalog.resolve($0) }
        if environment["PATH"] == nil {
            environment["PATH"] = resolvedImage?.image.environment["PATH"] ?? Spawner.defaultPath
        }
        if environment["HOSTNAME"] == nil, let hostname = sandbox.hostname { environment["HOSTNAME"] = hostname }
        if tty, environment["TERM"] == nil { environment["TERM"] = context.environment["TERM"] ?? "xterm" }

        let toolsPath = (try LabFiles.executableDirectory()) + "/podlab-tools"
        let program = try Self.program(for: command, image: resolvedImage?.image, environment: environment, toolsPath: toolsPath) {
            try? Spawner.resolve($0, environment: environment)
        }
        var workingDirectory = chosen.workingDir.flatMap { $0.isEmpty ? nil : $0 }
        // Checked from inside the container's mount namespace (a volume may be the directory).
        if let dir = workingDirectory, !FileManager.default.fileExists(atPath: Self.pathSeen(dir, from: chosen.mnt)) { workingDirectory = nil }

        // Like a shell running a foreground job: the terminal's ^C and ^\ go to the command
        // (same process group), not to us. The child starts with default signal handlers.
        signal(SIGINT, SIG_IGN)
        signal(SIGQUIT, SIG_IGN)
        defer {
            signal(SIGINT, SIG_DFL)
            signal(SIGQUIT, SIG_DFL)
        }
        let child = try Spawner.spawn(SpawnRequest(
            executable: program.executable, arguments: program.arguments, argv0: program.argv0,
            environment: environment, workingDirectory: workingDirectory,
            stdin: stdin ? .inherit : .null, stdout: .inherit, stderr: .inherit,
            networkNamespace: sandbox.netns, utsNamespace: sandbox.uts, ipcNamespace: sandbox.ipc,
            mountNamespace: chosen.mnt, newSession: false))
        let status = try await child.exitStatus()
        if status.shellCode != 0 {
            context.stderr.line("command terminated with exit code \(status.shellCode)")
        }
        return status.shellCode
    }

    /// `path` as a process in the mount namespace `mnt` sees it: through the root of a process
    /// in it (`/proc/PID/root`) for a container's own, as is otherwise (a pod's namespace has
    /// the host's file system, with only the pod's files bound over it).
    static func pathSeen(_ path: String, from mnt: String?) -> String {
        guard let mnt, mnt.hasPrefix("/proc/"), mnt.hasSuffix("/ns/mnt") else { return path }
        return String(mnt.dropLast("/ns/mnt".count)) + "/root" + path
    }

    /// What to start for `command`: the executable, argv[0] and the arguments.
    public struct Program: Equatable, Sendable {
        public var executable: String
        public var argv0: String?
        public var arguments: [String]
    }

    /// Decides how `command` runs: a built-in tool of the container's image (or any
    /// `podlab-tools` applet the host lacks) runs as `podlab-tools TOOL ARGS…`; anything else
    /// is a host program found in the container's PATH.
    public static func program(for command: [String], image: CatalogImage?, environment: [String: String],
                               toolsPath: String, hostLookup: (String) -> String?) throws -> Program {
        let first = command[0]
        let rest = Array(command.dropFirst())
        func tool(_ name: String) -> Program {
            Program(executable: toolsPath, argv0: "podlab-tools", arguments: [name] + rest)
        }
        if let image, case let .builtin(name)? = try? ImageCatalog.command(for: image, command: command, args: nil).executable {
            return tool(name)
        }
        if let path = hostLookup(first) {
            return Program(executable: path, argv0: first, arguments: rest)
        }
        let base = first.split(separator: "/").last.map(String.init) ?? first
        if ImageCatalog.builtinTools.contains(base) { return tool(base) }
        throw CLIError("exec: \"\(first)\": executable file not found in $PATH (\(environment["PATH"] ?? Spawner.defaultPath))",
                       exitCode: 127)
    }
}
