import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A plain connection to an agent's unix socket that sends whatever bytes a test gives it, well
/// formed or not, and reads what comes back: what no HTTP client library lets one send.
final class RawAPIConnection {
    let fd: Int32

    /// Connects to `socket`; throws when the connect fails.
    init(socket path: String, receiveTimeout: Double = 10) throws {
        fd = Glibc.socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw RawAPIError("socket: \(String(cString: strerror(errno)))") }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else { close(fd); throw RawAPIError("socket path too long") }
        withUnsafeMutableBytes(of: &address.sun_path) { buffer in
            for (index, byte) in bytes.enumerated() { buffer[index] = byte }
        }
        let rc = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard rc == 0 else {
            let message = String(cString: strerror(errno))
            close(fd)
            throw RawAPIError("connect \(path): \(message)")
        }
        var timeout = timeval(tv_sec: Int(receiveTimeout), tv_usec: Int((receiveTimeout - Double(Int(receiveTimeout))) * 1_000_000))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    deinit { close(fd) }

    /// Sends all of `bytes`; false if the peer closed or the send timed out part-way.
    @discardableResult
    func send(_ bytes: [UInt8]) -> Bool {
        var sent = 0
        while sent < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + sent, $0.count - sent, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { return false }
            sent += n
        }
        return true
    }

    @discardableResult
    func send(_ text: String) -> Bool { send(Array(text.utf8)) }

    /// No more bytes from this side (a request cut short).
    func finishSending() { shutdown(fd, Int32(SHUT_WR)) }

    /// Everything the peer sends until it closes, up to `limit` bytes or the receive timeout.
    func readUntilClosed(limit: Int = 1 << 20) -> [UInt8] {
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while received.count < limit {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n <= 0 { break }
            received += buffer[0..<n]
        }
        return received
    }

    /// True when the peer has closed the connection (a read returns end of file or a reset
    /// within `timeout` seconds); false when it is still open and silent.
    func isClosedByPeer(within timeout: Double) -> Bool {
        var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        guard poll(&poller, 1, Int32(timeout * 1000)) > 0 else { return false }
        var byte: UInt8 = 0
        return recv(fd, &byte, 1, Int32(MSG_PEEK | MSG_DONTWAIT)) <= 0
    }
}

struct RawAPIError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// An HTTP/1.1 answer read off a raw connection: its status code and its body (de-chunked).
struct RawAnswer {
    var code: Int
    var headers: [String: String]
    var body: String

    /// Parses `bytes`; nil when they are not an HTTP answer (the connection closed without one).
    init?(_ bytes: [UInt8]) {
        let text = String(decoding: bytes, as: UTF8.self)
        guard text.hasPrefix("HTTP/1."), let headEnd = text.range(of: "\r\n\r\n") else { return nil }
        let lines = text[..<headEnd.lowerBound].split(separator: "\r\n", omittingEmptySubsequences: false)
        let statusFields = lines[0].split(separator: " ")
        guard statusFields.count >= 2, let code = Int(statusFields[1]) else { return nil }
        self.code = code
        var headers: [String: String] = [:]
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        self.headers = headers
        var body = String(text[headEnd.upperBound...])
        if headers["transfer-encoding"]?.lowercased() == "chunked" {
            var plain = ""
            var rest = Substring(body)
            while let lineEnd = rest.range(of: "\r\n"), let size = Int(rest[..<lineEnd.lowerBound], radix: 16), size > 0 {
                let start = lineEnd.upperBound
                guard let end = rest.index(start, offsetBy: size, limitedBy: rest.endIndex) else { break }
                plain += rest[start..<end]
                rest = rest[end...].dropFirst(2)
            }
            body = plain
        }
        self.body = body
    }

    /// The body as a JSON object (a Kubernetes `Status` for refusals), or nil.
    var json: [String: Any]? {
        (try? JSONSerialization.jsonObject(with: Data(body.utf8))) as? [String: Any]
    }
}

extension TestLab {
    var agentSocket: String { "\(stateRoot)/\(name)/agent.sock" }
    var stateDirectory: String { "\(stateRoot)/\(name)" }

    /// Sends `request` on a fresh connection (half-closing it after when `finish`), reads until
    /// the agent closes, and parses the answer (nil: closed without one).
    func raw(_ request: [UInt8], finish: Bool = true, timeout: Double = 10) throws -> RawAnswer? {
        let connection = try RawAPIConnection(socket: agentSocket, receiveTimeout: timeout)
        connection.send(request)
        if finish { connection.finishSending() }
        return RawAnswer(connection.readUntilClosed())
    }

    func raw(_ request: String, finish: Bool = true, timeout: Double = 10) throws -> RawAnswer? {
        try raw(Array(request.utf8), finish: finish, timeout: timeout)
    }

    /// A well-formed request with `Connection: close`.
    static func request(_ method: String, _ path: String, headers: [String: String] = [:], body: String? = nil) -> String {
        var text = "\(method) \(path) HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
        for (name, value) in headers.sorted(by: { $0.key < $1.key }) { text += "\(name): \(value)\r\n" }
        if let body { text += "Content-Length: \(body.utf8.count)\r\n" }
        return text + "\r\n" + (body ?? "")
    }

    /// The agent's resident memory (kB, `VmRSS` of /proc/PID/status).
    static func residentKilobytes(_ pid: Int32) -> Int? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix("VmRSS:") {
            return Int(line.split(whereSeparator: \.isWhitespace)[1])
        }
        return nil
    }

    /// How many descriptors the process has open.
    /// The process's open sockets (its connections and listeners). Files it opens for its own
    /// work — a container's log and its time index as the container starts writing — are left
    /// out: they come and go whatever the connections do.
    static func openSockets(_ pid: Int32) -> Int {
        guard let fds = try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd") else { return -1 }
        return fds.filter { (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/fd/\($0)"))?.hasPrefix("socket:") == true }.count
    }
}
