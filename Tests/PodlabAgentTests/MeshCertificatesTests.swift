@testable import AgentTestSupport
import Crypto
import Foundation
@testable import PodlabAgent
import PodNet
import SwiftASN1
import Testing
@_spi(FixedExpiryValidationTime) import X509

/// The mesh CA and the workload certificates the agent issues to sidecars.
@Suite struct MeshCertificatesTests {
    static let identity = MeshIdentity(namespace: "shop", serviceAccount: "checkout")

    static func authority() throws -> CertificateAuthority {
        try CertificateAuthority.make(commonName: "podlab-mesh-ca-test", notBefore: Date().addingTimeInterval(-3600),
                                      notAfter: Date().addingTimeInterval(86400))
    }

    /// Whether `leaf` chains to `authority`'s certificate at `time` (RFC 5280's rules).
    static func validates(_ leaf: Certificate, against authority: Certificate, at time: Date) async -> Bool {
        var verifier = Verifier(rootCertificates: CertificateStore([authority])) { RFC5280Policy(fixedExpiryValidationTime: time) }
        if case .validCertificate = await verifier.validate(leaf: leaf, intermediates: CertificateStore()) { return true }
        return false
    }

    @Test func aWorkloadCertificateNamesTheIdentityAloneInItsURISANAndLivesOneHour() async throws {
        let authority = try Self.authority()
        let now = Date()
        let (certificate, key) = try MeshCertificates.issue(Self.identity, authority: authority, now: now)
        let names = try #require(try certificate.extensions.subjectAlternativeNames)
        #expect(Array(names) == [.uniformResourceIdentifier("spiffe://cluster.local/ns/shop/sa/checkout")])
        #expect(certificate.notValidAfter.timeIntervalSince(now).rounded() == 3600)
        #expect(certificate.notValidBefore <= now)
        // ECDSA P-256, and the key is the certificate's.
        #expect(certificate.publicKey == Certificate.PublicKey(key.publicKey))
        #expect(P256.Signing.PublicKey(certificate.publicKey) != nil)
        // Both ends of a connection use it; it is no CA.
        let usages = try #require(try certificate.extensions.extendedKeyUsage)
        #expect(usages.contains(.serverAuth) && usages.contains(.clientAuth))
        #expect(try certificate.extensions.basicConstraints == .notCertificateAuthority)
        #expect(certificate.issuer == authority.certificate.subject)
    }

    @Test func itChainsToItsCAOnlyWhileValidAndNotToAnotherCA() async throws {
        let authority = try Self.authority()
        let now = Date()
        let (certificate, _) = try MeshCertificates.issue(Self.identity, authority: authority, now: now)
        #expect(await Self.validates(certificate, against: authority.certificate, at: now))
        #expect(await !Self.validates(certificate, against: authority.certificate, at: now.addingTimeInterval(3601)))
        #expect(await !Self.validates(certificate, against: try Self.authority().certificate, at: now))
    }

    @Test func theMeshCAIsMadeOnceAndKeptRootsAlone() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("podlab-mesh-ca-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: root) }
        let paths = LabPaths(lab: "t", stateRoot: root)
        try LabStateModes.makeLabDirectory(paths)
        let first = try MeshCertificates.loadOrCreateAuthority(paths)
        let again = try MeshCertificates.loadOrCreateAuthority(paths)
        #expect(first.certificate == again.certificate)
        for file in ["ca.crt", "ca.key"] {
            let attributes = try FileManager.default.attributesOfItem(atPath: MeshCertificates.authorityDirectory(paths) + "/" + file)
            #expect((attributes[.posixPermissions] as? Int) == 0o600, "\(file)")
        }
        let directory = try FileManager.default.attributesOfItem(atPath: MeshCertificates.authorityDirectory(paths))
        #expect((directory[.posixPermissions] as? Int) == 0o700)
    }

