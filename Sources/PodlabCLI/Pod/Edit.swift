import ArgumentParser

public struct Edit: PodlabCommand {
    public init() {}
    public func execute(_ context: CommandContext) async throws -> Int32 { 0 }
}
