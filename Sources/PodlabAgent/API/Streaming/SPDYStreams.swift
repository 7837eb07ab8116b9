#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Logging
import Netns
import NIOCore
import NIOPosix
import PodNet
import ServiceLifecycle

/// What the server sends on a SPDY connection, in order: one task writes them, compressing the
/// header blocks in the order they go out (the peer inflates them in that order).
final class SPDYWriter: Sendable {
    enum Outgoing: Sendable {
        case reply(streamID: UInt32)
        case data(streamID: UInt32, bytes: [UInt8], fin: Bool)
        case ping(id: UInt32)
        case reset(streamID: UInt32, status: UInt32)
        case goAway
        /// Resumed once everything before it was written.
        case flushed(CheckedContinuation<Void, Never>)
    }

    private let continuation: AsyncStream<Outgoing>.Continuation
    let queue: AsyncStream<Outgoing>

    /// The data frames' bytes queued and not yet written may reach this; a sender of data waits
    /// beyond it until the writer is down to half of it. A client that reads slower than a
    /// container writes (kubectl's stdout in a pipe nobody reads) so holds the output where it
    /// comes from, not in the agent's memory.
    static let queueLimit = 1 << 20

    private struct Budget {
        var queued = 0
        var waiting: [CheckedContinuation<Void, Never>] = []
        var finished = false
    }
    private let budget = Locked(Budget())

    init() {
        let (queue, continuation) = AsyncStream<Outgoing>.makeStream()
        self.queue = queue
        self.continuation = continuation
    }

    /// Queues a control frame (or a small one); never waits.
    func send(_ frame: Outgoing) {
        guard case let .data(_, bytes, _) = frame else {
            continuation.yield(frame)
            return
        }
        // Counted like `sendData`'s, since the writer counts every data frame it takes.
        budget.withLock { $0.queued += bytes.count }
        if case .terminated = continuation.yield(frame) { written(bytes.count) }
    }

    /// Queues a data frame; waits while the queue holds more than `queueLimit` bytes of data.
    func sendData(streamID: UInt32, bytes: [UInt8], fin: Bool) async {
        let count = bytes.count
        budget.withLock { $0.queued += count }
        if case .terminated = continuation.yield(.data(streamID: streamID, bytes: bytes, fin: fin)) {
            written(count)
            return
        }
        await withCheckedContinuation { (resume: CheckedContinuation<Void, Never>) in
            let now = budget.withLock { budget -> Bool in
                guard budget.queued > Self.queueLimit, !budget.finished else { return true }
                budget.waiting.append(resume)
                return false
            }
            if now { resume.resume() }
        }
    }

    /// Counts `count` bytes of data as gone from the queue (written, or dropped on a broken
    /// connection), letting the waiting senders go on once it is down to half its limit.
    private func written(_ count: Int) {
        let ready = budget.withLock { budget -> [CheckedContinuation<Void, Never>] in
            budget.queued -= count
            guard budget.queued <= Self.queueLimit / 2 || budget.finished else { return [] }
            defer { budget.waiting.removeAll() }
            return budget.waiting
        }
        for resume in ready { resume.resume() }
    }

    /// Waits until what was sent before is on the wire (or the connection is gone).
    func flush() async {
        await withCheckedContinuation { done in
            if case .terminated = continuation.yield(.flushed(done)) { done.resume() }
        }
    }

    func finish() {
        continuation.finish()
        releaseSenders()
    }

    private func releaseSenders() {
        let ready = budget.withLock { budget -> [CheckedContinuation<Void, Never>] in
            budget.finished = true
            defer { budget.waiting.removeAll() }
            return budget.waiting
        }
        for resume in ready { resume.resume() }
    }

    /// Writes the queue to the connection until it is finished or the connection breaks.
    func run(_ outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>, compression: SPDYHeaderCompression) async {
        var broken = false
        for await frame in queue {
            let bytes: [UInt8]
            switch frame {
            case let .reply(id):
                bytes = SPDYFrame.synReply(streamID: id, flags: 0, headerBlock: compression.compress([])).encoded
            case let .data(id, payload, fin):
                var offset = 0
                var chunks: [UInt8] = []
                repeat {
                    let end = min(offset + 32 * 1024, payload.count)
                    chunks += SPDYFrame.data(streamID: id, flags: fin && end == payload.count ? SPDYFrame.flagFin : 0, payload: Array(payload[offset..<end])).encoded
                    offset = end
                } while offset < payload.count
                bytes = chunks
            case let .ping(id):
                bytes = SPDYFrame.ping(id: id).encoded
            case let .reset(id, status):
                bytes = SPDYFrame.rstStream(streamID: id, status: status).encoded
            case .goAway:
                bytes = SPDYFrame.goAway(lastGoodStreamID: 0, status: 0).encoded
            case let .flushed(done):
                done.resume()
                continue
            }
            if !broken {
                do { try await outbound.write(ByteBuffer(bytes: bytes)) } catch { broken = true }
            }
            if case let .data(_, payload, _) = frame { written(payload.count) }
        }
        releaseSenders()
    }
}

