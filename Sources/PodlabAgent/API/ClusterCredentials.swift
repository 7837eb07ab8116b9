import Crypto
import Foundation
import Netns
import SwiftASN1
import X509
#if canImport(Glibc)
import Glibc
#endif

/// What a client needs to reach a lab's HTTPS API, kept in `<state>/<lab>/kube-api/` (every
/// file root's alone): the lab's own CA, the serving certificate it signed for `127.0.0.1`
/// and `localhost`, the bearer token, and the port. Made once per lab, so a kubeconfig stays
/// valid across agent restarts.
public struct ClusterCredentials: Sendable, Equatable {
    public var caCertificatePEM: String
    public var serverCertificatePEM: String
    public var serverKeyPEM: String
    public var token: String
    public var port: Int

    /// The files of a lab.
    public struct Files: Sendable {
        public let directory: String
        public init(_ paths: LabPaths) { directory = paths.directory + "/kube-api" }
        public var caCertificate: String { directory + "/ca.crt" }
        public var serverCertificate: String { directory + "/server.crt" }
        public var serverKey: String { directory + "/server.key" }
        public var token: String { directory + "/token" }
        public var port: String { directory + "/port" }
    }

    /// `https://127.0.0.1:<port>`.
    public var serverURL: String { "https://127.0.0.1:\(port)" }

    /// The stored server address, without reading the keys.
    public static func serverURL(_ paths: LabPaths) -> String? {
        readSmallFile(Files(paths).port).flatMap { Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) }.map { "https://127.0.0.1:\($0)" }
    }

    /// The lab's credentials as stored; nil before the agent made them.
    public static func load(_ paths: LabPaths) -> ClusterCredentials? {
        let files = Files(paths)
        guard let ca = readSmallFile(files.caCertificate), let certificate = readSmallFile(files.serverCertificate),
              let key = readSmallFile(files.serverKey), let token = readSmallFile(files.token),
              let port = readSmallFile(files.port).flatMap({ Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) }) else { return nil }
        return ClusterCredentials(caCertificatePEM: ca, serverCertificatePEM: certificate, serverKeyPEM: key,
                                  token: token.trimmingCharacters(in: .whitespacesAndNewlines), port: port)
    }

    /// The stored credentials, made first when there are none; a stored port another program
    /// took meanwhile is replaced by a free one.
    public static func loadOrCreate(_ paths: LabPaths, lab: String) throws -> ClusterCredentials {
        let files = Files(paths)
        try LabStateModes.makePrivateDirectory(files.directory)
        var credentials: ClusterCredentials
        if let stored = load(paths) {
            credentials = stored
        } else {
            credentials = try make(lab: lab, port: 0)
            try write(credentials.caCertificatePEM, to: files.caCertificate)
            try write(credentials.serverCertificatePEM, to: files.serverCertificate)
            try write(credentials.serverKeyPEM, to: files.serverKey)
            try write(credentials.token + "\n", to: files.token)
        }
        if credentials.port == 0 || !LoopbackPort.isFree(credentials.port) {
            credentials.port = try LoopbackPort.free()
            try write("\(credentials.port)\n", to: files.port)
        }
        return credentials
    }

    /// New credentials: a CA named after the lab, a serving certificate for the loopback
    /// addresses, valid for ten years (a lab is a lab), and a 256-bit random token.
    public static func make(lab: String, port: Int, now: Date = Date()) throws -> ClusterCredentials {
        let notBefore = now.addingTimeInterval(-3600)
        let notAfter = now.addingTimeInterval(10 * 365 * 86400)
        let authority = try CertificateAuthority.make(commonName: "podlab-ca-\(lab)", notBefore: notBefore, notAfter: notAfter)
        let (serverCertificate, serverKey) = try authority.issue(
            commonName: "podlab-apiserver",
            names: SubjectAlternativeNames([.dnsName("localhost"), .ipAddress(ASN1OctetString(contentBytes: [127, 0, 0, 1]))]),
            usages: [.serverAuth], notBefore: notBefore, notAfter: notAfter)
        var generator = SystemRandomNumberGenerator()
        let token = (0..<32).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &generator)) }.joined()
        return ClusterCredentials(caCertificatePEM: try authority.certificatePEM,
                                  serverCertificatePEM: try serverCertificate.serializeAsPEM().pemString + "\n",
                                  serverKeyPEM: serverKey.pemRepresentation + "\n", token: token, port: port)
    }

    /// Whether an `Authorization` header carries the token, compared in constant time.
    public func authorizes(_ header: String?) -> Bool { Self.tokenMatches(header, token: token) }

    /// `Authorization: Bearer <token>`, compared in constant time.
    static func tokenMatches(_ header: String?, token: String) -> Bool {
        guard let header, header.hasPrefix("Bearer ") else { return false }
        let offered = Array(header.dropFirst("Bearer ".count).utf8)
        let expected = Array(token.utf8)
        guard offered.count == expected.count else { return false }
        var difference: UInt8 = 0
        for (a, b) in zip(offered, expected) { difference |= a ^ b }
        return difference == 0
    }

    /// Writes a file only root can read, replacing it whole.
    static func write(_ text: String, to path: String) throws {
        let temporary = path + ".tmp"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, LabStateModes.file)
        guard fd >= 0 else { throw KernelError(operation: "open", object: temporary, errno: .current) }
        fchmod(fd, LabStateModes.file)
        let written = text.utf8CString.withUnsafeBufferPointer { Glibc.write(fd, $0.baseAddress, $0.count - 1) }
        close(fd)
        guard written == text.utf8.count else { throw KernelError(operation: "write", object: temporary, errno: .current) }
        guard rename(temporary, path) == 0 else { throw KernelError(operation: "rename", object: path, errno: .current) }
    }
}

/// TCP ports on the host's loopback address for the lab's HTTPS API.
enum LoopbackPort {
    /// A port the kernel picks as free on 127.0.0.1.
    static func free() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw KernelError(operation: "socket", object: "127.0.0.1", errno: .current) }
        defer { close(fd) }
        var address = loopback(port: 0)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0 else { throw KernelError(operation: "bind", object: "127.0.0.1:0", errno: .current) }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    /// Whether 127.0.0.1:`port` can be bound now.
    static func isFree(_ port: Int) -> Bool {
        guard port > 0, port < 65536 else { return false }
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var reuse: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &reuse, socklen_t(MemoryLayout<Int32>.size))
        var address = loopback(port: port)
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        } == 0
    }

    static func loopback(port: Int) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        address.sin_addr.s_addr = UInt32(0x7f00_0001).bigEndian
        return address
    }
}
