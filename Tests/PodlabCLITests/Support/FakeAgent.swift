import Foundation
import Hummingbird
import Logging
import NIOCore
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
    static func status(_ code: Int, reason: String, message: String, kind: String? = nil, name: String? = nil,
                       causes: [(field: String, message: String)] = []) -> FakeResponse {
        var details: ServerStatus.Details?
        if kind != nil || name != nil || !causes.isEmpty {
            details = .init(name: name, kind: kind, causes: causes.isEmpty ? nil : causes.map {
                .init(reason: "FieldValueInvalid", message: $0.message, field: $0.field)
            })
        }
        let status = ServerStatus(message: message, reason: reason, code: code, details: details)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return .body(code, try! encoder.encode(status))
    }

    static func notFound(_ resource: String, _ name: String) -> FakeResponse {
        .status(404, reason: "NotFound", message: "\(resource) \"\(name)\" not found", kind: resource, name: name)
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

    init(root: String, lab: String) {
        self.root = root
        self.lab = lab
    }

    var context: CommandContext {
        var env = environment
        env["PODLAB_STATE_ROOT"] = root
        env["PATH"] = env["PATH"] ?? "/usr/bin:/bin"
        let now = self.now
        return CommandContext(stdout: stdout, stderr: stderr, environment: env, now: { now },
                              pollInterval: .milliseconds(5))
    }

    /// Runs a podlab command line (without the leading `podlab`).
    func run(_ arguments: [String]) async -> Int32 {
        await Podlab.run(arguments, in: context)
    }

    func run(_ line: String) async -> Int32 {
        await run(line.split(separator: " ").map(String.init))
    }
}
