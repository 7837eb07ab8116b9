import FoundationEssentials
import NIOCore
import NIOSSL
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The inbound side's policy for plain text (`podlab.dev/mtls`, given by the agent).
public enum MTLSMode: String, Sendable {
    case permissive = "PERMISSIVE"
    case strict = "STRICT"
    /// No certificate is given: everything in plain text, as PERMISSIVE without TLS.
    case disable = "DISABLE"
}

/// What sidecars say to each other in the TLS handshake: the mesh's name as ALPN protocol and
/// SNI, so a capture (or `openssl s_client -alpn podlab-mesh`) tells mesh traffic apart.
public enum MeshTLSNames {
    public static let alpn = "podlab-mesh"
    public static let serverName = "podlab-mesh"
    /// SPIFFE identities in URI SANs begin so (PodNet's `MeshIdentity`).
    static let spiffePrefix = "spiffe://"
}

/// The pod's workload certificate, as the agent writes it into the sidecar's directory
/// (`ca.crt`, and `workload.pem`: key and certificate, replaced whole by a rename), made into
/// one TLS context per side. `reloadIfChanged` swaps both when the file is replaced: new
/// handshakes take the new certificate, connections already open keep the one they began with.
public final class MeshCredentials: Sendable {
    public struct Loaded: Sendable {
        public var server: NIOSSLContext
        public var client: NIOSSLContext
        /// This pod's SPIFFE identity (its certificate's URI SAN).
        public var identity: String
        /// The certificate's notAfter, seconds since 1970.
        public var notAfter: Int
        public var serial: [UInt8]
    }

    public struct LoadError: Error, CustomStringConvertible {
        public var description: String
    }

    public let directory: String
    private let state = Mutex<(loaded: Loaded?, stamp: FileStamp?)>((nil, nil))

    public init(directory: String) { self.directory = directory }

    public var current: Loaded? { state.withLock { $0.loaded } }

    /// Reads the files when they changed since the last read (their inode and mtime); returns
    /// whether a new certificate was loaded.
    @discardableResult
    public func reloadIfChanged() throws -> Bool {
        let workload = directory + "/workload.pem"
        guard let stamp = FileStamp(path: workload) else { throw LoadError(description: "\(workload): no such file") }
        if state.withLock({ $0.stamp }) == stamp { return false }
        let loaded = try Self.load(caPath: directory + "/ca.crt", workloadPath: workload)
        state.withLock { $0 = (loaded, stamp) }
        return true
    }

    static func load(caPath: String, workloadPath: String) throws -> Loaded {
        let roots = try NIOSSLCertificate.fromPEMFile(caPath)
        let blocks = try Self.pemBlocks(readBytes(workloadPath))
        guard let keyBlock = blocks.first(where: { $0.label.hasSuffix("PRIVATE KEY") }) else {
            throw LoadError(description: "\(workloadPath): no private key")
        }
        let key = try NIOSSLPrivateKey(bytes: keyBlock.bytes, format: .pem)
        let chain = try blocks.filter { $0.label == "CERTIFICATE" }.map { try NIOSSLCertificate(bytes: $0.bytes, format: .pem) }
        guard let leaf = chain.first else { throw LoadError(description: "\(workloadPath): no certificate") }
        guard let identity = spiffeIdentity(of: leaf) else { throw LoadError(description: "\(workloadPath): the certificate has no spiffe:// URI SAN") }
        var server = TLSConfiguration.makeServerConfigurationWithMTLS(certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key),
                                                                      trustRoots: .certificates(roots))
        server.minimumTLSVersion = .tlsv12
        server.applicationProtocols = [MeshTLSNames.alpn]
        var client = TLSConfiguration.makeClientConfiguration()
        client.minimumTLSVersion = .tlsv12
        client.trustRoots = .certificates(roots)
        client.certificateChain = chain.map { .certificate($0) }
        client.privateKey = .privateKey(key)
        // The chain is checked against the mesh CA; the name is the SPIFFE identity, which the
        // outbound side compares itself (`PeerVerification`), not a host name.
        client.certificateVerification = .noHostnameVerification
        client.applicationProtocols = [MeshTLSNames.alpn]
        return Loaded(server: try NIOSSLContext(configuration: server), client: try NIOSSLContext(configuration: client),
                      identity: identity, notAfter: Int(leaf.notValidAfter), serial: leaf.serialNumber)
    }

    /// The PEM blocks of a file, each with its label and its text (headers and footer included).
    static func pemBlocks(_ bytes: [UInt8]) -> [(label: String, bytes: [UInt8])] {
        var blocks: [(label: String, bytes: [UInt8])] = []
        var current: (label: String, lines: [String])?
        for line in String(decoding: bytes, as: UTF8.self).split(separator: "\n").map({ $0.trimmedOfSpaces }) {
            if line.hasPrefix("-----BEGIN "), line.hasSuffix("-----") {
                current = (String(line.dropFirst("-----BEGIN ".count).dropLast(5)), [line])
            } else if var block = current {
                block.lines.append(line)
                if line.hasPrefix("-----END ") {
                    blocks.append((block.label, Array((block.lines.joined(separator: "\n") + "\n").utf8)))
                    current = nil
                } else {
                    current = block
                }
            }
        }
        return blocks
    }

    static func readBytes(_ path: String) throws -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw LoadError(description: "\(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, 4096) }
            if count <= 0 { break }
            bytes += chunk[0..<count]
        }
        return bytes
    }

    /// The certificate's first `spiffe://` URI SAN.
    public static func spiffeIdentity(of certificate: NIOSSLCertificate) -> String? {
        for name in certificate._subjectAlternativeNames() where name.nameType == .uri {
            let text = name.contents.withUnsafeBufferPointer { String(decoding: $0, as: UTF8.self) }
            if text.hasPrefix(MeshTLSNames.spiffePrefix) { return text }
        }
        return nil
    }
}

