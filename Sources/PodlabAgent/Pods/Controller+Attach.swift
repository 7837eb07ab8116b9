import Foundation
import Hummingbird
import Netns
import NIOCore
import PodNet
import ServiceLifecycle

/// What the attach endpoint needs from the control plane.
protocol AttachBackend: Sendable {
    /// Attaches a client to a container's running process; throws the Status to answer when
    /// it cannot be attached.
    func attach(namespace: String, name: String, options: PodAttachOptions) async throws -> AttachSession
}

/// One client attached to a container (`POST .../pods/{name}/attach`): the process's output as
/// the client asked for it, the client's stdin and terminal size into the process.
///
/// A session ends when the process and everything it started have closed their output, when
/// the client goes away, or, for a client with stdin, when its stdin ends (as in the
/// containerd CRI plugin). With `stdinOnce`, the first client's stdin is the process's: when
/// it ends (or the client goes), the process reads its end of file and no later client writes
/// to its stdin; that session goes on until the output ends.
final class AttachSession: Sendable {
    /// Output frames, then the error frame that ends the session.
    let output: AsyncStream<StreamFrame>
    private let input: @Sendable (StreamFrame) async -> Void
    private let inputEnd: @Sendable () -> Void
    private let end: @Sendable () -> Void
    /// Why the session was ended from outside, to say in its last frame (nil: it ended normally).
    private let failure: Locked<APIStatus?>

    private init(output: AsyncStream<StreamFrame>, failure: Locked<APIStatus?>, input: @escaping @Sendable (StreamFrame) async -> Void,
                 inputEnd: @escaping @Sendable () -> Void, end: @escaping @Sendable () -> Void) {
        self.output = output
        self.failure = failure
        self.input = input
        self.inputEnd = inputEnd
        self.end = end
    }

    /// A session on the streams of a container with `stdin` or `tty` (or of an exec'd process:
    /// then `outcome` says how it ended once its output has, and `clientGone` stops it when the
    /// client leaves first).
    convenience init(streams: ContainerStreams, options: PodAttachOptions, outcome: (@Sendable () async -> APIStatus)? = nil,
                     clientGone: (@Sendable () -> Void)? = nil) {
        let writesStdin = options.stdin && streams.acceptsStdin
        let closesStdin = writesStdin && streams.mode.stdinOnce
        let subscription = streams.subscribe()
        let failure = Locked<APIStatus?>(nil)
        let (output, continuation) = AsyncStream<StreamFrame>.makeStream()
        let forwarding = Task {
            for await frame in subscription.output where frame.channel == .stdout ? options.stdout : options.stderr {
                continuation.yield(frame)
            }
            let ended = await outcome?() ?? StreamFrame.success
            continuation.yield(.end(failure.withLock { $0 } ?? ended))
            continuation.finish()
        }
        continuation.onTermination = { _ in forwarding.cancel() }
        self.init(output: output, failure: failure, input: { frame in
            switch frame.channel {
            case .stdin where writesStdin:
                await streams.write(frame.payload)
            case .resize:
                if let size = try? TerminalSize(payload: frame.payload) { streams.resize(size) }
            default:
                break
            }
        }, inputEnd: {
            guard writesStdin else { return }
            if closesStdin { streams.closeStdin() } else { streams.unsubscribe(subscription.id) }
        }, end: {
            streams.unsubscribe(subscription.id)
            if closesStdin { streams.closeStdin() }
            clientGone?()
        })
    }

    /// A session that could not start: it says why and ends.
    convenience init(failure status: APIStatus) {
        let (output, continuation) = AsyncStream<StreamFrame>.makeStream()
        continuation.yield(.end(status))
        continuation.finish()
        self.init(output: output, failure: Locked<APIStatus?>(nil), input: { _ in }, inputEnd: {}, end: {})
    }

    /// A session on a container that writes its log itself: the log from now on, as stdout,
    /// while the run lasts. It has no stdin to write to. Its frames are read off the log as the
    /// client takes them (`LogFrames`), so a slow client holds the reading back.
    convenience init(log reader: ContainerLogReader, options: PodAttachOptions) {
        let failure = Locked<APIStatus?>(nil)
        let frames = LogFrames(reader: reader, stdout: options.stdout, failure: failure)
        self.init(output: AsyncStream(unfolding: { await frames.next() }), failure: failure, input: { _ in }, inputEnd: {},
                  end: { reader.stop() })
    }

    /// Reads the client's frames from the request body until it ends (the client's stdin
    /// ended) or breaks (the client is gone).
    func consume<Body: AsyncSequence>(_ body: Body) async where Body.Element == ByteBuffer {
        var decoder = StreamFrameDecoder()
        do {
            for try await buffer in body {
                decoder.append(buffer.readableBytesView)
                while let frame = try decoder.next() { await input(frame) }
            }
            if !decoder.hasPartialFrame {
                inputEnd()
                return
            }
        } catch {}
        end()
    }

    /// A frame the client sent (stdin, a resize) on a protocol that is not made of frames.
    func receive(_ frame: StreamFrame) async { await input(frame) }

