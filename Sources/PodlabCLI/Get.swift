import ArgumentParser

public struct Get: PodlabCommand {
    public init() {}
    public func execute(_ context: CommandContext) async throws -> Int32 { 0 }
}
