#if canImport(Glibc)
import Glibc
#endif

/// The pod's own address, as a server in the pod finds it.
enum PodAddress {
    /// The first IPv4 address of an up, non-loopback interface, in interface order: the pod IP.
    static func primaryIPv4() -> String? {
        var head: UnsafeMutablePointer<ifaddrs>?
        guard getifaddrs(&head) == 0 else { return nil }
        defer { freeifaddrs(head) }
        var found: [(index: UInt32, address: String)] = []
        var cursor = head
        while let entry = cursor {
            cursor = entry.pointee.ifa_next
            let flags = entry.pointee.ifa_flags
            guard let address = entry.pointee.ifa_addr, Int32(address.pointee.sa_family) == AF_INET,
                  flags & UInt32(IFF_UP) != 0, flags & UInt32(IFF_LOOPBACK) == 0 else { continue }
            var buffer = [CChar](repeating: 0, count: Int(INET_ADDRSTRLEN))
            // struct sockaddr_in: sin_addr at offset 4.
            _ = inet_ntop(AF_INET, UnsafeRawPointer(address) + 4, &buffer, socklen_t(buffer.count))
            found.append((if_nametoindex(entry.pointee.ifa_name), String(nulTerminated: buffer)))
        }
        return found.min { $0.index < $1.index }?.address
    }
}
