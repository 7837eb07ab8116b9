#if canImport(Glibc)
import Glibc
#endif
import Netns

/// Network sysctls of one network namespace (`/proc/sys/net/…`).
///
/// The files under `/proc/sys/net` belong to the network namespace of the thread that opens
/// them, so the namespace worker opens and writes them while it is inside the namespace.
/// Only keys under `net/` are accepted (everything else under /proc/sys is host-wide), and the
/// caller's own namespace is refused: podlab never changes the host's settings.
public enum Sysctl {
    /// One setting: a key relative to /proc/sys, such as `net/ipv4/ip_forward`, and its value.
    public struct Setting: Sendable, Hashable, CustomStringConvertible {
        /// Relative to /proc/sys, slash-separated: `net/ipv4/ip_forward`.
        public var key: String
        /// What is written, without a newline: `1`.
        public var value: String
        /// Skipped without error when the key does not exist in the namespace (a kernel without
        /// that protocol, e.g. booted with `ipv6.disable=1`).
        public var ifPresent: Bool

        /// A setting of `key` to `value`.
        public init(_ key: String, _ value: String, ifPresent: Bool = false) {
            self.key = key
            self.value = value
            self.ifPresent = ifPresent
        }

        public var description: String { "\(key) = \(value)" }
    }

    /// `net/ipv4/ip_forward = 1`: route between interfaces (a node between its pods).
    public static let ipForwarding = Setting("net/ipv4/ip_forward", "1")

    /// `net/ipv6/conf/default/addr_gen_mode = 1` (none): interfaces created afterwards in the
    /// namespace get no IPv6 link-local address, so they send no duplicate-address detection,
    /// router solicitation or MLD reports — on a bridge with hundreds of ports each of those is
    /// flooded to every port. IPv6 stays enabled (`::1` on lo, addresses can still be added).
    /// Skipped on a kernel without IPv6.
    public static let noIPv6LinkLocal = Setting("net/ipv6/conf/default/addr_gen_mode", "1", ifPresent: true)

    /// Checks a key: `net/…`, slash-separated, no empty, `.` or `..` parts, no whitespace.
    public static func validate(key: String) throws(ValidationError) {
        let field = "sysctl key"
        guard key.hasPrefix("net/") else {
            throw ValidationError(field: field, value: key, reason: "only network sysctls (net/…) are per namespace; others would change the host")
        }
        guard key.utf8.count <= 255 else {
            throw ValidationError(field: field, value: key, reason: "is longer than 255 bytes")
        }
        for part in key.split(separator: "/", omittingEmptySubsequences: false) {
            guard !part.isEmpty, part != ".", part != ".." else {
                throw ValidationError(field: field, value: key, reason: "has an empty, '.' or '..' component")
            }
        }
        guard key.utf8.allSatisfy({ $0 > 0x20 && $0 != 0x7F }) else {
            throw ValidationError(field: field, value: key, reason: "must not contain whitespace or control characters")
        }
    }

    static func validate(value: String, key: String) throws(ValidationError) {
        guard !value.isEmpty, value.utf8.count <= 1024, !value.utf8.contains(where: { $0 == 0x0A || $0 == 0 }) else {
            throw ValidationError(field: "sysctl value for \(key)", value: value, reason: "must be one non-empty line of at most 1024 bytes")
        }
    }

    /// Writes one setting inside `namespace`.
    public static func set(_ key: String, to value: String, in namespace: NetworkNamespace) throws {
        try set([Setting(key, value)], in: namespace)
    }

    /// Writes several settings inside `namespace`, in order, in one visit of the namespace worker.
    /// Stops at the first failure, naming the key.
    public static func set(_ settings: [Setting], in namespace: NetworkNamespace) throws {
        try validate(settings)
        try refuseHostNamespace(namespace)
        try namespace.perform { try write(settings, namespaceName: namespace.name) }
    }

    private static func validate(_ settings: [Setting]) throws {
        for setting in settings {
            try validate(key: setting.key)
            try validate(value: setting.value, key: setting.key)
        }
    }

    private static func write(_ settings: [Setting], namespaceName: String) throws {
        for setting in settings {
            let path = "/proc/sys/" + setting.key
            let fd = open(path, O_WRONLY | O_CLOEXEC)
            if fd < 0 {
                let code = Errno.current
                if code == .noSuchFileOrDirectory && setting.ifPresent { continue }
                throw KernelError(operation: "open", object: path, namespace: namespaceName, errno: code,
                                  detail: code == .noSuchFileOrDirectory ? "no such sysctl in this namespace" : nil)
            }
            defer { close(fd) }
            let bytes = Array(setting.value.utf8)
            let written = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
            if written < 0 {
                throw KernelError(operation: "write", object: path, namespace: namespaceName, errno: .current)
            }
        }
    }

    /// Reads a setting inside `namespace` (trailing newline removed).
    public static func value(_ key: String, in namespace: NetworkNamespace) throws -> String {
        try validate(key: key)
        let path = "/proc/sys/" + key
        let bytes: [UInt8] = try namespace.perform {
            let fd = open(path, O_RDONLY | O_CLOEXEC)
            if fd < 0 { throw KernelError(operation: "open", object: path, namespace: namespace.name, errno: .current) }
            defer { close(fd) }
            var buffer = [UInt8](repeating: 0, count: 4096)
            let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0 { throw KernelError(operation: "read", object: path, namespace: namespace.name, errno: .current) }
            return Array(buffer[0..<count])
        }
        var text = String(decoding: bytes, as: UTF8.self)
        while text.last == "\n" { text.removeLast() }
        return text
    }

    /// Refuses a namespace file that is the caller's own network namespace.
    static func refuseHostNamespace(_ namespace: NetworkNamespace) throws {
        var target = stat(), own = stat()
        guard stat(namespace.path, &target) == 0 else {
            throw KernelError(operation: "open netns", object: "\"\(namespace.name)\"", errno: .current)
        }
        if stat("/proc/self/ns/net", &own) == 0, own.st_ino == target.st_ino, own.st_dev == target.st_dev {
            throw ValidationError(field: "namespace", value: namespace.name,
                                  reason: "is the host's own network namespace; podlab never changes its settings")
        }
    }
}
