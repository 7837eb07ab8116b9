@testable import AgentTestSupport
import Foundation
import PodNet

/// The CLI against the real API: a `TestAgent`'s controller and API server, with containers faked.
extension TestAgent {
    /// Runs `body` with a ready lab whose API answers on its socket (see `TestAgent.with`).
    static func serving<T: Sendable>(lab: String = "podlab", backoffSeconds: Double = 0.02,
                                     _ body: (TestAgent) async throws -> T) async throws -> T {
        try await with(lab: lab, backoffSeconds: backoffSeconds, serveAPI: true, body)
    }

    /// A context whose output is captured and whose state root is this lab's. Its "now" is an
    /// hour after `created` when given (AGE columns read 60m), else the real time.
    func context(now created: Timestamp? = nil) -> TestContext {
        var context = TestContext(root: root, lab: lab)
        context.now = created.map { Date(timeIntervalSince1970: TimeInterval($0.secondsSince1970 + 3600)) } ?? Date()
        return context
    }

    /// Creates a pod as `podlab run` or `apply` would, and waits until it runs.
    @discardableResult
    func add(_ pod: Pod, namespace: String = "default") async throws -> Pod {
        try await createPod(pod, namespace: namespace)
        return try await waitForPod(pod.metadata.name, namespace: namespace, "Running") { $0?.status.phase == .running } ?? pod
    }

    /// Writes what a container printed to the log of its current run.
    func setLog(namespace: String = "default", pod: String, container: String, _ text: String) throws {
        try runtime.writeLog(pod, namespace: namespace, container: container, text)
    }
}
