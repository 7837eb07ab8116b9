#if canImport(Glibc)
import Glibc
#endif

/// A file descriptor to write text or bytes to, unbuffered: every call is one or more
/// `write(2)`s, so log lines reach a container log as they happen and a signal can end the
/// process without losing buffered output.
struct OutputStream: Sendable {
    let fd: Int32

    static let standardOutput = OutputStream(fd: 1)
    static let standardError = OutputStream(fd: 2)

    /// Writes all of `bytes`; false when the descriptor refuses (closed pipe, full disk).
    @discardableResult
    func write<Bytes: Collection<UInt8>>(bytes: Bytes) -> Bool {
        let array = Array(bytes)
        return array.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let n = Glibc.write(fd, raw.baseAddress! + offset, raw.count - offset)
                if n < 0 {
                    if errno == EINTR { continue }
                    if errno == EAGAIN { var p = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0); _ = poll(&p, 1, -1); continue }
                    return false
                }
                offset += n
            }
            return true
        }
    }

    @discardableResult
    func write(_ text: String) -> Bool { write(bytes: Array(text.utf8)) }

    /// Writes `text` and a newline in one call.
    @discardableResult
    func line(_ text: String) -> Bool { write(bytes: Array(text.utf8) + [0x0A]) }

    var isTerminal: Bool { isatty(fd) == 1 }
}

extension String {
    /// The text of a NUL-terminated C string held in an array.
    init(nulTerminated buffer: [CChar]) {
        let bytes = buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }
        self = String(decoding: bytes, as: UTF8.self)
    }
}

/// Reads everything from `fd` until end of file.
func readAll(fd: Int32) throws(SystemError) -> [UInt8] {
    var result: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = try check("read") { buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) } }
        if n == 0 { return result }
        result.append(contentsOf: buffer[0..<n])
    }
}
