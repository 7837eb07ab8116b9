#if canImport(Glibc)
import Glibc
#endif
import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1

/// A client of one lab agent's Kubernetes-shaped API, over the agent's unix socket.
///
/// Every call either returns the decoded 2xx answer or throws an `APIError`: the server's
/// `Status` object (printed like kubectl prints it), or "the lab is not running" when the
/// socket does not answer.
public struct APIClient: Sendable {
    public let paths: LabPaths

    public init(paths: LabPaths) { self.paths = paths }

    /// One HTTP client per process, made on first use (so argument parsing stays fast).
    /// No read timeout: log follows and watches may stay quiet for a long time.
    static let http: HTTPClient = {
        var configuration = HTTPClient.Configuration(
            redirectConfiguration: .disallow,
            timeout: .init(connect: .seconds(2), read: nil),
            decompression: .disabled)
        configuration.httpVersion = .http1Only
        return HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
    }()

    /// A response whose body has been read in full.
    public struct Response: Sendable {
        public var status: Int
        public var body: Data
    }

    /// Sends a request and reads the whole answer; non-2xx answers throw `APIError`.
    public func send(_ method: HTTPMethod, _ path: String, query: [(String, String)] = [], body: Data? = nil,
                     timeout: Duration = .seconds(60)) async throws -> Response {
        let response = try await execute(method, path, query: query, body: body, timeout: timeout)
        var collected = Data()
        do {
            for try await chunk in response.body {
                collected.append(contentsOf: chunk.readableBytesView)
            }
        } catch {
            throw APIError.interrupted(lab: paths.lab, reason: "\(error)")
        }
        let status = Int(response.status.code)
        guard (200..<300).contains(status) else {
            throw APIError.from(code: status, body: collected)
        }
        return Response(status: status, body: collected)
    }

    /// GET, decoded as `T`.
    public func get<T: Decodable>(_ type: T.Type, _ path: String, query: [(String, String)] = []) async throws -> T {
        try decode(type, from: try await send(.GET, path, query: query).body, path: path)
    }

    /// Sends `body` (JSON) and decodes the answer as `T`.
    public func send<T: Decodable>(_ method: HTTPMethod, _ path: String, json body: Data, query: [(String, String)] = [],
                                   as type: T.Type) async throws -> T {
        try decode(type, from: try await send(method, path, query: query, body: body).body, path: path)
    }

    /// Starts a streaming request (log follow, watch): checks the status, then hands out
    /// the body as it arrives.
    public func stream(_ path: String, query: [(String, String)] = []) async throws -> HTTPClientResponse.Body {
        let response = try await execute(.GET, path, query: query, body: nil, timeout: .seconds(60))
        let status = Int(response.status.code)
        guard (200..<300).contains(status) else {
            var collected = Data()
            for try await chunk in response.body { collected.append(contentsOf: chunk.readableBytesView) }
            throw APIError.from(code: status, body: collected)
        }
        return response.body
    }

    /// Streams newline-delimited JSON values (watch events), decoding each line as `T`.
    public func lines<T: Decodable & Sendable>(_ type: T.Type, _ path: String, query: [(String, String)] = [])
        async throws -> AsyncThrowingStream<T, any Error> {
        let body = try await stream(path, query: query)
        let decoder = JSONDecoder.kubernetes
        return AsyncThrowingStream { continuation in
            let task = Task {
                var pending: [UInt8] = []
                do {
                    for try await chunk in body {
                        pending.append(contentsOf: chunk.readableBytesView)
                        while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                            let line = Data(pending[..<newline])
                            pending.removeSubrange(...newline)
                            if line.allSatisfy({ $0 == 32 || $0 == 13 }) { continue }
                            continuation.yield(try decoder.decode(T.self, from: line))
                        }
                    }
                    if !pending.allSatisfy({ $0 == 32 || $0 == 13 || $0 == 10 }) {
                        continuation.yield(try decoder.decode(T.self, from: Data(pending)))
                    }
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: error)
                }
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }

    private func execute(_ method: HTTPMethod, _ path: String, query: [(String, String)], body: Data?,
                         timeout: Duration) async throws -> HTTPClientResponse {
        var uri = path
        if !query.isEmpty {
            uri += "?" + query.map { "\(Self.percentEncode($0.0))=\(Self.percentEncode($0.1))" }.joined(separator: "&")
        }
        // The HTTP client retries a failed connect until its connect timeout; a lab that is
        // not running at all must be reported at once.
        if access(paths.socket, F_OK) != 0 {
            throw APIError.unreachable(lab: paths.lab, socket: paths.socket, reason: "no socket")
        }
        // Nor must a socket left behind by a killed agent: it refuses every connection, and
        // the client would retry each request for the whole connect timeout.
        if Self.refusesConnections(paths.socket) {
            throw APIError.unreachable(lab: paths.lab, socket: paths.socket, reason: "connection refused")
        }
        guard let url = URL(httpURLWithSocketPath: paths.socket, uri: uri) else {
            throw APIError.unreachable(lab: paths.lab, socket: paths.socket, reason: "the socket path cannot be used in a URL")
        }
        var request = HTTPClientRequest(url: url.absoluteString)
        request.method = method
        request.headers.add(name: "Accept", value: "application/json")
        request.headers.add(name: "User-Agent", value: "podlab")
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(bytes: body))
        }
        let nanoseconds = timeout.components.seconds * 1_000_000_000 + timeout.components.attoseconds / 1_000_000_000
        do {
            return try await Self.http.execute(request, timeout: .nanoseconds(nanoseconds))
        } catch let error as HTTPClientError where error == .deadlineExceeded {
            throw APIError.timeout(lab: paths.lab, what: "\(method) \(path)")
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            throw APIError.unreachable(lab: paths.lab, socket: paths.socket, reason: Self.describe(error))
        }
    }

    /// True when nothing listens on the unix socket at `path` (`connect` fails with ECONNREFUSED).
    static func refusesConnections(_ path: String) -> Bool {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else { return false }
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: bytes) }
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        let rc = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        return rc != 0 && errno == ECONNREFUSED
    }

    private func decode<T: Decodable>(_ type: T.Type, from data: Data, path: String) throws -> T {
        do {
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
