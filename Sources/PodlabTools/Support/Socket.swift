#if canImport(Glibc)
import Glibc
#endif
import CNetlink

/// An IPv4 or IPv6 socket address (`sockaddr_in`/`sockaddr_in6` in a `sockaddr_storage`).
struct SocketAddress: CustomStringConvertible {
    var storage = sockaddr_storage()
    var length: socklen_t

    /// An address from an IP literal (`10.244.1.2`, `::1`) and a port; nil if `ip` is no literal.
    init?(ip: String, port: UInt16) {
        var v4 = sockaddr_in()
        if inet_pton(AF_INET, ip, &v4.sin_addr) == 1 {
            v4.sin_family = sa_family_t(AF_INET)
            v4.sin_port = port.bigEndian
            length = socklen_t(MemoryLayout<sockaddr_in>.size)
            withUnsafeMutableBytes(of: &storage) { raw in withUnsafeBytes(of: v4) { raw.copyMemory(from: $0) } }
            return
        }
        var v6 = sockaddr_in6()
        if inet_pton(AF_INET6, ip, &v6.sin6_addr) == 1 {
            v6.sin6_family = sa_family_t(AF_INET6)
            v6.sin6_port = port.bigEndian
            length = socklen_t(MemoryLayout<sockaddr_in6>.size)
            withUnsafeMutableBytes(of: &storage) { raw in withUnsafeBytes(of: v6) { raw.copyMemory(from: $0) } }
            return
        }
        return nil
    }

    init(storage: sockaddr_storage, length: socklen_t) {
        self.storage = storage
        self.length = length
    }

    var family: Int32 { Int32(storage.ss_family) }

    /// The address as text, without port: `10.244.1.2`, `::1`.
    var ip: String {
        var copy = storage
        var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        withUnsafePointer(to: &copy) { pointer in
            pointer.withMemoryRebound(to: UInt8.self, capacity: MemoryLayout<sockaddr_storage>.size) { bytes in
                if family == AF_INET {
                    _ = inet_ntop(AF_INET, bytes + 4, &buffer, socklen_t(buffer.count))
                } else {
                    _ = inet_ntop(AF_INET6, bytes + 8, &buffer, socklen_t(buffer.count))
                }
            }
        }
        return String(nulTerminated: buffer)
    }

    var port: UInt16 {
        withUnsafeBytes(of: storage) { raw in UInt16(bigEndian: raw.load(fromByteOffset: 2, as: UInt16.self)) }
    }

    /// `10.244.1.2:80` or `[::1]:80`.
    var description: String { family == AF_INET6 ? "[\(ip)]:\(port)" : "\(ip):\(port)" }

    func withSockaddr<T>(_ body: (UnsafePointer<sockaddr>, socklen_t) -> T) -> T {
        withUnsafeBytes(of: storage) { raw in body(raw.baseAddress!.assumingMemoryBound(to: sockaddr.self), length) }
    }
}

/// What a socket operation ended with when it did not fail.
enum IOOutcome<Value> {
    case done(Value)
    case timedOut
}

/// A non-blocking socket that owns its descriptor (closed on deinit). Blocking-style calls
/// take a deadline and wait with `poll`.
final class Socket {
    let fd: Int32

    init(adopting fd: Int32) { self.fd = fd }

