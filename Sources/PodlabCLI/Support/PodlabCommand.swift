import ArgumentParser

/// A podlab command: parsed by ArgumentParser, run against a `CommandContext` so tests can
/// run it in-process with captured output and a fake agent.
public protocol PodlabCommand: AsyncParsableCommand {
    /// Does the work; returns the process exit code. Errors are printed by the caller.
    func execute(_ context: CommandContext) async throws -> Int32
}

extension PodlabCommand {
    public mutating func run() async throws {
        let code = await Self.execute(self, in: .process())
        if code != 0 { throw ExitCode(code) }
    }

    /// Runs the command and prints any error kubectl-style; returns the exit code.
    public static func execute(_ command: Self, in context: CommandContext) async -> Int32 {
        do {
            return try await command.execute(context)
        } catch {
            return context.report(error)
        }
    }
}
