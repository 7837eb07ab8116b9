import Foundation
import Testing
@testable import PodNet

@Suite("Mesh: mTLS modes, identities, certificate schedule")
struct MeshTLSTests {
    @Test("the pod's podlab.dev/mtls wins over its namespace's; PERMISSIVE by default", arguments: [
        ([String: String](), [String: String](), MeshTLSMode.permissive),
        (["podlab.dev/mtls": "STRICT"], [:], .strict),
        ([:], ["podlab.dev/mtls": "STRICT"], .strict),
        (["podlab.dev/mtls": "PERMISSIVE"], ["podlab.dev/mtls": "STRICT"], .permissive),
        ([:], ["podlab.dev/mtls": "strict"], .permissive),
        (["podlab.dev/mtls": "DISABLE"], ["podlab.dev/mtls": "STRICT"], .disable),
        // The other sidecars cannot see a namespace's DISABLE: it is not one.
        ([:], ["podlab.dev/mtls": "DISABLE"], .permissive),
    ])
    func mode(pod: [String: String], namespace: [String: String], expected: MeshTLSMode) {
        #expect(MeshTLSMode.of(podAnnotations: pod, namespaceAnnotations: namespace) == expected)
    }

    @Test("a pod's malformed podlab.dev/mtls is refused at admission, naming the field and the modes")
    func malformedMode() {
        let pod = validPod {
            $0.metadata.annotations["podlab.dev/mesh"] = "enabled"
            $0.metadata.annotations["podlab.dev/mtls"] = "strict"
        }
        let error = #expect(throws: InvalidObjectError.self) { try MeshInjection.inject(pod, namespaceLabels: [:]) }
        #expect(error?.description == "The Pod \"web\" is invalid: metadata.annotations[podlab.dev/mtls]: Unsupported value: \"strict\": "
                + "supported values: \"PERMISSIVE\", \"STRICT\", \"DISABLE\"")
        // A well-formed one passes, meshed or not.
        let strict = validPod { $0.metadata.annotations["podlab.dev/mtls"] = "STRICT" }
        #expect(throws: Never.self) { try MeshInjection.inject(strict, namespaceLabels: [:]) }
    }

    @Test("a namespace's podlab.dev/mtls is PERMISSIVE or STRICT; anything else is refused, naming the field", arguments: [
        ("STRICT", true), ("PERMISSIVE", true), ("DISABLE", false), ("strict", false),
    ])
    func namespaceMode(value: String, valid: Bool) {
        var namespace = Namespace()
        namespace.metadata.name = "shop"
        namespace.metadata.annotations[MeshTLSMode.annotation] = value
        if valid {
            #expect(throws: Never.self) { try namespace.validated() }
        } else {
            let error = #expect(throws: InvalidObjectError.self) { try namespace.validated() }
            #expect(error?.description == "The Namespace \"shop\" is invalid: metadata.annotations[podlab.dev/mtls]: Unsupported value: \"\(value)\": "
                    + "supported values: \"PERMISSIVE\", \"STRICT\"")
        }
    }

    @Test("a pod's identity: its namespace and service account, default when unset; the URI parses back")
    func identity() throws {
        let plain = validPod { $0.metadata.namespace = "shop" }
        #expect(MeshIdentity(plain).uri == "spiffe://cluster.local/ns/shop/sa/default")
        let named = validPod {
            $0.metadata.namespace = "shop"
            $0.spec.preservedFields["serviceAccountName"] = .string("checkout")
        }
        #expect(MeshIdentity(named).uri == "spiffe://cluster.local/ns/shop/sa/checkout")
        #expect(MeshIdentity(uri: "spiffe://cluster.local/ns/shop/sa/checkout") == MeshIdentity(named))
        for bad in ["spiffe://other.domain/ns/shop/sa/x", "spiffe://cluster.local/ns/shop", "spiffe://cluster.local/ns//sa/x",
                    "https://cluster.local/ns/a/sa/b", "spiffe://cluster.local/ns/a/sa/b/c"] {
            #expect(MeshIdentity(uri: bad) == nil, "\(bad)")
        }
    }

    @Test("a certificate lives an hour, from a minute before its issue, and is renewed at two thirds (40 min)")
    func schedule() {
        let issued = Date(timeIntervalSince1970: 1_000_000)
        let schedule = MeshCertificateSchedule.standard
        let validity = schedule.validity(issued: issued)
        #expect(validity.notBefore == issued.addingTimeInterval(-60))
        #expect(validity.notAfter == issued.addingTimeInterval(3600))
        #expect(schedule.renewal(notAfter: validity.notAfter) == issued.addingTimeInterval(2400))
    }
}
