#if canImport(Glibc)
import Glibc
#endif

/// Runs a libc call that returns -1 and sets errno on failure; retries EINTR and throws a
/// `KernelError` naming the operation and object otherwise.
@discardableResult
@inline(never)
func syscall<T: FixedWidthInteger>(_ operation: String, _ object: String, namespace: String? = nil, _ body: () -> T) throws(KernelError) -> T {
    while true {
        let result = body()
        if result != -1 { return result }
        let code = errno
        if code == EINTR { continue }
        throw KernelError(operation: operation, object: object, namespace: namespace, errno: Errno(code))
    }
}

/// Runs a CNetlink shim call that returns -errno on failure; throws a `KernelError`.
@discardableResult
func shimCall<T: SignedInteger & FixedWidthInteger>(_ operation: String, _ object: String, namespace: String? = nil, _ body: () -> T) throws(KernelError) -> T {
    while true {
        let result = body()
        if result >= 0 { return result }
        if result == T(-EINTR) { continue }
        throw KernelError(operation: operation, object: object, namespace: namespace, errno: Errno(-Int32(truncatingIfNeeded: result)))
    }
}
