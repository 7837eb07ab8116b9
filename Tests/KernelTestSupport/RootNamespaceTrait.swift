import Testing

/// A suite trait that fails the suite if the host's root network namespace (links, addresses,
/// routes, nftables ruleset) differs after the suite from before it. The suite's tests run on
/// `BlockingWorkExecutor`, so their blocking waits do not hold up the rest of the process.
public struct RootNamespaceUnchanged: SuiteTrait, TestScoping {
    public var isRecursive: Bool { false }

    public func provideScope(for test: Test, testCase: Test.Case?, performing function: @Sendable () async throws -> Void) async throws {
        guard KernelTest.isRoot else { return try await function() }
        let before = try RootNamespaceSnapshot.capture()
        try await withTaskExecutorPreference(BlockingWorkExecutor.shared) { try await function() }
        let after = try RootNamespaceSnapshot.capture()
        let changes = before.differences(to: after)
        #expect(changes.isEmpty, "the root network namespace changed during \(test.name):\n\(changes.joined(separator: "\n"))")
    }
}

extension Trait where Self == RootNamespaceUnchanged {
    /// Fails the suite if it changed the host's root network namespace.
    public static var rootNamespaceUnchanged: Self { RootNamespaceUnchanged() }
}
