import ArgumentParser

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
            CommandGroup(name: "Lab", subcommands: [Up.self, Down.self, Status.self, NodeCommand.self, Agent.self]),
            CommandGroup(name: "Pod", subcommands: [
                Run.self, Apply.self, Get.self, Describe.self, Logs.self, Exec.self, Edit.self, Delete.self,
            ]),
            CommandGroup(name: "Inspect", subcommands: [IP.self, Whois.self, IPAM.self]),
            CommandGroup(name: "Connectivity", subcommands: [ConnectivityTest.self]),
        ])

    public init() {}

    /// The executable's entry point: kubectl's argument spellings first, then ArgumentParser.
    public static func entry() async {
        await main(KubectlArguments.normalize(Array(CommandLine.arguments.dropFirst())))
    }

    /// Parses `arguments` as the command line would and runs the command against `context`;
    /// returns the exit code and prints errors (parse errors too) to the context's stderr.
    public static func run(_ arguments: [String], in context: CommandContext) async -> Int32 {
        let command: any ParsableCommand
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
