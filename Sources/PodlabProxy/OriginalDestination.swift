import NIOCore
#if canImport(Glibc)
import Glibc
#endif

/// Where a captured connection was going before the pod's `redirect` rule sent it to the
/// proxy: the kernel keeps it in the connection's conntrack entry and answers
/// `getsockopt(SOL_IP, SO_ORIGINAL_DST)` on the accepted socket with it.
public enum OriginalDestination {
    /// `SO_ORIGINAL_DST` (linux/netfilter_ipv4.h); Glibc does not export it.
    static let SO_ORIGINAL_DST: Int32 = 80
    /// `SOL_IP` is `IPPROTO_IP`.
    static let SOL_IP: Int32 = 0

    struct Missing: Error, CustomStringConvertible {
        var description: String
    }

    /// The original destination of `channel`'s connection (an accepted TCP socket).
    public static func of(_ channel: any Channel) -> EventLoopFuture<SocketAddress> {
        guard let provider = channel as? any SocketOptionProvider else {
            return channel.eventLoop.makeFailedFuture(Missing(description: "the channel is not a socket"))
        }
        let future: EventLoopFuture<sockaddr_in> = provider.unsafeGetSocketOption(level: SocketOptionLevel(SOL_IP),
                                                                                   name: SocketOptionName(SO_ORIGINAL_DST))
        return future.map { address in SocketAddress(address, host: "") }
    }
}

/// An IPv4 address and port, printed `10.96.0.1:80`; the key of endpoint tables and metrics.
public struct Destination: Hashable, Sendable, CustomStringConvertible {
    public var address: String
    public var port: Int

    public init(address: String, port: Int) {
        self.address = address
        self.port = port
    }

    init?(_ socketAddress: SocketAddress?) {
        guard let socketAddress, let address = socketAddress.ipAddress, let port = socketAddress.port else { return nil }
        self.init(address: address, port: port)
    }

    public var description: String { "\(address):\(port)" }
}