/// kubectl's streaming verbs over SPDY/3.1: the client opens one stream per channel
/// (`streamtype` error, stdin, stdout, stderr, resize; for port-forward error and data per
/// forwarded connection, with `port` and `requestID`), the server answers each with SYN_REPLY
/// and writes to the ones that carry output. Pings are answered; flow control is not enforced
/// (client-go's spdystream sends no more than it has and reads whatever arrives).
enum SPDYStreams {
    static func serve(_ channel: NIOAsyncChannel<ByteBuffer, ByteBuffer>, prepared: PreparedStream, endpoints: StreamingEndpoints, logger: Logger) async {
        let compression: SPDYHeaderCompression
        do { compression = try SPDYHeaderCompression() } catch {
            logger.error("SPDY: \(error)")
            return
        }
        let eventLoop = channel.channel.eventLoop
        do {
            try await channel.executeThenClose { inbound, outbound in
                let writer = SPDYWriter()
                await withTaskGroup(of: Void.self) { group in
                    group.addTask { await writer.run(outbound, compression: compression) }
                    if prepared.target.kind == .portForward {
                        await PortForwardSession(target: prepared.target, endpoints: endpoints, writer: writer, eventLoop: eventLoop, logger: logger)
                            .run(inbound, compression: compression)
                    } else {
                        await RemoteCommandSession(prepared: prepared, endpoints: endpoints, writer: writer, logger: logger)
                            .run(inbound, compression: compression)
                    }
                    await writer.flush()
                    writer.finish()
                    await group.waitForAll()
                }
            }
        } catch {
            logger.debug("a SPDY connection ended: \(error)")
        }
    }

    /// The frames of a connection's bytes, until it ends, breaks, or says something that is not SPDY.
    static func frames(_ inbound: NIOAsyncChannelInboundStream<ByteBuffer>) -> (frames: AsyncThrowingStream<SPDYFrame, any Error>, stop: @Sendable () -> Void) {
        let (frames, continuation) = AsyncThrowingStream<SPDYFrame, any Error>.makeStream()
        let reading = Task {
                var decoder = SPDYFrameDecoder()
            do {
                for try await buffer in inbound {
                    decoder.append(buffer.readableBytesView)
                    while let frame = try decoder.next() { continuation.yield(frame) }
                }
                continuation.finish()
            } catch {
                continuation.finish(throwing: error)
            }
        }
        continuation.onTermination = { _ in reading.cancel() }
        return (frames, {
            reading.cancel()
            continuation.finish()
        })
    }
}

/// An exec or attach session on a SPDY connection.
struct RemoteCommandSession {
    let prepared: PreparedStream
    let endpoints: StreamingEndpoints
    let writer: SPDYWriter
    let logger: Logger

