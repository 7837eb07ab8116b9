import Crypto
import Foundation
import SwiftASN1
import X509

/// A lab's certificate authority: an ECDSA P-256 key and its self-signed certificate, and the
/// one way podlab signs leaf certificates with it. The HTTPS API's CA (`ClusterCredentials`)
/// and the mesh's (`MeshCertificates`) are two of these.
public struct CertificateAuthority: Sendable {
    public let certificate: Certificate
    /// The key's raw scalar: Crypto's key type is not Sendable, an authority is shared.
    let keyBytes: Data

    /// A new authority named `podlab/<commonName>`.
    public static func make(commonName: String, notBefore: Date, notAfter: Date) throws -> CertificateAuthority {
        let key = P256.Signing.PrivateKey()
        let name = try DistinguishedName {
            OrganizationName("podlab")
            CommonName(commonName)
        }
        let certificate = try Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: .init(key.publicKey),
            notValidBefore: notBefore, notValidAfter: notAfter, issuer: name, subject: name,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.isCertificateAuthority(maxPathLength: 0))
                Critical(KeyUsage(digitalSignature: true, keyCertSign: true, cRLSign: true))
                SubjectKeyIdentifier(hash: .init(key.publicKey))
            },
            issuerPrivateKey: .init(key))
        return CertificateAuthority(certificate: certificate, keyBytes: key.rawRepresentation)
    }

    /// The authority stored as PEM (its certificate, its PKCS#8 or SEC1 key).
    public init(certificatePEM: String, keyPEM: String) throws {
        certificate = try Certificate(pemEncoded: certificatePEM)
        keyBytes = try P256.Signing.PrivateKey(pemRepresentation: keyPEM).rawRepresentation
    }

    init(certificate: Certificate, keyBytes: Data) {
        self.certificate = certificate
        self.keyBytes = keyBytes
    }

    func key() throws -> P256.Signing.PrivateKey { try P256.Signing.PrivateKey(rawRepresentation: keyBytes) }

    public var certificatePEM: String { get throws { try certificate.serializeAsPEM().pemString + "\n" } }
    public var keyPEM: String { get throws { try key().pemRepresentation + "\n" } }

    /// A leaf certificate for a new P-256 key: not a CA, signing and key agreement only, for
    /// `usages`, naming `names`, linked to this authority by its key identifier.
    public func issue(commonName: String, names: SubjectAlternativeNames, usages: [ExtendedKeyUsage.Usage],
                      notBefore: Date, notAfter: Date) throws -> (certificate: Certificate, key: P256.Signing.PrivateKey) {
        let key = try key()
        let leafKey = P256.Signing.PrivateKey()
        let certificate = try Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: .init(leafKey.publicKey),
            notValidBefore: notBefore, notValidAfter: notAfter, issuer: self.certificate.subject,
            subject: try DistinguishedName { CommonName(commonName) },
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.notCertificateAuthority)
                Critical(KeyUsage(digitalSignature: true, keyEncipherment: true))
                try ExtendedKeyUsage(usages)
                names
                AuthorityKeyIdentifier(keyIdentifier: SubjectKeyIdentifier(hash: .init(key.publicKey)).keyIdentifier)
            },
            issuerPrivateKey: .init(key))
        return (certificate, leafKey)
    }
}
