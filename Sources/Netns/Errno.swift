#if canImport(Glibc)
import Glibc
#endif

/// A POSIX error number with its C name, so callers can write `catch Errno.fileExists`.
public struct Errno: RawRepresentable, Error, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: Int32
    public init(rawValue: Int32) { self.rawValue = rawValue }
    public init(_ code: Int32) { self.rawValue = code }

    /// The errno of the last failed libc call on this thread.
    public static var current: Errno { Errno(errno) }

    public static let notPermitted = Errno(EPERM)
    public static let noSuchFileOrDirectory = Errno(ENOENT)
    public static let noSuchProcess = Errno(ESRCH)
    public static let interrupted = Errno(EINTR)
    public static let badFileDescriptor = Errno(EBADF)
    public static let noChildProcess = Errno(ECHILD)
    public static let resourceTemporarilyUnavailable = Errno(EAGAIN)
    public static let noMemory = Errno(ENOMEM)
    public static let permissionDenied = Errno(EACCES)
    public static let busy = Errno(EBUSY)
    public static let fileExists = Errno(EEXIST)
    public static let noSuchDevice = Errno(ENODEV)
    public static let invalidArgument = Errno(EINVAL)
    public static let noBufferSpace = Errno(ENOBUFS)
    public static let notSupported = Errno(EOPNOTSUPP)
    public static let addressInUse = Errno(EADDRINUSE)
    public static let networkUnreachable = Errno(ENETUNREACH)
    public static let connectionRefused = Errno(ECONNREFUSED)
    public static let timedOut = Errno(ETIMEDOUT)
    public static let notConnected = Errno(ENOTCONN)
    public static let addressNotAvailable = Errno(EADDRNOTAVAIL)
    public static let rangeError = Errno(ERANGE)
    public static let notADirectory = Errno(ENOTDIR)
    public static let tooManySymbolicLinks = Errno(ELOOP)

    /// The C name (`EEXIST`), or `errno N` for numbers without one here.
    public var name: String {
        switch rawValue {
        case EPERM: "EPERM"
        case ENOENT: "ENOENT"
        case ESRCH: "ESRCH"
        case EINTR: "EINTR"
        case EIO: "EIO"
        case EBADF: "EBADF"
        case ECHILD: "ECHILD"
        case EAGAIN: "EAGAIN"
        case ENOMEM: "ENOMEM"
        case EACCES: "EACCES"
        case EBUSY: "EBUSY"
        case EEXIST: "EEXIST"
        case ENODEV: "ENODEV"
        case ENOTDIR: "ENOTDIR"
        case EINVAL: "EINVAL"
        case ENOSPC: "ENOSPC"
        case ERANGE: "ERANGE"
        case ENAMETOOLONG: "ENAMETOOLONG"
        case ENOBUFS: "ENOBUFS"
        case EOPNOTSUPP: "EOPNOTSUPP"
        case EADDRINUSE: "EADDRINUSE"
        case EADDRNOTAVAIL: "EADDRNOTAVAIL"
        case ENETDOWN: "ENETDOWN"
        case ENETUNREACH: "ENETUNREACH"
        case ECONNREFUSED: "ECONNREFUSED"
        case ETIMEDOUT: "ETIMEDOUT"
        case ENOTCONN: "ENOTCONN"
        case EAFNOSUPPORT: "EAFNOSUPPORT"
        case EPROTONOSUPPORT: "EPROTONOSUPPORT"
        case EMSGSIZE: "EMSGSIZE"
        case ELOOP: "ELOOP"
        case ENOTEMPTY: "ENOTEMPTY"
        case E2BIG: "E2BIG"
        case EHOSTUNREACH: "EHOSTUNREACH"
        case EHOSTDOWN: "EHOSTDOWN"
        case ECONNRESET: "ECONNRESET"
        case EINPROGRESS: "EINPROGRESS"
        case EPIPE: "EPIPE"
        case EMFILE: "EMFILE"
        case ENFILE: "ENFILE"
        case EPROTO: "EPROTO"
        case ENONET: "ENONET"
        default: "errno \(rawValue)"
        }
    }

    /// `strerror` text followed by the C name: "File exists (EEXIST)".
    public var description: String { "\(String(cString: strerror(rawValue))) (\(name))" }

    /// Matches an `Errno` or a `KernelError` carrying this errno, so `catch Errno.fileExists` works for both.
    public static func ~= (pattern: Errno, error: any Error) -> Bool {
        if let e = error as? Errno { return e == pattern }
        if let e = error as? KernelError { return e.errno == pattern }
        return false
    }
}