    func run(_ inbound: NIOAsyncChannelInboundStream<ByteBuffer>, compression: SPDYHeaderCompression) async {
        let options = prepared.target.options
        let version = prepared.remoteCommand ?? .v1
        // The streams the client opens before the session starts, as the kubelet waits for them.
        var expected: Set<String> = ["error"]
        if options.stdin { expected.insert("stdin") }
        if options.stdout { expected.insert("stdout") }
        if options.stderr { expected.insert("stderr") }
        if options.tty && version.resizes { expected.insert("resize") }
        let streams = Locked<[String: UInt32]>([:])
        var types: [UInt32: String] = [:]
        let current = Locked<AttachSession?>(nil)
        var session: AttachSession?
        var output: Task<Void, Never>?
        var resizes: [UInt8] = []
        let writer = self.writer, endpoints = self.endpoints, target = prepared.target
        let (frames, stop) = SPDYStreams.frames(inbound)
        do {
            try await withGracefulShutdownHandler {
                for try await frame in frames {
                    switch frame {
                    case let .synStream(id, _, _, _, block):
                        let headers = try compression.decompress(block)
                        writer.send(.reply(streamID: id))
                        guard let type = headers.first(where: { $0.name == "streamtype" })?.value else { continue }
                        types[id] = type
                        let known = streams.withLock { opened in
                            opened[type] = id
                            return Set(opened.keys)
                        }
                        guard session == nil, expected.isSubset(of: known) else { continue }
                        let started = await endpoints.openRemoteCommand(target)
                        session = started
                        current.withLock { $0 = started }
                        output = Task {
                            for await frame in started.output {
                                let channel: String = switch frame.channel {
                                case .stdout: "stdout"
                                case .stderr: "stderr"
                                case .error: "error"
                                default: ""
                                }
                                guard let id = streams.withLock({ $0[channel] }) else { continue }
                                if frame.channel == .error {
                                    if let payload = version.errorChannelPayload(statusJSON: frame.payload) { writer.send(.data(streamID: id, bytes: payload, fin: false)) }
                                    break
                                }
                                await writer.sendData(streamID: id, bytes: frame.payload, fin: false)
                            }
                            // Every stream the server writes to ends; the client's copies and its
                            // wait for the error stream end with them.
                            for id in streams.withLock({ Array($0.values) }) { writer.send(.data(streamID: id, bytes: [], fin: true)) }
                            writer.send(.goAway)
                            await writer.flush()
                            stop()
                        }
                    case let .data(id, flags, payload):
                        switch types[id] {
                        case "stdin":
                            if !payload.isEmpty { await session?.receive(StreamFrame(.stdin, payload)) }
                            if flags & SPDYFrame.flagFin != 0 { session?.clientClosedStdin() }
                        case "resize":
                            // kubectl writes each size as a JSON document and a newline.
                            resizes += payload
                            while let newline = resizes.firstIndex(of: UInt8(ascii: "\n")) {
                                let document = Array(resizes[..<newline])
                                resizes.removeFirst(newline + 1)
                                if !document.isEmpty { await session?.receive(StreamFrame(.resize, document)) }
                            }
                        default:
                            break
                        }
                    case let .ping(id):
                        writer.send(.ping(id: id))
                    case .goAway:
                        return
                    default:
                        break
                    }
                }
            } onGracefulShutdown: {
                current.withLock { $0 }?.close(failure: APIStatus(message: "the agent is shutting down", reason: "ServiceUnavailable", code: 503))
            }
        } catch {
            logger.debug("a SPDY stream session ended: \(error)")
        }
        // The session is over, or the client is gone (an exec'd process then is stopped).
        session?.close()
        await output?.value
    }
}

/// A port-forward session on a SPDY connection (`portforward.k8s.io`): for each connection the
/// client forwards, an error stream and a data stream with one `requestID`. The data stream's
/// bytes go to the pod's port and back; what goes wrong is written on the error stream, which
/// ends (with the data stream) when the pod's side of the connection closes.
struct PortForwardSession {
    let target: StreamingTarget
    let endpoints: StreamingEndpoints
    let writer: SPDYWriter
    let eventLoop: any EventLoop
    let logger: Logger

    func run(_ inbound: NIOAsyncChannelInboundStream<ByteBuffer>, compression: SPDYHeaderCompression) async {
        var errorStreams: [String: UInt32] = [:]
        var connections: [UInt32: PodPortConnection] = [:]
        let (frames, _) = SPDYStreams.frames(inbound)
        let writer = self.writer, eventLoop = self.eventLoop, target = self.target, endpoints = self.endpoints
        await withTaskGroup(of: Void.self) { group in
            do {
                try await withGracefulShutdownHandler {
                    for try await frame in frames {
                        switch frame {
                        case let .synStream(id, _, _, _, block):
                            let headers = try compression.decompress(block)
                            writer.send(.reply(streamID: id))
                            func header(_ name: String) -> String? { headers.first { $0.name == name }?.value }
                            let requestID = header("requestid") ?? ""
                            switch header("streamtype") {
                            case "error":
                                errorStreams[requestID] = id
                            case "data":
                                let connection = PodPortConnection()
                                connections[id] = connection
                                let errorID = errorStreams[requestID], port = header("port")
                                group.addTask {
                                    await PortForwardSession.forward(connection, target: target, endpoints: endpoints, port: port, dataID: id, errorID: errorID,
                                                                     writer: writer, eventLoop: eventLoop)
                                }
                            default:
                                break
                            }
                        case let .data(id, flags, payload):
                            guard let connection = connections[id] else { continue }
                            if !payload.isEmpty { connection.send(payload) }
                            if flags & SPDYFrame.flagFin != 0 { connection.finishSending() }
                        case let .rstStream(id, _):
                            connections.removeValue(forKey: id)?.cancel()
                        case let .ping(id):
                            writer.send(.ping(id: id))
                        case .goAway:
                            return
                        default:
                            break
                        }
                    }
                } onGracefulShutdown: {}
            } catch {
                logger.debug("a port-forward connection ended: \(error)")
            }
            // The client is gone: every forwarded connection goes with it.
            for connection in connections.values { connection.cancel() }
            group.cancelAll()
        }
    }

