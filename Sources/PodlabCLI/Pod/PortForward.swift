#if canImport(Glibc)
import Glibc
#endif
import ArgumentParser
import Foundation
import Netns
import PodlabAgent
import PodNet

/// `podlab port-forward [pod/]NAME [LOCAL:]REMOTE…`: listens on the host's loopback and carries
/// each connection to `localhost:REMOTE` inside the pod's network namespace, as kubectl's
/// port-forward does through the kubelet. The socket in the pod is made here (this process is
/// root, as for `exec`), so no route or address ever joins the host to the lab: the bytes go
/// from one socket to the other in this process.
public struct PortForward: PodlabCommand {
    public static let configuration = CommandConfiguration(
        commandName: "port-forward",
        abstract: "Forward one or more local ports to a pod.",
        discussion: """
            Examples:
              podlab port-forward pod/web 8080:80      # 127.0.0.1:8080 → port 80 in the pod
              podlab port-forward web :80              # a port the kernel picks
              podlab port-forward web 5000 6000        # 5000 → 5000 and 6000 → 6000
            """)

    @OptionGroup public var scope: ScopeOptions

    @Option(name: .customLong("address"), help: "Addresses to listen on (comma separated): only localhost, 127.0.0.1 and ::1.")
    public var address = "localhost"

    @Argument(help: "The pod: NAME or pod/NAME.")
    public var target: String

    @Argument(help: "[LOCAL_PORT:]REMOTE_PORT, one or more; an empty or 0 LOCAL_PORT lets the kernel pick one.")
    public var ports: [String] = []

    public init() {}

