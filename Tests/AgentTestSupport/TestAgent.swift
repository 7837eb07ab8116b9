// Built for testing only: this module reaches into PodlabAgent with `@testable import`, which a
// release build (no `-enable-testing`) refuses; `swift build -c release` builds every target.
#if DEBUG
import Foundation
import Hummingbird
import Logging
@testable import PodlabAgent
import PodNet
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The real controller and API server of a lab, with a `FakeSandboxRuntime` in place of the
/// kernel: its state (store, logs, socket) in a fresh temporary directory, its API on
/// `<root>/<lab>/agent.sock`, where the CLI finds an agent through `PODLAB_STATE_ROOT`. Runs
/// without root. The back-offs start from `backoffSeconds` (Kubernetes: 10 s) so that a crash
/// loop takes milliseconds. (Internal, as it names the agent's internal types: tests
/// `@testable import AgentTestSupport`.)
final class TestAgent: Sendable {
    public let root: String
    public let lab: String
    public let paths: LabPaths
    public let runtime: FakeSandboxRuntime
    let controller: Controller
    private let recorded = Mutex<[RecordedRequest]>([])
    private let afterRequest = Mutex<(@Sendable (RecordedRequest) async -> Void)?>(nil)

    private let interceptor = Mutex<(@Sendable (RecordedRequest, Data) async -> (status: Int, body: Data)?)?>(nil)

    /// Answers the requests `answer` gives an answer for (status and JSON body) in place of the
    /// API: for what a lab without root cannot answer (the prober), the rest staying real.
    func intercept(_ answer: @escaping @Sendable (_ request: RecordedRequest, _ body: Data) async -> (status: Int, body: Data)?) {
        interceptor.withLock { $0 = answer }
    }

    /// Every pod of every namespace, as the controller holds them now.
    func allPods() async -> [Pod] {
        await controller.pods.values.sorted { ($0.metadata.namespace, $0.metadata.name) < ($1.metadata.namespace, $1.metadata.name) }
    }

    /// Runs `action` after each request is answered (before its answer is sent): to change the
    /// lab between two requests of one command, as another client would.
    func afterEachRequest(_ action: @escaping @Sendable (RecordedRequest) async -> Void) {
        afterRequest.withLock { $0 = action }
    }

    /// One request the API received.
    public struct RecordedRequest: Sendable {
        public var method: String
        public var path: String
        public var query: [String: String]
        public var body: Data
    }

    /// Every request the API received so far, in order.
    public var requests: [RecordedRequest] { recorded.withLock { $0 } }

    /// Requests as "METHOD /path".
    public var requestLines: [String] { requests.map { "\($0.method) \($0.path)" } }

    private init(root: String, lab: String, paths: LabPaths, runtime: FakeSandboxRuntime, controller: Controller) {
        self.root = root
        self.lab = lab
        self.paths = paths
        self.runtime = runtime
        self.controller = controller
    }

    public struct StartError: Error, CustomStringConvertible {
        public var description: String
    }

