#if canImport(Glibc)
import Glibc
#endif
import ArgumentParser
import Foundation
import Netns
import PodlabAgent
import PodNet

/// `podlab exec POD [-c C] [-i] [-t] -- CMD ARGS…`: runs a command inside a pod's namespaces.
///
/// The agent tells where the pod lives (its network, UTS, IPC and mount namespaces, or the
/// container's own mount namespace when it has volumes) and each container's environment and
/// user; the command then starts right here, inside those namespaces, as that user, with this
/// terminal as its stdio. The command is found as the container's own would be
/// (`ImageCatalog.executable(for:in:)`): one of the image's programs (`curl`, `nginx`) runs as
/// `podlab-tools TOOL`, a BusyBox applet (`sh`, `wget`, `ping`) as BusyBox, anything else is
/// a host program.
public struct Exec: PodlabCommand {
    public static let configuration = CommandConfiguration(
        commandName: "exec",
        abstract: "Execute a command in a container.",
        discussion: "Example: podlab exec nginx -- curl -s http://localhost")

    @OptionGroup public var scope: ScopeOptions

    /// The pod, the container and the streams (`-i`, `-t`, `-q`), as `attach` and `exec` share them.
    @OptionGroup public var session: ContainerSessionOptions

    @Argument(parsing: .postTerminator, help: "The command and its arguments, after --.")
    public var command: [String] = []

    public init() {}

    public func execute(_ context: CommandContext) async throws -> Int32 {
        guard !command.isEmpty else { throw CLIError("you must specify at least one command for the container") }
        // Like a shell running a foreground job: the terminal's ^C and ^\ go to the command
        // (same process group), not to us. The child starts with default signal handlers.
        signal(SIGINT, SIG_IGN)
        signal(SIGQUIT, SIG_IGN)
        defer {
            signal(SIGINT, SIG_DFL)
            signal(SIGQUIT, SIG_DFL)
        }
        let child = try await Self.start(command, pod: session.pod, container: session.container, quiet: session.quiet, tty: session.tty,
                                         namespace: scope.resolvedNamespace, client: scope.client(context), context: context,
                                         stdin: session.stdin ? .inherit : .null, stdout: .inherit, stderr: .inherit)
        let status = try await child.exitStatus()
        if status.shellCode != 0 {
            context.stderr.line("command terminated with exit code \(status.shellCode)")
        }
        return status.shellCode
    }

    /// Starts `command` in a container of pod `pod` (kubectl's choice of container), in the same
    /// process group as this one, with the stdio given: what `exec` runs, and `cp` its `tar`.
    static func start(_ command: [String], pod: String, container: String?, quiet: Bool, tty: Bool, namespace: String, client: APIClient,
                      context: CommandContext, stdin: StandardIO, stdout: StandardIO, stderr: StandardIO) async throws -> ChildProcess {
        let spawn = try await prepare(pod: pod, container: container, quiet: quiet, tty: tty, namespace: namespace, client: client, context: context)
        return try spawn(command, stdin, stdout, stderr)
    }

    /// Starts a command in a container: what `prepare` returns, called without waiting.
    typealias ContainerSpawn = @Sendable (_ command: [String], _ stdin: StandardIO, _ stdout: StandardIO, _ stderr: StandardIO) throws -> ChildProcess