    public func execute(_ context: CommandContext) async throws -> Int32 {
        guard !ports.isEmpty else { throw CLIError("at least 1 PORT is required for port-forward") }
        let mappings: [PortForwardSpec], listenAddresses: [PortForwardSpec.ListenAddress]
        do {
            mappings = try ports.map { port throws(PortForwardSpec.ParseError) in try PortForwardSpec.parse(port) }
            listenAddresses = try PortForwardSpec.loopbackAddresses(address)
        } catch {
            throw CLIError(error.description)
        }
        let name = try Self.podName(target)
        let client = scope.client(context)
        let namespace = scope.resolvedNamespace
        let pod = try await client.get(Pod.self, APIPath.pod(namespace, name))
        guard pod.status.phase == .running else {
            throw CLIError("unable to forward port because pod is not running. Current status=\(pod.status.phase?.rawValue ?? "Pending")")
        }
        let sandbox = try await client.get(PodSandbox.self, PodSandbox.path(namespace: namespace, pod: name))

        var listeners: [(fd: Int32, local: UInt16, remote: UInt16)] = []
        do {
            for mapping in mappings {
                var local = mapping.local
                var bound = 0
                for listenAddress in listenAddresses {
                    guard let fd = try Self.listen(listenAddress, port: local, required: listenAddress.isIPv4) else { continue }
                    local = Self.boundPort(fd)
                    listeners.append((fd, local, mapping.remote))
                    bound += 1
                    context.stdout.line("Forwarding from \(listenAddress.isIPv4 ? listenAddress.text : "[\(listenAddress.text)]"):\(local) -> \(mapping.remote)")
                }
                if bound == 0 { throw CLIError("unable to listen on any of the requested ports: [{\(mapping.local) \(mapping.remote)}]") }
            }
        } catch {
            for listener in listeners { close(listener.fd) }
            throw error
        }
        let output = context.stdout, errors = context.stderr, netns = sandbox.netns
        let podName = name
        // Each listener accepts on a plain thread; each connection is carried by one more.
        await withTaskGroup(of: Void.self) { group in
            for listener in listeners {
                group.addTask {
                    await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
                        PlainThread.detachOrRunHere(name: "forward-\(listener.local)") {
                            while true {
                                // accept4 is hidden from Swift (a _GNU_SOURCE symbol): the flag is set right away.
                                let connection = accept(listener.fd, nil, nil)
                                if connection < 0 {
                                    if errno == EINTR || errno == ECONNABORTED { continue }
                                    break
                                }
                                _ = fcntl(connection, F_SETFD, FD_CLOEXEC)
                                output.line("Handling connection for \(listener.local)")
                                Task {
                                    do {
                                        let inPod = try await PodPort.connect(netns: netns, port: listener.remote)
                                        PlainThread.detachOrRunHere(name: "forward") { Self.relay(connection, inPod) }
                                    } catch {
                                        errors.line("E\(Self.klogStamp()) error forwarding port \(listener.remote) to pod \(podName): \(error)")
                                        close(connection)
                                    }
                                }
                            }
                            done.resume()
                        }
                    }
                }
            }
        }
        return 0
    }

    /// `NAME` or `pod/NAME` (`pods/NAME`, `po/NAME`); other kinds are refused by name.
    static func podName(_ target: String) throws -> String {
        let parts = target.split(separator: "/", maxSplits: 1).map(String.init)
        if parts.count == 1 { return parts[0] }
        guard ["pod", "pods", "po"].contains(parts[0].lowercased()) else {
            throw CLIError("podlab port-forward forwards to pods only: \(target) is a \(parts[0]) (name one of its pods)")
        }
        return parts[1]
    }

    static func listen(_ address: PortForwardSpec.ListenAddress, port: UInt16, required: Bool) throws -> Int32? {
        let family = address.isIPv4 ? AF_INET : AF_INET6
        let fd = socket(family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw CLIError("socket: \(String(cString: strerror(errno)))") }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        let result: Int32
        if address.isIPv4 {
            var sin = sockaddr_in()
            sin.sin_family = sa_family_t(AF_INET)
            sin.sin_port = port.bigEndian
            sin.sin_addr.s_addr = UInt32(0x7f00_0001).bigEndian
            result = withUnsafePointer(to: &sin) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        } else {
            setsockopt(fd, Int32(IPPROTO_IPV6), IPV6_V6ONLY, &one, socklen_t(MemoryLayout<Int32>.size))
            var sin6 = sockaddr_in6()
            sin6.sin6_family = sa_family_t(AF_INET6)
            sin6.sin6_port = port.bigEndian
            sin6.sin6_addr = in6addr_loopback
            result = withUnsafePointer(to: &sin6) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in6>.size)) } }
        }
        guard result == 0, Glibc.listen(fd, 128) == 0 else {
            let code = errno
            close(fd)
            // kubectl goes on without an address family the host lacks; a taken port on IPv4 is an error.
            if !required { return nil }
            throw CLIError("unable to listen on port \(port): listen tcp4 127.0.0.1:\(port): bind: \(String(cString: strerror(code)))")
        }
        return fd
    }

    static func boundPort(_ fd: Int32) -> UInt16 {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        _ = withUnsafeMutablePointer(to: &storage) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
        let family = storage.ss_family
        return withUnsafePointer(to: &storage) { pointer in
            family == sa_family_t(AF_INET)
                ? pointer.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { UInt16(bigEndian: $0.pointee.sin_port) }
                : pointer.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { UInt16(bigEndian: $0.pointee.sin6_port) }
        }
    }

    /// Copies both ways until both directions ended: an end of file on one side is passed on as
    /// a shutdown of writing on the other, so a client that half-closes still gets its answer.
    static func relay(_ a: Int32, _ b: Int32) {
        defer { close(a); close(b) }
        var open = [true, true]  // a→b, b→a
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        while open[0] || open[1] {
            var fds = [pollfd(fd: open[0] ? a : -1, events: Int16(POLLIN), revents: 0),
                       pollfd(fd: open[1] ? b : -1, events: Int16(POLLIN), revents: 0)]
            if poll(&fds, 2, -1) < 0 {
                if errno == EINTR { continue }
                return
            }
            for (index, (from, to)) in [(a, b), (b, a)].enumerated() where open[index] && fds[index].revents != 0 {
                let count = read(from, &buffer, buffer.count)
                if count <= 0 {
                    if count < 0 && errno == EINTR { continue }
                    open[index] = false
                    shutdown(to, Int32(SHUT_WR))
                    // A reset (or an error) ends both directions.
                    if count < 0 { return }
                    continue
                }
                var offset = 0
                while offset < count {
                    let written = buffer.withUnsafeBytes { write(to, $0.baseAddress! + offset, count - offset) }
                    if written < 0 {
                        if errno == EINTR { continue }
                        return
                    }
                    offset += written
                }
            }
        }
    }

    /// klog's line header date, as kubectl prints its errors (`E1207 05:10:00.123456`).
    static func klogStamp() -> String {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        var time = tm()
        var seconds = now.tv_sec
        gmtime_r(&seconds, &time)
        return String(format: "%02d%02d %02d:%02d:%02d.%06d", time.tm_mon + 1, time.tm_mday, time.tm_hour, time.tm_min, time.tm_sec,
                      Int(now.tv_nsec / 1000))
    }
}
