#if canImport(Glibc)
import Glibc
#endif
import AsyncAlgorithms
import Foundation
import PodNet
import NIOCore
import NIOHTTP1
import NIOPosix

/// A client of one lab agent's Kubernetes-shaped API, over the agent's unix socket.
///
/// Every call either returns the decoded 2xx answer or throws an `APIError`: the server's
/// `Status` object (printed like kubectl prints it), or "the lab is not running" when the
/// socket does not answer.
public struct APIClient: Sendable {
    public let paths: LabPaths

    public init(paths: LabPaths) { self.paths = paths }

    /// A response whose body has been read in full.
    public struct Response: Sendable {
        public var status: Int
        public var body: Data
    }

    /// Sends a request and reads the whole answer; non-2xx answers throw `APIError`.
    public func send(_ method: HTTPMethod, _ path: String, query: [(String, String)] = [], body: Data? = nil,
                     contentType: String = "application/json", timeout: Duration = .seconds(60)) async throws -> Response {
        let response = try await execute(method, path, query: query, body: body, contentType: contentType, timeout: timeout)
        var collected = Data()
        do {
            for try await chunk in response.body {
                collected.append(contentsOf: chunk.readableBytesView)
            }
        } catch {
            throw APIError.interrupted(lab: paths.lab, reason: "\(error)")
        }
        let status = Int(response.head.status.code)
        guard (200..<300).contains(status) else {
            throw APIError.from(code: status, body: collected)
        }
        return Response(status: status, body: collected)
    }

    /// GET, decoded as `T`.
    public func get<T: Decodable>(_ type: T.Type, _ path: String, query: [(String, String)] = []) async throws -> T {
        try decode(type, from: try await send(.GET, path, query: query).body, path: path)
    }

    /// GET, read as JSON of any shape (PodNet's parser; JSONDecoder walks a `JSONValue` slowly).
    public func json(_ path: String, query: [(String, String)] = []) async throws -> JSONValue {
        let body = try await send(.GET, path, query: query).body
        do { return try JSONReader.value(from: String(decoding: body, as: UTF8.self)) } catch {
            throw APIError.malformed(what: path, reason: "\(error)")
        }
    }

    /// PATCH with `patch` of `type`; the answer is the patched object's JSON.
    public func patch(_ path: String, _ patch: JSONValue, type: PatchType, query: [(String, String)] = []) async throws -> JSONValue {
        let body = try await send(.PATCH, path, query: query, body: Data(patch.jsonText(indent: 0).utf8), contentType: type.rawValue).body
        do { return try JSONReader.value(from: String(decoding: body, as: UTF8.self)) } catch {
            throw APIError.malformed(what: path, reason: "\(error)")
        }
    }

    /// Sends `body` (JSON) and decodes the answer as `T`.
    public func send<T: Decodable>(_ method: HTTPMethod, _ path: String, json body: Data, query: [(String, String)] = [],
                                   as type: T.Type) async throws -> T {
        try decode(type, from: try await send(method, path, query: query, body: body).body, path: path)
    }

    /// Starts a streaming request (log follow, watch): checks the status, then hands out
    /// the body as it arrives.
    public func stream(_ path: String, query: [(String, String)] = []) async throws -> AsyncThrowingStream<ByteBuffer, any Error> {
        try await stream(.GET, path, query: query)
    }

    /// A streaming request with any method and an optional JSON body (e.g. a probe batch whose
    /// results come back as they finish).
    public func stream(_ method: HTTPMethod, _ path: String, query: [(String, String)] = [], body: Data? = nil,
                       timeout: Duration = .seconds(60)) async throws -> AsyncThrowingStream<ByteBuffer, any Error> {
        let response = try await execute(method, path, query: query, body: body, timeout: timeout)
        let status = Int(response.head.status.code)
        guard (200..<300).contains(status) else {
            var collected = Data()
            for try await chunk in response.body { collected.append(contentsOf: chunk.readableBytesView) }
            throw APIError.from(code: status, body: collected)
        }
        return response.body
    }

    /// A session both ways on one exchange (attach): the request body is `input`, sent as it
    /// comes (its end ends the request); the answer's status is checked, then its body streams.
    public func exchange(_ method: HTTPMethod, _ path: String, query: [(String, String)] = [], contentType: String,
                         input: AsyncStream<ByteBuffer>, timeout: Duration = .seconds(60)) async throws -> AsyncThrowingStream<ByteBuffer, any Error> {
        let response = try await execute(method, path, query: query, body: nil, streaming: (contentType, input), timeout: timeout)
        let status = Int(response.head.status.code)
        guard (200..<300).contains(status) else {
            var collected = Data()
            for try await chunk in response.body { collected.append(contentsOf: chunk.readableBytesView) }
            throw APIError.from(code: status, body: collected)
        }
        return response.body
    }

    /// One line of a streamed answer (a watch event's JSON), and when the chunk that ended it
    /// arrived.
    public struct ArrivedLine: Sendable {
        public var text: Data
        public var arrived: ContinuousClock.Instant
    }

