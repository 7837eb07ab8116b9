import ArgumentParser

public struct Describe: PodlabCommand {
    public init() {}
    public func execute(_ context: CommandContext) async throws -> Int32 { 0 }
}
