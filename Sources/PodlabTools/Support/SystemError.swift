#if canImport(Glibc)
import Glibc
#endif

/// A failed libc call: the operation (with its object) and the errno.
struct SystemError: Error, CustomStringConvertible {
    var operation: String
    var errno: Int32

    init(_ operation: String, errno: Int32 = Glibc.errno) {
        self.operation = operation
        self.errno = errno
    }

    /// `strerror` text: "Connection refused".
    var message: String { String(cString: strerror(errno)) }

    var description: String { "\(operation): \(message)" }
}

/// Runs a libc call that returns -1 on failure, retrying EINTR.
@discardableResult
@inline(never)
func check<T: FixedWidthInteger>(_ operation: @autoclosure () -> String, _ body: () -> T) throws(SystemError) -> T {
    while true {
        let result = body()
        if result != -1 { return result }
        let code = errno
        if code == EINTR { continue }
        throw SystemError(operation(), errno: code)
    }
}