    /// Streams the lines of an answer (newline-delimited: watch events) as their chunks arrive,
    /// each stamped with its arrival; blank lines are left out, and a last line without its
    /// newline comes when the answer ends.
    public func arrivingLines(_ path: String, query: [(String, String)] = []) async throws -> AsyncThrowingStream<ArrivedLine, any Error> {
        let body = try await stream(path, query: query)
        func isBlank(_ bytes: some Collection<UInt8>) -> Bool { bytes.allSatisfy { $0 == 32 || $0 == 13 || $0 == 10 } }
        return AsyncThrowingStream { continuation in
            let task = Task {
                var pending: [UInt8] = []
                do {
                    for try await chunk in body {
                        let arrived = ContinuousClock.now
                        pending.append(contentsOf: chunk.readableBytesView)
                        while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                            let line = pending[..<newline]
                            if !isBlank(line) { continuation.yield(ArrivedLine(text: Data(line), arrived: arrived)) }
                            pending.removeSubrange(...newline)
                        }
                    }
                    if !isBlank(pending) { continuation.yield(ArrivedLine(text: Data(pending), arrived: .now)) }
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: error)
                }
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }

    /// Streams newline-delimited JSON values (watch events), decoding each line as `T`.
    public func lines<T: Decodable & Sendable>(_ type: T.Type, _ path: String, query: [(String, String)] = [])
        async throws -> AsyncThrowingStream<T, any Error> {
        let lines = try await arrivingLines(path, query: query)
        let decoder = JSONDecoder.kubernetes
        return AsyncThrowingStream { continuation in
            let task = Task {
                do {
                    for try await line in lines { continuation.yield(try decoder.decode(T.self, from: line.text)) }
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: error)
                }
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }

    /// An answer whose head has arrived; the body streams in as the agent sends it.
    struct StreamingResponse: Sendable {
        var head: HTTPResponseHead
        var body: AsyncThrowingStream<ByteBuffer, any Error>
    }

    /// One HTTP/1.1 exchange on a fresh connection to the agent's unix socket (SwiftNIO).
    /// `timeout` bounds the wait for the answer's head; the body may take as long as it takes
    /// (log follows and watches stay open). A `streaming` request body is sent chunked while
    /// the answer is read, until the answer ends.
    private func execute(_ method: HTTPMethod, _ path: String, query: [(String, String)], body: Data?,
                         contentType: String = "application/json", streaming: (contentType: String, parts: AsyncStream<ByteBuffer>)? = nil,
                         timeout: Duration) async throws -> StreamingResponse {
        var uri = path
        if !query.isEmpty {
            uri += "?" + query.map { "\(Self.percentEncode($0.0))=\(Self.percentEncode($0.1))" }.joined(separator: "&")
        }
        if access(paths.socket, F_OK) != 0 {
            // The lab's directory is root's (0711, not listable): another user may be refused even the socket's existence.
            if errno == EACCES { throw APIError.permissionDenied(lab: paths.lab) }
            throw APIError.unreachable(lab: paths.lab, socket: paths.socket, reason: "no socket")
        }
        let channel: NIOAsyncChannel<HTTPClientResponsePart, HTTPClientRequestPart>
        do {
            channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .connectTimeout(.seconds(2))
                .connect(unixDomainSocketPath: paths.socket) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHTTPClientHandlers()
                        return try NIOAsyncChannel<HTTPClientResponsePart, HTTPClientRequestPart>(wrappingChannelSynchronously: channel)
                    }
                }
        } catch {
            if Self.isPermissionDenied(error) { throw APIError.permissionDenied(lab: paths.lab) }
            throw APIError.unreachable(lab: paths.lab, socket: paths.socket, reason: Self.describe(error))
        }
        var head = HTTPRequestHead(version: .http1_1, method: method, uri: uri)
        head.headers.add(name: "Host", value: "localhost")
        head.headers.add(name: "Accept", value: "application/json")
        head.headers.add(name: "User-Agent", value: "podlab")
        head.headers.add(name: "Connection", value: "close")
        if let streaming {
            head.headers.add(name: "Transfer-Encoding", value: "chunked")
            head.headers.add(name: "Content-Type", value: streaming.contentType)
        } else {
            head.headers.add(name: "Content-Length", value: String(body?.count ?? 0))
        }
        if body != nil { head.headers.add(name: "Content-Type", value: contentType) }
        let requestHead = head
        // Handed over a part at a time: the next part is taken off the connection only once the
        // command took the one before, so a command slower than the agent (`logs -f` into a slow
        // pipe) holds the agent back through the socket instead of buffering the difference here.
        let bodyParts = AsyncThrowingChannel<ByteBuffer, any Error>()
        let headBox = HeadDelivery()
        let exchange = Task {
            do {
                try await channel.executeThenClose { inbound, outbound in
                    var sending: Task<Void, Never>?
                    defer { sending?.cancel() }
                    if let streaming {
                        try await outbound.write(.head(requestHead))
                        sending = Task {
                            for await part in streaming.parts {
                                guard (try? await outbound.write(.body(.byteBuffer(part)))) != nil else { return }
                            }
                            try? await outbound.write(.end(nil))
                        }
                    } else {
                        // One write: the agent may answer and close as soon as it has the head (a body
                        // of length 0), and a later write of the rest would fail on the closed channel.
                        var parts: [HTTPClientRequestPart] = [.head(requestHead)]
                        if let body { parts.append(.body(.byteBuffer(ByteBuffer(bytes: body)))) }
                        parts.append(.end(nil))
                        try await outbound.write(contentsOf: parts)
                    }
                    for try await part in inbound {
                        switch part {
                        case let .head(responseHead): headBox.deliver(.success(responseHead))
                        case let .body(buffer): await bodyParts.send(buffer)
                        case .end: return
                        }
                    }
                }
                headBox.deliver(.failure(APIError.interrupted(lab: paths.lab, reason: "the agent closed the connection without an answer")))
                bodyParts.finish()
            } catch {
                headBox.deliver(.failure(error))
                bodyParts.fail(error)
            }
        }
        let body = AnswerBody(parts: bodyParts, exchange: exchange)
        do {
            let responseHead = try await headBox.wait(timeout: timeout)
            return StreamingResponse(head: responseHead, body: AsyncThrowingStream(unfolding: { try await body.next() }))
        } catch is HeadDelivery.Timeout {
            exchange.cancel()
            throw APIError.timeout(lab: paths.lab, what: "\(method) \(path)")
        } catch let error as APIError {
            throw error
        } catch is CancellationError {
            exchange.cancel()
            throw CancellationError()
        } catch {
            throw APIError.unreachable(lab: paths.lab, socket: paths.socket, reason: Self.describe(error))
        }
    }

    private func decode<T: Decodable>(_ type: T.Type, from data: Data, path: String) throws -> T {
        do {
            // Objects of the model read straight from PodNet's parser: several times faster than
            // going through JSONDecoder's generic Codable walk (apply reads one per manifest).
            if let objectType = T.self as? any JSONObjectCodable.Type {
                let value = try JSONReader.value(from: String(decoding: data, as: UTF8.self))
                return try objectType.init(json: value) as! T
            }
            return try JSONDecoder.kubernetes.decode(type, from: data)
        } catch {
            throw APIError.malformed(what: path, reason: "\(error)")
        }
    }

    /// RFC 3986 unreserved characters pass; everything else is %XX.
    static func percentEncode(_ text: String) -> String {
        var out = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                 UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
                out.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                out += String(format: "%%%02X", byte)
            }
        }
        return out
    }

    /// A connect refused for want of permission (EACCES: the socket is root's).
    static func isPermissionDenied(_ error: any Error) -> Bool {
        if let error = error as? IOError { return error.errnoCode == EACCES }
        let text = "\(error)"
        return text.contains("errno: 13)") || text.contains("Permission denied")
    }

    /// The connect failure in words: "No such file or directory (errno: 2)" reads worse
    /// than "no agent is listening".
    static func describe(_ error: any Error) -> String {
        let text = "\(error)"
        if text.contains("errno: 2)") || text.contains("No such file") { return "no socket" }
        if text.contains("errno: 111)") || text.contains("Connection refused") { return "connection refused" }
        return text
    }
}

