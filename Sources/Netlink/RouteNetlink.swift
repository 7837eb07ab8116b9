#if canImport(Glibc)
import Glibc
#endif
import Netns

/// Typed rtnetlink for one network namespace: links, addresses, routes, neighbours and
/// bridge FDB entries.
///
/// A `RouteNetlink` wraps one `NetlinkTransport` (a netlink socket bound to a namespace, or a
/// recorder in tests). Every change is sent with `NLM_F_ACK`; a failed reply becomes a
/// `KernelError` naming the message (`RTM_NEWLINK`), the object (`veth "h1"`), the namespace,
/// the errno and the kernel's extended-ack text. The operations live in one file per object
/// kind (`Link.swift`, `Veth.swift`, `Route.swift`, …).
///
/// Requests on one instance are serialised by the transport; it can be used from any thread.
public final class RouteNetlink: Sendable {
    /// Where requests go.
    public let transport: any NetlinkTransport

    /// The namespace this instance talks to (nil: the caller's own).
    public var namespace: String? { transport.namespace }

    /// Uses an existing transport (a socket, or a recorder in tests).
    public init(transport: any NetlinkTransport) {
        self.transport = transport
    }

    /// Opens an rtnetlink socket inside `namespace`.
    public convenience init(namespace: NetworkNamespace) throws {
        self.init(transport: try namespace.openSocket(.route))
    }

    /// Creates the network namespace `name` and opens its rtnetlink socket in the same visit of
    /// the namespace worker (cheaper than creating and opening separately).
    public static func createNamespace(_ name: String) throws -> (namespace: NetworkNamespace, netlink: RouteNetlink) {
        let (namespace, socket) = try NetworkNamespace.create(name, openingSocket: .route)
        guard let socket else {
            throw KernelError(operation: "create netns", object: "\"\(name)\"", errno: .noSuchFileOrDirectory, detail: "no rtnetlink socket was opened")
        }
        return (namespace, RouteNetlink(transport: socket))
    }

    // MARK: Sending

    /// Sends one request and waits for its acknowledgement.
    public func perform(_ request: NetlinkRequest) throws {
        try perform(batch: [request])
    }

    /// Sends a change with `NLM_F_ECHO` and returns the notifications the kernel sends back to
    /// the requester (for a created link: the link with its index and MAC), saving a get.
    func performEchoing(_ request: NetlinkRequest) throws -> [NetlinkMessage] {
        try fetch(request.adding(flags: NetlinkFlags.NLM_F_ECHO))
    }

    /// Sends a dump (or a single get with `NLM_F_ACK`) and returns the kernel's messages;
    /// a failure names the request's operation and object.
    func fetch(_ request: NetlinkRequest) throws -> [NetlinkMessage] {
        var request = request
        request.sequence = transport.nextSequence()
        do {
            return try transport.dump(request.bytes)
        } catch let error as KernelError where error.operation == "dump" {
            throw KernelError(operation: request.operation, object: request.object, namespace: namespace, errno: error.errno, detail: error.detail)
        }
    }
}
