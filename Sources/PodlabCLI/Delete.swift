import ArgumentParser

public struct Delete: PodlabCommand {
    public init() {}
    public func execute(_ context: CommandContext) async throws -> Int32 { 0 }
}