extension JSONDecoder {
    /// Decodes Kubernetes JSON (RFC 3339 timestamps are decoded by the model types themselves).
    static var kubernetes: JSONDecoder { JSONDecoder() }
}

/// An answer's body as the command reads it, a part at a time; the exchange (the connection)
/// ends with it, read to its end or dropped. `@unchecked Sendable`: its iterator is used by the
/// one stream that owns it, one `next()` at a time.
final class AnswerBody: @unchecked Sendable {
    private var parts: AsyncThrowingChannel<ByteBuffer, any Error>.AsyncIterator
    private let exchange: Task<Void, Never>

    init(parts: AsyncThrowingChannel<ByteBuffer, any Error>, exchange: Task<Void, Never>) {
        self.parts = parts.makeAsyncIterator()
        self.exchange = exchange
    }

    deinit { exchange.cancel() }

    func next() async throws -> ByteBuffer? { try await parts.next() }
}

/// Hands the response head from the connection's task to the caller, once, with a deadline.
final class HeadDelivery: @unchecked Sendable {
    struct Timeout: Error {}
    private let lock = NSLock()
    private var result: Result<HTTPResponseHead, any Error>?
    private var waiter: CheckedContinuation<HTTPResponseHead, any Error>?

    func deliver(_ value: Result<HTTPResponseHead, any Error>) {
        lock.lock()
        guard result == nil else { lock.unlock(); return }
        result = value
        let waiting = waiter
        waiter = nil
        lock.unlock()
        waiting?.resume(with: value)
    }

    func wait(timeout: Duration) async throws -> HTTPResponseHead {
        let timer = Task {
            try await Task.sleep(for: timeout)
            self.deliver(.failure(Timeout()))
        }
        defer { timer.cancel() }
        return try await withCheckedThrowingContinuation { continuation in
            lock.lock()
            if let result {
                lock.unlock()
                continuation.resume(with: result)
            } else {
                waiter = continuation
                lock.unlock()
            }
        }
    }
}
