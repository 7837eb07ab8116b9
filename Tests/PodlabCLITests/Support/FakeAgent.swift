import Foundation
import Hummingbird
import Logging
import NIOCore
import PodNet
import PodlabCLI
import Synchronization

/// One request the fake agent received.
struct FakeRequest: Sendable {
    var method: String
    var path: String
    var query: [String: String]
    var body: Data

    /// The body as JSON text.
    var text: String { String(decoding: body, as: UTF8.self) }
}

/// What the fake agent answers.
enum FakeResponse: Sendable {
    /// A complete JSON (or text) body.
    case body(Int, Data)
    /// A body sent in pieces, with a pause before each (log follows, watches).
    case chunks(Int, [Data], pause: Duration)

    static func json(_ code: Int, _ text: String) -> FakeResponse { .body(code, Data(text.utf8)) }

    /// A Kubernetes `Status` error.
    static func status(_ status: APIStatus) -> FakeResponse {
        .body(Int(status.code), Data(status.jsonText.utf8))
    }

    static func notFound(_ resource: String, _ name: String) -> FakeResponse {
        .status(.notFound(resource: resource, name: name))
    }

    /// Any Kubernetes object as JSON.
    static func object(_ object: some JSONObjectCodable, code: Int = 200) -> FakeResponse {
        .body(code, Data(object.jsonText.utf8))
    }
}

/// A stand-in for a lab agent: an HTTP server on `<root>/<lab>/agent.sock` in a fresh
/// temporary directory, answering with `handler`. Commands find it through
/// `PODLAB_STATE_ROOT`, exactly as they find a real agent.
final class FakeAgent: Sendable {
    let root: String
    let lab: String
    private let handler: @Sendable (FakeRequest) async -> FakeResponse
    private let recorded = Mutex<[FakeRequest]>([])

    private init(root: String, lab: String, handler: @escaping @Sendable (FakeRequest) async -> FakeResponse) {
        self.root = root
        self.lab = lab
        self.handler = handler
    }

    /// Every request so far, in order.
    var requests: [FakeRequest] { recorded.withLock { $0 } }

    /// Requests as "METHOD /path".
    var requestLines: [String] { requests.map { "\($0.method) \($0.path)" } }

    var socket: String { "\(root)/\(lab)/agent.sock" }

    /// A context whose output is captured and whose state root is this fake's.
    func context(stdoutIsTerminal: Bool = false) -> TestContext {
        TestContext(root: root, lab: lab)
    }

    /// Runs `body` with a fake agent serving `handler`; stops it and removes its directory afterwards.
    static func with<T: Sendable>(lab: String = "podlab", _ handler: @escaping @Sendable (FakeRequest) async -> FakeResponse,
                                  _ body: (FakeAgent) async throws -> T) async throws -> T {
        var template = Array("/tmp/plcli-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { throw CocoaError(.fileWriteUnknown) }
        let root = String(cString: made)
        defer { try? FileManager.default.removeItem(atPath: root) }
        try FileManager.default.createDirectory(atPath: "\(root)/\(lab)", withIntermediateDirectories: true)
        let agent = FakeAgent(root: root, lab: lab, handler: handler)

        let responder = CallbackResponder<BasicRequestContext> { request, _ in
            var request = request
            let bytes = try await request.collectBody(upTo: 16 << 20)
            var query: [String: String] = [:]
            for (key, value) in request.uri.queryParameters {
                query[String(key)] = String(value).removingPercentEncoding ?? String(value)
            }
            let fake = FakeRequest(method: request.method.rawValue, path: request.uri.path, query: query,
                                   body: Data(bytes.readableBytesView))
            agent.recorded.withLock { $0.append(fake) }
            switch await agent.handler(fake) {
            case let .body(code, data):
                return Response(status: .init(code: code), headers: [.contentType: "application/json"],
                                body: .init(byteBuffer: ByteBuffer(bytes: data)))
            case let .chunks(code, pieces, pause):
                return Response(status: .init(code: code), headers: [.contentType: "application/json"],
                                body: .init { writer in
                                    for piece in pieces {
                                        try await Task.sleep(for: pause)
                                        try await writer.write(ByteBuffer(bytes: piece))
                                    }
                                    try await writer.finish(nil)
                                })
            }
        }
        let running = AsyncStream<Void>.makeStream()
        let app = Application(
            responder: responder,
            configuration: .init(address: .unixDomainSocket(path: agent.socket)),
            onServerRunning: { _ in running.continuation.yield() },
            logger: {
                var logger = Logger(label: "fake-agent")
                logger.logLevel = .critical
                return logger
            }())
        let server = Task { try await app.run() }
        for await _ in running.stream { break }
        do {
            let result = try await body(agent)
            server.cancel()
            _ = try? await server.value
            return result
        } catch {
            server.cancel()
            _ = try? await server.value
            throw error
        }
    }
}

/// A command context with captured output, pointing at a fake agent's state root.
struct TestContext: Sendable {
    let stdout = CapturingSink()
    let stderr = CapturingSink()
    let root: String
    let lab: String
    var environment: [String: String] = [:]
    /// A fixed "now" so AGE columns are stable.
    var now = Date(timeIntervalSince1970: 1_700_000_000)
    /// What `-f -` reads.
    var standardInput = ""

    init(root: String, lab: String) {
        self.root = root
        self.lab = lab
    }

    var context: CommandContext {
        var env = environment
        env["PODLAB_STATE_ROOT"] = root
        env["PATH"] = env["PATH"] ?? "/usr/bin:/bin"
        let now = self.now
        let input = standardInput
        return CommandContext(stdout: stdout, stderr: stderr, environment: env, now: { now },
                              pollInterval: .milliseconds(5), readStandardInput: { input },
                              timeZone: TimeZone(identifier: "UTC")!)
    }

    /// Runs a podlab command line (without the leading `podlab`).
    func run(_ arguments: [String]) async -> Int32 {
        await Podlab.run(arguments, in: context)
    }

    func run(_ line: String) async -> Int32 {
        await run(line.split(separator: " ").map(String.init))
    }
}