    @Test func theAgentRenewsACertificateAtTwoThirdsOfItsLife() async throws {
        try await TestAgent.with(serveAPI: false) { agent in
            // Twelve seconds of life: renewed after eight, four to spare for a loaded machine (with
            // three, renewed after two, a renewal a second late under the whole suite met the expiry).
            var schedule = MeshCertificateSchedule(lifetime: 12)
            schedule.backdate = 0
            await agent.controller.setMeshCertificateSchedule(schedule)
            _ = try await agent.createPod("""
                apiVersion: v1
                kind: Pod
                metadata: {name: web, annotations: {podlab.dev/mesh: enabled}}
                spec:
                  containers: [{name: web, image: nginx}]
                """)
            try await agent.waitForPod("web", "both containers started") { pod in
                pod?.status.containerStatuses.allSatisfy { $0.state.running != nil } == true
            }
            let directory = try #require(agent.runtime.latest("web", container: "podlab-proxy")?.environment["PODLAB_MESH_CERTS"])
            func current() throws -> Certificate {
                let workload = try String(contentsOfFile: directory + "/workload.pem", encoding: .utf8)
                return try Certificate(pemEncoded: String(workload[workload.range(of: "-----BEGIN CERTIFICATE-----")!.lowerBound...]))
            }
            let first = try current()
            #expect(first.notValidAfter.timeIntervalSince(first.notValidBefore).rounded() == 12)
            try await agent.wait(timeout: .seconds(60), "a renewed certificate") { try current().serialNumber != first.serialNumber }
            let second = try current()
            // Renewed before the first one expired, for the same identity.
            #expect(second.notValidBefore < first.notValidAfter)
            #expect(try second.extensions.subjectAlternativeNames == first.extensions.subjectAlternativeNames)
            // The sidecar was not restarted for it.
            #expect(agent.runtime.started.filter { $0.container == "podlab-proxy" }.count == 1)
        }
    }

    @Test func aMeshedPodsSidecarStartsWithItsCertificateAndMode() async throws {
        try await TestAgent.with(serveAPI: false) { agent in
            let namespace = #"{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"shop","annotations":{"podlab.dev/mtls":"STRICT"}}}"#
            _ = try await agent.controller.createNamespace(body: Data(namespace.utf8), dryRun: false)
            _ = try await agent.createPod("""
                apiVersion: v1
                kind: Pod
                metadata: {name: cart, namespace: shop, annotations: {podlab.dev/mesh: enabled}}
                spec:
                  containers: [{name: web, image: nginx}]
                """, namespace: "shop")
            try await agent.waitForPod("cart", namespace: "shop", "both containers started") { pod in
                pod?.status.containerStatuses.allSatisfy { $0.state.running != nil } == true
            }
            let proxy = try #require(agent.runtime.latest("cart", namespace: "shop", container: "podlab-proxy"))
            #expect(proxy.environment["PODLAB_MTLS_MODE"] == "STRICT")
            let directory = try #require(proxy.environment["PODLAB_MESH_CERTS"])
            let workload = try String(contentsOfFile: directory + "/workload.pem", encoding: .utf8)
            let certificate = try Certificate(pemEncoded: String(workload[workload.range(of: "-----BEGIN CERTIFICATE-----")!.lowerBound...]))
            #expect(Array(try #require(try certificate.extensions.subjectAlternativeNames))
                    == [.uniformResourceIdentifier("spiffe://cluster.local/ns/shop/sa/default")])
            let ca = try Certificate(pemEncoded: try String(contentsOfFile: directory + "/ca.crt", encoding: .utf8))
            #expect(await Self.validates(certificate, against: ca, at: Date()))
            #expect(agent.runtime.latest("cart", namespace: "shop", container: "web")?.environment["PODLAB_MESH_CERTS"] == nil)
            // The pod's deletion takes its key away.
            try await agent.deletePod("cart", namespace: "shop")
            try await agent.waitForPod("cart", namespace: "shop", "gone") { $0 == nil }
            #expect(!FileManager.default.fileExists(atPath: directory))
        }
    }
}
