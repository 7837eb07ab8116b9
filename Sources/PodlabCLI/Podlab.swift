import ArgumentParser
import PodNet

/// The `podlab` command: kubectl's verbs for pods, plus the lab verbs.
public struct Podlab: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "podlab",
        abstract: "A pod-networking lab: pods and nodes as network namespaces, driven like kubectl.",
        discussion: """
            The tutorial's kubectl commands work with podlab in place of kubectl. Every command \
            talks to one lab's agent: --lab NAME (or $PODLAB_LAB, default "podlab"); state lives \
            under $PODLAB_STATE_ROOT (default /run/podlab).
            """,
        version: "0.1.0",
        groupedSubcommands: [
            CommandGroup(name: "Lab", subcommands: [Up.self, Down.self, Status.self, KubeconfigCommand.self, NodeCommand.self, Agent.self]),
            CommandGroup(name: "Pod", subcommands: [
                Run.self, Apply.self, Get.self, Describe.self, Logs.self, Attach.self, Exec.self, Copy.self, PortForward.self, Edit.self, Delete.self,
                Label.self, Annotate.self, Patch.self, Wait.self,
            ]),
            CommandGroup(name: "Service", subcommands: [Expose.self, Create.self]),
            CommandGroup(name: "Deployment", subcommands: [Scale.self, Rollout.self, SetCommand.self]),
            CommandGroup(name: "Image", subcommands: [ImageCommands.self]),
            CommandGroup(name: "Discovery", subcommands: [Version.self, APIResources.self, ExplainCommand.self]),
            CommandGroup(name: "Inspect", subcommands: [IP.self, Whois.self, IPAM.self, Trace.self]),
            CommandGroup(name: "Mesh", subcommands: [MeshCommand.self]),
            CommandGroup(name: "Connectivity", subcommands: [ConnectivityTest.self]),
        ])

    public init() {}

    /// The executable's entry point: kubectl's argument spellings first, then ArgumentParser.
    public static func entry() async {
        let arguments = KubectlArguments.normalize(Array(CommandLine.arguments.dropFirst()))
        let context = CommandContext.process()
        if let message = unknownCommandMessage(arguments) ?? labNameMessage(arguments, environment: context.environment) {
            context.stderr.line(message)
            Self.exit(withError: ExitCode(1))
        }
        await main(arguments)
    }

    /// A lab name that cannot be one (`--lab Bad_Name`, or `$PODLAB_LAB`) is blamed on the name,
    /// before any command looks for a lab of that name.
    static func labNameMessage(_ arguments: [String], environment: [String: String]) -> String? {
        var named: (value: String, source: String)?
        for (index, argument) in arguments.enumerated() {
            if argument == "--" { break }
            if argument == "--lab", index + 1 < arguments.count { named = (arguments[index + 1], "--lab") }
            if argument.hasPrefix("--lab=") { named = (String(argument.dropFirst("--lab=".count)), "--lab") }
        }
        if named == nil, let value = environment["PODLAB_LAB"], !value.isEmpty { named = (value, "$PODLAB_LAB") }
        guard let named, !TopologySpec.isValidLabName(named.value) else { return nil }
        return "error: invalid lab name \"\(named.value)\" (\(named.source)): use 1-\(TopologySpec.maximumNameLength) characters of a-z, "
            + "0-9 and '-', starting and ending with a letter or digit"
    }

    /// kubectl's answer to a verb it does not have (`podlab top`): exit status 1.
    static func unknownCommandMessage(_ arguments: [String]) -> String? {
        guard let first = arguments.first, !first.hasPrefix("-"), first != "help" else { return nil }
        let verbs = configuration.groupedSubcommands.flatMap(\.subcommands).flatMap { command in
            [command.configuration.commandName ?? command._commandName] + command.configuration.aliases
        }
        guard !verbs.contains(first) else { return nil }
        return "error: unknown command \"\(first)\" for \"podlab\"\nRun 'podlab --help' for usage."
    }

    /// Parses `arguments` as the command line would and runs the command against `context`;
    /// returns the exit code and prints errors (parse errors too) to the context's stderr.
    public static func run(_ arguments: [String], in context: CommandContext) async -> Int32 {
        let command: any ParsableCommand
        if let message = unknownCommandMessage(KubectlArguments.normalize(arguments))
            ?? labNameMessage(KubectlArguments.normalize(arguments), environment: context.environment) {
            context.stderr.line(message)
            return 1
        }
        do {
            command = try parseAsRoot(KubectlArguments.normalize(arguments))
        } catch {
            let code = exitCode(for: error).rawValue
            let message = fullMessage(for: error)
            if code == 0 { context.stdout.line(message) } else { context.stderr.line(message) }
            return code
        }
        guard let podlabCommand = command as? any PodlabCommand else {
            context.stdout.line(helpMessage(for: type(of: command)))
            return 0
        }
        return await execute(podlabCommand, in: context)
    }

    private static func execute<C: PodlabCommand>(_ command: C, in context: CommandContext) async -> Int32 {
        await C.execute(command, in: context)
    }
}