/// A file's identity and age: a rename makes a new inode, a rewrite a new mtime.
struct FileStamp: Equatable, Sendable {
    var inode: UInt64
    var modified: Int
    var modifiedNanoseconds: Int

    init?(path: String) {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        inode = UInt64(info.st_ino)
        modified = Int(info.st_mtim.tv_sec)
        modifiedNanoseconds = Int(info.st_mtim.tv_nsec)
    }
}

/// The meshed pods of the cluster by address, with the identity each one's certificate carries
/// and the ports its capture leaves alone: fed by the agent's pod watch, read by every outbound
/// connection to decide between mTLS and plain text.
public final class MeshPeers: Sendable {
    public struct Peer: Hashable, Sendable {
        public var identity: String
        public var excludedPorts: Set<Int>

        public init(identity: String, excludedPorts: Set<Int> = []) {
            self.identity = identity
            self.excludedPorts = excludedPorts
        }
    }

    /// The sidecar's own ports: a connection to one of them is not captured on the other side,
    /// so it reaches the proxy itself (metrics, readiness) in plain text.
    static let proxyPorts: Set<Int> = [15001, 15006, 15090, 15021]

    /// By `namespace/name`, and by address with the pod that holds it (an address handed from a
    /// deleted pod to a new one is let go of only by its holder).
    private let state = Mutex<(byPod: [String: (address: String, peer: Peer)], byAddress: [String: (pod: String, peer: Peer)])>(([:], [:]))

    public init() {}

    public func replaceAll() { state.withLock { $0 = ([:], [:]) } }

    /// A pod (`namespace/name`) at `address`, meshed with `peer`, or not meshed (nil).
    public func set(_ pod: String, address: String?, peer: Peer?) {
        state.withLock { state in
            if let old = state.byPod.removeValue(forKey: pod), state.byAddress[old.address]?.pod == pod { state.byAddress[old.address] = nil }
            if let address, !address.isEmpty, let peer {
                state.byPod[pod] = (address, peer)
                state.byAddress[address] = (pod, peer)
            }
        }
    }

    /// The identity to expect from `destination` when the connection to it rides mTLS; nil
    /// when it goes in plain text (an unmeshed pod, or a port its capture leaves alone).
    public func mtlsIdentity(for destination: Destination) -> String? {
        guard !Self.proxyPorts.contains(destination.port) else { return nil }
        return state.withLock { state in
            guard let peer = state.byAddress[destination.address]?.peer, !peer.excludedPorts.contains(destination.port) else { return nil }
            return peer.identity
        }
    }
}

extension StringProtocol {
    /// Without leading and trailing spaces, tabs and carriage returns (FoundationEssentials has
    /// no `trimmingCharacters`).
    var trimmedOfSpaces: String {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\r" }
        guard let first = firstIndex(where: { !isSpace($0) }), let last = lastIndex(where: { !isSpace($0) }) else { return "" }
        return String(self[first...last])
    }
}
