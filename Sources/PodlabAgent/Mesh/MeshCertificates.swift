import Crypto
import Foundation
import Netns
import PodNet
import SwiftASN1
import X509
#if canImport(Glibc)
import Glibc
#endif

/// The mesh's certificates: the lab's mesh CA (`<state>/<lab>/mesh-ca/`, root's alone, made once
/// per lab so certificates outlive an agent restart) and each meshed pod's workload
/// certificate, handed to its sidecar as files in a directory of the pod's own,
/// `<state>/<lab>/mesh-certs/<pod uid>/`, owned by the proxy's user (1337) and closed to others:
///
/// - `ca.crt`: the mesh CA, the one root a sidecar trusts;
/// - `workload.pem`: the pod's key and certificate in one file, replaced whole (a rename), so
///   the proxy never reads a key of one certificate beside another's.
public enum MeshCertificates {
    public static let caCertificateFile = "ca.crt"
    public static let workloadFile = "workload.pem"
    /// The proxy's environment variable naming its directory.
    public static let environmentVariable = "PODLAB_MESH_CERTS"

    public static func authorityDirectory(_ paths: LabPaths) -> String { paths.directory + "/mesh-ca" }
    /// Every pod's directory's parent: others may pass through (the proxy), not list.
    public static func podsDirectory(_ paths: LabPaths) -> String { paths.directory + "/mesh-certs" }
    public static func directory(_ paths: LabPaths, podUID: String) -> String { podsDirectory(paths) + "/" + podUID }

    /// The lab's mesh CA as stored, made first when there is none (ten years, as the API's).
    public static func loadOrCreateAuthority(_ paths: LabPaths, now: Date = Date()) throws -> CertificateAuthority {
        let directory = authorityDirectory(paths)
        try LabStateModes.makePrivateDirectory(directory)
        if let certificate = readSmallFile(directory + "/ca.crt"), let key = readSmallFile(directory + "/ca.key") {
            return try CertificateAuthority(certificatePEM: certificate, keyPEM: key)
        }
        let authority = try CertificateAuthority.make(commonName: "podlab-mesh-ca-\(paths.lab)", notBefore: now.addingTimeInterval(-3600),
                                                      notAfter: now.addingTimeInterval(10 * 365 * 86400))
        try ClusterCredentials.write(try authority.keyPEM, to: directory + "/ca.key")
        try ClusterCredentials.write(try authority.certificatePEM, to: directory + "/ca.crt")
        return authority
    }

    /// A workload certificate: ECDSA P-256, the identity as its only SAN (a URI), usable by
    /// both ends of a connection, valid for the schedule's lifetime from `now`.
    public static func issue(_ identity: MeshIdentity, authority: CertificateAuthority, now: Date = Date(),
                             schedule: MeshCertificateSchedule = .standard) throws -> (certificate: Certificate, key: P256.Signing.PrivateKey) {
        let validity = schedule.validity(issued: now)
        return try authority.issue(commonName: identity.uri, names: SubjectAlternativeNames([.uniformResourceIdentifier(identity.uri)]),
                                   usages: [.serverAuth, .clientAuth], notBefore: validity.notBefore, notAfter: validity.notAfter)
    }

    /// Issues `identity`'s certificate and writes the pod's directory (made if missing). Returns
    /// the certificate's expiry.
    @discardableResult
    public static func provision(_ identity: MeshIdentity, podUID: String, authority: CertificateAuthority, paths: LabPaths,
                                 now: Date = Date(), schedule: MeshCertificateSchedule = .standard) throws -> Date {
        let (certificate, key) = try issue(identity, authority: authority, now: now, schedule: schedule)
        try makeDirectory(podsDirectory(paths), mode: 0o711, owner: nil)
        let directory = directory(paths, podUID: podUID)
        try makeDirectory(directory, mode: 0o700, owner: MeshProxy.uid)
        try writeOwned(try authority.certificatePEM, to: directory + "/" + caCertificateFile)
        try writeOwned(key.pemRepresentation + "\n" + (try certificate.serializeAsPEM().pemString) + "\n", to: directory + "/" + workloadFile)
        return certificate.notValidAfter
    }

    public static func remove(podUID: String, paths: LabPaths) {
        try? FileManager.default.removeItem(atPath: directory(paths, podUID: podUID))
    }

    static func makeDirectory(_ path: String, mode: mode_t, owner: UInt32?) throws {
        if mkdir(path, mode) != 0, errno != EEXIST { throw KernelError(operation: "mkdir", object: path, errno: .current) }
        guard chmod(path, mode) == 0 else { throw KernelError(operation: "chmod", object: path, errno: .current) }
        if let owner, geteuid() == 0, chown(path, owner, owner) != 0 { throw KernelError(operation: "chown", object: path, errno: .current) }
    }

    /// Writes a file of the proxy's alone (0600, uid 1337), replacing the old one in one rename.
    static func writeOwned(_ text: String, to path: String) throws {
        let temporary = path + ".tmp"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw KernelError(operation: "open", object: temporary, errno: .current) }
        let written = text.utf8CString.withUnsafeBufferPointer { Glibc.write(fd, $0.baseAddress, $0.count - 1) }
        // Only root can give a file away; an agent run by another user (tests) keeps its own.
        let owned = (geteuid() != 0 || fchown(fd, MeshProxy.uid, MeshProxy.uid) == 0) && fchmod(fd, 0o600) == 0
        close(fd)
        guard written == text.utf8.count, owned else { throw KernelError(operation: "write", object: temporary, errno: .current) }
        guard rename(temporary, path) == 0 else { throw KernelError(operation: "rename", object: path, errno: .current) }
    }
}