    /// A new non-blocking, close-on-exec socket.
    init(family: Int32, datagram: Bool = false) throws(SystemError) {
        let type = (datagram ? Int32(SOCK_DGRAM.rawValue) : Int32(SOCK_STREAM.rawValue)) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue)
        fd = try check("socket") { Glibc.socket(family, type, 0) }
    }

    deinit { close(fd) }

    func setOption(_ level: Int32, _ name: Int32, _ value: Int32) {
        var v = value
        setsockopt(fd, level, name, &v, socklen_t(MemoryLayout<Int32>.size))
    }

    func bind(_ address: SocketAddress) throws(SystemError) {
        try check("bind") { address.withSockaddr { Glibc.bind(fd, $0, $1) } }
    }

    func listen(backlog: Int32 = 511) throws(SystemError) {
        try check("listen") { Glibc.listen(fd, backlog) }
    }

    /// A listening TCP socket on `address` with SO_REUSEADDR (as nginx and Apache set it).
    static func listening(on address: SocketAddress, backlog: Int32 = 511) throws(SystemError) -> Socket {
        let socket = try Socket(family: address.family)
        socket.setOption(SOL_SOCKET, SO_REUSEADDR, 1)
        try socket.bind(address)
        try socket.listen(backlog: backlog)
        return socket
    }

    /// A bound UDP socket on `address`.
    static func datagram(boundTo address: SocketAddress) throws(SystemError) -> Socket {
        let socket = try Socket(family: address.family, datagram: true)
        socket.setOption(SOL_SOCKET, SO_REUSEADDR, 1)
        try socket.bind(address)
        return socket
    }

    var localAddress: SocketAddress? {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let rc = withUnsafeMutablePointer(to: &storage) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
        return rc == 0 ? SocketAddress(storage: storage, length: length) : nil
    }

    var peerAddress: SocketAddress? {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let rc = withUnsafeMutablePointer(to: &storage) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getpeername(fd, $0, &length) } }
        return rc == 0 ? SocketAddress(storage: storage, length: length) : nil
    }

    /// Accepts one pending connection (non-blocking, close-on-exec); nil when none is pending.
    func accept() throws(SystemError) -> (Socket, SocketAddress)? {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        while true {
            // accept4 (a _GNU_SOURCE symbol, through the C shim): non-blocking and close-on-exec at once.
            let client = withUnsafeMutablePointer(to: &storage) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pl_accept_nonblocking(fd, $0, &length) }
            }
            if client >= 0 {
                return (Socket(adopting: client), SocketAddress(storage: storage, length: length))
            }
            switch -client {
            case EINTR: continue
            case EAGAIN, ECONNABORTED, EPROTO: return nil
            default: throw SystemError("accept")
            }
        }
    }

    /// Waits until the socket is ready for `events`; false when the deadline passed first.
    func wait(for events: Int32, until deadline: Deadline?) throws(SystemError) -> Bool {
        var entry = pollfd(fd: fd, events: Int16(events), revents: 0)
        while true {
            let rc = poll(&entry, 1, pollTimeout(deadline))
            if rc > 0 { return true }
            if rc == 0 { return false }
            if errno != EINTR { throw SystemError("poll") }
        }
    }

    /// Connects, waiting until `deadline`. Throws the connect errno (ECONNREFUSED,
    /// EHOSTUNREACH, …); `.timedOut` when the deadline passed first.
    func connect(to address: SocketAddress, until deadline: Deadline?) throws(SystemError) -> IOOutcome<Void> {
        let rc = address.withSockaddr { Glibc.connect(fd, $0, $1) }
        if rc == 0 { return .done(()) }
        guard errno == EINPROGRESS || errno == EINTR else { throw SystemError("connect") }
        guard try wait(for: Int32(POLLOUT), until: deadline) else { return .timedOut }
        var error: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length)
        if error != 0 { throw SystemError("connect", errno: error) }
        return .done(())
    }

    /// Sends all of `bytes` (MSG_NOSIGNAL: a closed peer is EPIPE, not SIGPIPE).
    func send(_ bytes: [UInt8], until deadline: Deadline?) throws(SystemError) -> IOOutcome<Void> {
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + offset, $0.count - offset, Int32(MSG_NOSIGNAL)) }
            if n >= 0 { offset += n; continue }
            switch errno {
            case EINTR: continue
            case EAGAIN: if try !wait(for: Int32(POLLOUT), until: deadline) { return .timedOut }
            default: throw SystemError("send")
            }
        }
        return .done(())
    }

    /// Sends what the socket takes now without waiting; returns the count sent.
    func sendAvailable(_ bytes: ArraySlice<UInt8>) throws(SystemError) -> Int {
        while true {
            let n = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress!, $0.count, Int32(MSG_NOSIGNAL)) }
            if n >= 0 { return n }
            switch errno {
            case EINTR: continue
            case EAGAIN: return 0
            default: throw SystemError("send")
            }
        }
    }

    /// Receives up to `maximum` bytes: an empty array means the peer closed.
    func receive(maximum: Int = 65536, until deadline: Deadline?) throws(SystemError) -> IOOutcome<[UInt8]> {
        var buffer = [UInt8](repeating: 0, count: maximum)
        while true {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n >= 0 { return .done(Array(buffer[0..<n])) }
            switch errno {
            case EINTR: continue
            case EAGAIN: if try !wait(for: Int32(POLLIN), until: deadline) { return .timedOut }
            default: throw SystemError("recv")
            }
        }
    }

    /// Receives what is there now: nil when nothing is, an empty array when the peer closed.
    func receiveAvailable(maximum: Int = 65536) throws(SystemError) -> [UInt8]? {
        while true {
            var n = 0
            // Uninitialised storage: the kernel fills what it returns, nothing is zeroed first.
            let buffer = [UInt8](unsafeUninitializedCapacity: maximum) { storage, count in
                n = recv(fd, storage.baseAddress, storage.count, 0)
                count = max(0, n)
            }
            if n >= 0 { return buffer }
            switch errno {
            case EINTR: continue
            case EAGAIN: return nil
            default: throw SystemError("recv")
            }
        }
    }

    /// One datagram and its sender, if one is waiting.
    func receiveDatagram(maximum: Int = 65536) throws(SystemError) -> ([UInt8], SocketAddress)? {
        var buffer = [UInt8](repeating: 0, count: maximum)
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        while true {
            let n = buffer.withUnsafeMutableBytes { raw in
                withUnsafeMutablePointer(to: &storage) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { recvfrom(fd, raw.baseAddress, raw.count, 0, $0, &length) }
                }
            }
            if n >= 0 { return (Array(buffer[0..<n]), SocketAddress(storage: storage, length: length)) }
            switch errno {
            case EINTR: continue
            case EAGAIN: return nil
            default: throw SystemError("recvfrom")
            }
        }
    }

    func sendDatagram(_ bytes: [UInt8], to address: SocketAddress) throws(SystemError) {
        try check("sendto") {
            bytes.withUnsafeBytes { raw in address.withSockaddr { sendto(fd, raw.baseAddress, raw.count, Int32(MSG_NOSIGNAL), $0, $1) } }
        }
    }

    /// Half-closes: the peer reads end of file, replies can still arrive.
    func shutdownWrite() { _ = shutdown(fd, Int32(SHUT_WR)) }
    /// Ends listening: the port refuses new connections. Connections still in the backlog
    /// are reset (accept them first), accepted ones are not touched.
    func stopListening() { _ = shutdown(fd, Int32(SHUT_RD)) }
}