    /// Runs `body` with a ready lab (two nodes, the default topology) whose API answers on its
    /// socket; afterwards the lab is torn down and its directory removed.
    public static func with<T: Sendable>(lab: String = "podlab", topology: String? = nil, backoffSeconds: Double = 0.02,
                                         serveAPI: Bool = true, volumeSyncSeconds: Double = 60,
                                         clock: @escaping @Sendable () -> Int64 = { Int64(Date().timeIntervalSince1970) },
                                         _ body: (TestAgent) async throws -> T) async throws -> T {
        var template = Array("/tmp/plagent-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { throw StartError(description: "mkdtemp: \(String(cString: strerror(errno)))") }
        let root = String(cString: made)
        defer { try? FileManager.default.removeItem(atPath: root) }
        let paths = LabPaths(lab: lab, stateRoot: root)
        try FileManager.default.createDirectory(atPath: paths.directory, withIntermediateDirectories: true)
        var topologyPath: String?
        if let topology {
            topologyPath = "\(root)/topology.yaml"
            try topology.write(toFile: "\(root)/topology.yaml", atomically: true, encoding: .utf8)
        }
        var logger = Logger(label: "podlab.agent.test")
        logger.logLevel = ProcessInfo.processInfo.environment["PODLAB_TEST_LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? .critical
        let runtime = FakeSandboxRuntime(cgroupRoot: "\(root)/no-cgroups")
        let controller = try Controller(paths: paths, options: AgentOptions(lab: lab, topologyPath: topologyPath, stateRoot: root,
                                                                             restartBackoffSeconds: backoffSeconds,
                                                                             // Tests never reach past the loopback.
                                                                             registries: .loopback, volumeSyncSeconds: volumeSyncSeconds),
                                        logger: logger, runtime: runtime, clock: clock)
        let agent = TestAgent(root: root, lab: lab, paths: paths, runtime: runtime, controller: controller)
        await controller.start()
        let (phase, message) = await (controller.phase, controller.message)
        guard phase == .ready else {
            await agent.tearDown()
            throw StartError(description: "the lab did not become ready: \(phase): \(message)")
        }

        var server: Task<Void, any Error>?
        if serveAPI {
            let running = AsyncStream<Void>.makeStream()
            let router = APIServer.router(backend: controller).buildResponder()
            let responder = CallbackResponder<BasicRequestContext> { request, context in
                var request = request
                var query: [String: String] = [:]
                for (key, value) in request.uri.queryParameters {
                    query[String(key)] = String(value).removingPercentEncoding ?? String(value)
                }
                // Collected once, and kept in the request for the router.
                let body = try await request.collectBody(upTo: 16 << 20)
                let line = RecordedRequest(method: request.method.rawValue, path: request.uri.path, query: query, body: Data(body.readableBytesView))
                agent.recorded.withLock { $0.append(line) }
                if let intercept = agent.interceptor.withLock({ $0 }) {
                    if let (status, answer) = await intercept(line, line.body) {
                        return Response(status: .init(code: status), headers: [.contentType: "application/json"],
                                        body: .init(byteBuffer: ByteBuffer(bytes: answer)))
                    }
                }
                let response = try await router.respond(to: request, context: context)
                if let action = agent.afterRequest.withLock({ $0 }) { await action(line) }
                return response
            }
            let app = Application(responder: responder,
                                  configuration: .init(address: .unixDomainSocket(path: paths.socket), serverName: "podlab"),
                                  onServerRunning: { _ in running.continuation.yield() },
                                  logger: logger)
            server = Task { try await app.run() }
            for await _ in running.stream { break }
        }
        do {
            let result = try await body(agent)
            await agent.stop(server)
            return result
        } catch {
            await agent.stop(server)
            throw error
        }
    }

    private func stop(_ server: Task<Void, any Error>?) async {
        await controller.stop()
        server?.cancel()
        _ = try? await server?.value
        await tearDown()
    }

    /// Stops every container, forgets the pods, cancels the back-off timers.
    private func tearDown() async {
        await controller.tearDownLab()
    }

    // MARK: Reading the controller's state

    /// The pod as the controller holds it now.
    public func pod(_ name: String, namespace: String = "default") async -> Pod? {
        await controller.pods["\(namespace)/\(name)"]
    }

    /// Creates a pod from its YAML (or JSON) manifest through the controller, as the API does.
    @discardableResult
    public func createPod(_ manifest: String, namespace: String = "default") async throws -> Pod {
        let value = try YAMLReader.value(from: manifest)
        let data = try await controller.createPod(namespace: namespace, body: Data(value.jsonText(indent: 0).utf8))
        return try Pod(json: JSONReader.value(from: String(decoding: data, as: UTF8.self)))
    }

    /// Creates a pod through the controller, as the API does.
    @discardableResult
    public func createPod(_ pod: Pod, namespace: String = "default") async throws -> Pod {
        let data = try await controller.createPod(namespace: namespace, body: Data(pod.json.jsonText(indent: 0).utf8))
        return try Pod(json: JSONReader.value(from: String(decoding: data, as: UTF8.self)))
    }

    public func deletePod(_ name: String, namespace: String = "default", gracePeriodSeconds: Int? = nil) async throws {
        _ = try await controller.deletePod(namespace: namespace, name: name, gracePeriodSeconds: gracePeriodSeconds)
    }

    /// The events of an object, oldest first.
    public func events(of name: String, namespace: String = "default") async throws -> [Event] {
        let data = try await controller.listEvents(namespace: namespace, fieldSelector: "involvedObject.name=\(name)")
        return try EventList(json: JSONReader.value(from: String(decoding: data, as: UTF8.self))).items
    }

    /// Waits until `condition` holds of the controller's pod (or of its absence), up to `timeout`
    /// (generous: the whole suite shares two cores with end-to-end labs; a wait ends as soon as
    /// the condition holds).
    @discardableResult
    public func waitForPod(_ name: String, namespace: String = "default", timeout: Duration = .seconds(60),
                           _ what: String = "the condition", _ condition: (Pod?) -> Bool) async throws -> Pod? {
        let deadline = ContinuousClock.now + timeout
        while true {
            let pod = await pod(name, namespace: namespace)
            if condition(pod) { return pod }
            guard ContinuousClock.now < deadline else {
                throw StartError(description: "pod \(namespace)/\(name): \(what) did not hold within \(timeout); last seen: \(pod.map { $0.json.jsonText(indent: 2) } ?? "gone")")
            }
            try await Task.sleep(for: .milliseconds(2))
        }
    }

    /// Waits until `condition` holds, up to `timeout`.
    public func wait(timeout: Duration = .seconds(60), _ what: String, _ condition: () async throws -> Bool) async throws {
        let deadline = ContinuousClock.now + timeout
        while try await !condition() {
            guard ContinuousClock.now < deadline else { throw StartError(description: "\(what) did not happen within \(timeout)") }
            try await Task.sleep(for: .milliseconds(2))
        }
    }

    /// Creates a ReplicaSet, Deployment, Service, NetworkPolicy, ConfigMap or Secret from its YAML manifest, as the API does.
    public func create(_ manifest: String, namespace: String = "default") async throws {
        let value = try YAMLReader.value(from: manifest)
        let body = Data(value.jsonText(indent: 0).utf8)
        switch value["kind"]?.stringValue {
        case "ReplicaSet": _ = try await controller.createReplicaSet(namespace: namespace, body: body, dryRun: false)
        case "Deployment": _ = try await controller.createDeployment(namespace: namespace, body: body, dryRun: false)
        case "Service": _ = try await controller.createService(namespace: namespace, body: body, dryRun: false)
        case "NetworkPolicy": _ = try await controller.createNetworkPolicy(namespace: namespace, body: body, dryRun: false)
        case "ConfigMap": _ = try await controller.createConfigObject(ConfigMap.self, namespace: namespace, body: body, dryRun: false)
        case "Secret": _ = try await controller.createConfigObject(Secret.self, namespace: namespace, body: body, dryRun: false)
        case let kind: throw StartError(description: "TestAgent.create does not make \(kind ?? "objects without a kind")")
        }
    }

    /// Replaces a ReplicaSet with its changed manifest (e.g. another replica count).
    public func replaceReplicaSet(_ replicaSet: ReplicaSet) async throws {
        _ = try await controller.replaceReplicaSet(namespace: replicaSet.metadata.namespace, name: replicaSet.metadata.name,
                                                   body: Data(replicaSet.json.jsonText(indent: 0).utf8), dryRun: false)
    }

    /// The pods of a namespace, by name.
    public func pods(namespace: String = "default") async -> [Pod] {
        await controller.pods.values.filter { $0.metadata.namespace == namespace }.sorted { $0.metadata.name < $1.metadata.name }
    }

    public func replicaSet(_ name: String, namespace: String = "default") async -> ReplicaSet? {
        await controller.replicaSets["\(namespace)/\(name)"]
    }

    /// The endpoint slices of a namespace.
    public func endpointSlices(namespace: String = "default") async -> [EndpointSlice] {
        await controller.endpointSlices.values.filter { $0.metadata.namespace == namespace }.sorted { $0.metadata.name < $1.metadata.name }
    }
}
#endif