    static func forward(_ connection: PodPortConnection, target: StreamingTarget, endpoints: StreamingEndpoints, port portHeader: String?,
                        dataID: UInt32, errorID: UInt32?, writer: SPDYWriter, eventLoop: any EventLoop) async {
        func end(error message: String?) {
            if let errorID, let message { writer.send(.data(streamID: errorID, bytes: Array(message.utf8), fin: false)) }
            writer.send(.data(streamID: dataID, bytes: [], fin: true))
            if let errorID { writer.send(.data(streamID: errorID, bytes: [], fin: true)) }
        }
        let port: UInt16, netns: String, fd: Int32
        do {
            port = try PortForwardProtocol.port(portHeader)
            netns = try await endpoints.backend.portForwardNamespace(namespace: target.namespace, name: target.name)
            fd = try await PodPort.connect(netns: netns, port: port)
        } catch {
            return end(error: "error forwarding port \(portHeader ?? "") to pod \(target.namespace)/\(target.name): \(error)")
        }
        do {
            let channel = try await ClientBootstrap(group: eventLoop).withConnectedSocket(fd) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel, configuration: .init(isOutboundHalfClosureEnabled: true))
                }
            }
            try await channel.executeThenClose { inbound, outbound in
                await withTaskGroup(of: Void.self) { group in
                    group.addTask {
                        for await bytes in connection.toPod {
                            do { try await outbound.write(ByteBuffer(bytes: bytes)) } catch { break }
                        }
                        // The client's end of its stream is the pod's end of file.
                        outbound.finish()
                    }
                    do {
                        for try await buffer in inbound { await writer.sendData(streamID: dataID, bytes: Array(buffer: buffer), fin: false) }
                    } catch {}
                    connection.cancel()
                    await group.waitForAll()
                }
            }
            end(error: nil)
        } catch {
            end(error: "error forwarding port \(port) to pod \(target.namespace)/\(target.name): \(error)")
        }
    }
}

/// What the client sends to one forwarded connection, queued until the pod's side is connected.
final class PodPortConnection: Sendable {
    let toPod: AsyncStream<[UInt8]>
    private let continuation: AsyncStream<[UInt8]>.Continuation

    init() {
        let (toPod, continuation) = AsyncStream<[UInt8]>.makeStream()
        self.toPod = toPod
        self.continuation = continuation
    }

    func send(_ bytes: [UInt8]) { continuation.yield(bytes) }
    func finishSending() { continuation.finish() }
    func cancel() { continuation.finish() }
}

/// Connections to a pod's ports, made inside its network namespace: the socket is opened there
/// by the namespace worker (a socket stays in the namespace it was made in) and connected from
/// another thread. As containerd's port-forward does, it dials `localhost` in the pod, so a
/// server listening only on 127.0.0.1 is reached too; nothing is sent from the host's namespace.
public enum PodPort {
    public struct ConnectError: Error, CustomStringConvertible {
        public var description: String
    }

    /// A TCP connection to `127.0.0.1:port` inside the network namespace `netns` (a name under
    /// /run/netns): the socket is made there on the namespace worker, connected on a plain thread.
    public static func connect(netns: String, port: UInt16) async throws -> Int32 {
        let fd = try NetworkNamespace(unchecked: netns).perform {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            return fd >= 0 ? fd : -errno
        }
        guard fd >= 0 else { throw ConnectError(description: "socket: \(String(cString: strerror(-fd)))") }
        return try await withCheckedThrowingContinuation { (done: CheckedContinuation<Int32, any Error>) in
            PlainThread.detachOrRunHere(name: "port-forward") {
                var address = sockaddr_in()
                address.sin_family = sa_family_t(AF_INET)
                address.sin_port = port.bigEndian
                address.sin_addr.s_addr = UInt32(0x7f00_0001).bigEndian
                let result = withUnsafePointer(to: &address) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
                }
                if result == 0 { return done.resume(returning: fd) }
                let code = errno
                close(fd)
                done.resume(throwing: ConnectError(description: "failed to connect to localhost:\(port) inside namespace \"\(netns)\": connect: \(String(cString: strerror(code)))"))
            }
        }
    }
}