    /// The client closed its stdin (a SPDY stream's end, a WebSocket close signal).
    func clientClosedStdin() { inputEnd() }

    /// Ends the session: the client is gone, or (with `failure`, which the client is told)
    /// the agent shuts down.
    func close(failure reason: APIStatus? = nil) {
        if let reason { failure.withLock { $0 = $0 ?? reason } }
        end()
    }
}

/// A log's chunks as an attach session's stdout frames, then the frame that ends the session;
/// the reader ends with them, read to the end or dropped. `@unchecked Sendable`: used by the one
/// stream that owns it, one `next()` at a time.
final class LogFrames: @unchecked Sendable {
    private let reader: ContainerLogReader
    private let stdout: Bool
    private let failure: Locked<APIStatus?>
    private var chunk = Data()
    private var ended = false

    init(reader: ContainerLogReader, stdout: Bool, failure: Locked<APIStatus?>) {
        self.reader = reader
        self.stdout = stdout
        self.failure = failure
    }

    deinit { reader.stop() }

    func next() async -> StreamFrame? {
        while !ended {
            if !chunk.isEmpty {
                let piece = chunk.prefix(StreamFrame.maximumPayload)
                chunk = chunk.dropFirst(piece.count)
                return StreamFrame(.stdout, Array(piece))
            }
            do {
                guard let next = try await reader.next() else { break }
                if stdout { chunk = next }
            } catch {
                ended = true
                return .end(APIStatus.internalError("\(error)"))
            }
        }
        guard !ended else { return nil }
        ended = true
        return .end(failure.withLock { $0 } ?? StreamFrame.success)
    }
}

extension Controller: AttachBackend {
    /// Attaches to the current run of a container: its streams when it has `stdin` or `tty`
    /// (also once ended, for the first client, which gets what was written before it came),
    /// else its log from now on while it runs.
    func attach(namespace: String, name: String, options: PodAttachOptions) async throws -> AttachSession {
        let pod = try pod(namespace, name)
        let container = try Self.streamingContainer(of: pod, requested: options.container)
        let notRunning = Self.containerNotRunning(container)
        guard let runtime = runtimes[pod.metadata.uid], !runtime.deleting else { throw notRunning }
        if let streams = runtime.streams[container], !streams.hasEnded || streams.isUnclaimed {
            return AttachSession(streams: streams, options: options)
        }
        guard runtime.processes[container] != nil else { throw notRunning }
        let log = try logReader(namespace: namespace, name: name,
                                options: LogOptions(container: container, follow: true, previous: false, tailLines: 0))
        return AttachSession(log: log, options: options)
    }

    /// The container an attach, exec or port-forward request names, as the API server checks
    /// it: the one asked for, which the pod must have, or the pod's only one.
    static func streamingContainer(of pod: Pod, requested: String) throws(APIStatus) -> String {
        let names = pod.spec.containers.map(\.name)
        guard !requested.isEmpty else {
            guard names.count == 1 else {
                throw APIStatus.badRequest("a container name must be specified for pod \(pod.metadata.name), choose one of: [\(names.joined(separator: " "))]")
            }
            return names[0]
        }
        guard names.contains(requested) else {
            throw APIStatus.badRequest("container \(requested) is not valid for pod \(pod.metadata.name)")
        }
        return requested
    }

    /// The kubelet's answer when the container has no running process to attach to or exec in.
    static func containerNotRunning(_ container: String) -> APIStatus {
        APIStatus(message: "container not found (\"\(container)\")", reason: .notFound, code: 404)
    }
}

/// `POST /api/v1/namespaces/{namespace}/pods/{name}/attach?container=&stdin=&stdout=&stderr=&tty=`:
/// the answer's head comes at once, then the session streams both ways (`StreamFrame`).
enum AttachRoutes {
    static func register(on router: Router<BasicRequestContext>, backend: any AttachBackend) {
        router.post("/api/v1/namespaces/:namespace/pods/:name/attach") { request, context in
            try await APIServer.handle {
                let query = request.uri.queryParameters
                let options = try PodAttachOptions { query[Substring($0)].map(String.init) }
                let session = try await backend.attach(namespace: try context.parameters.require("namespace"),
                                                       name: try context.parameters.require("name"), options: options)
                return Response(status: .ok, headers: [.contentType: StreamFrame.contentType], body: ResponseBody { writer in
                    let input = Task { await session.consume(request.body) }
                    defer {
                        input.cancel()
                        session.close()
                    }
                    // The server's graceful shutdown waits for open requests; a session ends with
                    // its container, which outlives the agent.
                    try await withGracefulShutdownHandler {
                        for await frame in session.output {
                            try await writer.write(ByteBuffer(bytes: frame.encoded))
                        }
                    } onGracefulShutdown: {
                        session.close(failure: APIStatus(message: "the agent is shutting down", reason: "ServiceUnavailable", code: 503))
                    }
                    try await writer.finish(nil)
                })
            }
        }
    }
}