    /// Looks up the pod, the container and its sandbox once (`start`'s checks), and returns
    /// what starts commands in that container (`cp --retries` starts its tar again with it).
    static func prepare(pod: String, container: String?, quiet: Bool, tty: Bool, namespace: String, client: APIClient,
                        context: CommandContext) async throws -> ContainerSpawn {
        let name = try ResourceName.pod(pod)
        let podObject = try await client.get(Pod.self, APIPath.pod(namespace, name))
        if let phase = podObject.status.phase, phase.isTerminal {
            throw CLIError("cannot exec into a container in a completed pod; current phase is \(phase.rawValue)")
        }
        let chosenName = try Self.container(container, of: podObject, quiet: quiet, context: context)
        let sandbox = try await client.get(PodSandbox.self, PodSandbox.path(namespace: namespace, pod: name))
        guard let chosen = sandbox.containers.first(where: { $0.name == chosenName }) else {
            throw CLIError("unable to upgrade connection: container not found (\"\(chosenName)\")")
        }
        if let containerID = podObject.status[container: chosen.name]?.containerID,
           let (kind, id) = OCIContainers.runtimeContainer(ofContainerID: containerID) {
            let runtimeRoot = OCIContainers.runtimeRoot(client.paths)
            let terminal = tty ? context.environment["TERM"] ?? "xterm" : nil
            return { command, stdin, stdout, stderr in
                var request = OCIContainers.execRequest(runtime: kind, runtimeRoot: runtimeRoot, id: id, command: command, terminal: terminal)
                request.stdin = stdin
                request.stdout = stdout
                request.stderr = stderr
                request.newSession = false
                return try Spawner.spawn(request)
            }
        }
        let image = podObject.spec.container(named: chosen.name)?.image
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

        if let catalogImage = resolvedImage?.image {
            // The shell finds the image's programs where the container's does.
            let programs = ImagePrograms.existingDirectory(for: catalogImage, root: client.paths.images)
            environment["PATH"] = ImagePrograms.searchPath(environment["PATH"], programs: programs)
        }

        let toolsPath = (try LabFiles.executableDirectory()) + "/podlab-tools"
        var workingDirectory = chosen.workingDir.flatMap { $0.isEmpty ? nil : $0 }
        // Checked from inside the container's mount namespace (a volume may be the directory).
        if let dir = workingDirectory, !FileManager.default.fileExists(atPath: Self.pathSeen(dir, from: chosen.mnt)) { workingDirectory = nil }
        let catalogImage = resolvedImage?.image
        let (directory, environmentSeen) = (workingDirectory, environment)
        return { command, stdin, stdout, stderr in
            let program = try Self.program(for: command, image: catalogImage, environment: environmentSeen, toolsPath: toolsPath,
                                           busyboxPath: ContainerRuntime.busyboxExecutable) {
                try? Spawner.resolve($0, environment: environmentSeen)
            }
            return try Spawner.spawn(SpawnRequest(
                executable: program.executable, arguments: program.arguments, argv0: program.argv0,
                environment: environmentSeen, workingDirectory: directory,
                stdin: stdin, stdout: stdout, stderr: stderr,
                networkNamespace: sandbox.netns, utsNamespace: sandbox.uts, ipcNamespace: sandbox.ipc,
                mountNamespace: chosen.mnt, pidNamespace: sandbox.pid, newSession: false, credentials: chosen.credentials, cgroup: chosen.cgroup))
        }
    }

    /// The container to run in, as kubectl, the API server and the kubelet decide it: the one
    /// asked for, which the pod must have (`container X is not valid for pod Y`, from the API
    /// server), else the first (saying so when there are several); and it must be running, as
    /// the kubelet execs only in a running container (`unable to upgrade connection: container
    /// not found ("X")` for one waiting to start or exited).
    static func container(_ requested: String?, of pod: Pod, quiet: Bool, context: CommandContext) throws -> String {
        let chosen: String
        if let requested {
            guard pod.spec.container(named: requested) != nil else {
                throw APIError.status(.badRequest("container \(requested) is not valid for pod \(pod.metadata.name)"))
            }
            chosen = requested
        } else {
            guard let first = pod.spec.containers.first?.name else { throw CLIError("pod \(pod.metadata.name) has no containers") }
            if pod.spec.containers.count > 1 || !pod.spec.initContainers.isEmpty, !quiet {
                context.stderr.line("Defaulted container \"\(first)\" out of: \(pod.spec.kubectlContainerNames)")
            }
            chosen = first
        }
        guard pod.status[container: chosen]?.state.running != nil else {
            throw CLIError("unable to upgrade connection: container not found (\"\(chosen)\")")
        }
        return chosen
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

    /// Decides how `command` runs, as the container's own command would
    /// (`ImageCatalog.executable(for:in:)`; without a catalog image, a BusyBox applet or a host
    /// program): one of the image's programs runs as `podlab-tools TOOL ARGS…`, a BusyBox
    /// applet as BusyBox with argv[0] as given (BusyBox dispatches on it), anything else is a
    /// host program found in the container's PATH.
    public static func program(for command: [String], image: CatalogImage?, environment: [String: String],
                               toolsPath: String, busyboxPath: String = ImageCatalog.busyboxPath,
                               hostLookup: (String) -> String?) throws -> Program {
        let first = command[0]
        let rest = Array(command.dropFirst())
        let executable: ImageCommand.Executable
        if let image {
            executable = ImageCatalog.executable(for: first, in: image)
        } else {
            executable = ImageCatalog.busyboxApplets.contains(first) ? .busybox(applet: first) : .host(first)
        }
        switch executable {
        case let .builtin(tool):
            return Program(executable: toolsPath, argv0: "podlab-tools", arguments: [tool] + rest)
        case let .sibling(program):
            return Program(executable: (toolsPath as NSString).deletingLastPathComponent + "/" + program, argv0: first, arguments: rest)
        case let .busybox(applet):
            guard access(busyboxPath, X_OK) == 0 else {
                throw CLIError("exec: \"\(first)\": \"\(applet)\" is the host's BusyBox, and \(busyboxPath) is missing: "
                               + "install the Debian package \(ImageCatalog.busyboxPackage) (scripts/install-deps does)", exitCode: 127)
            }
            return Program(executable: busyboxPath, argv0: first, arguments: rest)
        case let .host(name):
            guard let path = hostLookup(name) else {
                throw CLIError("exec: \"\(first)\": executable file not found in $PATH (\(environment["PATH"] ?? Spawner.defaultPath))",
                               exitCode: 127)
            }
            return Program(executable: path, argv0: first, arguments: rest)
        }
    }
}
