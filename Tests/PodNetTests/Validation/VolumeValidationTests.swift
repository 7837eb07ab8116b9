import Testing
@testable import PodNet

/// `spec.volumes` and `volumeMounts` checked with Kubernetes' rules and messages (including
/// the paths it gives `subPath` and `mountPropagation` errors), then podlab's refusals.
@Suite("Volume validation")
struct VolumeValidationTests {
    struct Case: Sendable, CustomTestStringConvertible {
        let yaml: String
        let expected: [String]
        init(_ yaml: String, _ expected: [String]) {
            self.yaml = yaml
            self.expected = expected
        }
        var testDescription: String { expected.first ?? "valid: \(yaml)" }
    }

    static let label = PodValidationTests.labelMessage
    static let refused = "Forbidden: not supported by podlab yet"

    static let cases: [Case] = [
        Case("spec: volumes: [{name: a, emptyDir: {}}, {name: b, hostPath: {path: /srv}}]", []),
        Case("spec: volumes: [{name: a, emptyDir: {}}, {name: a, emptyDir: {}}]", [#"spec.volumes[1].name: Duplicate value: "a""#]),
        Case("spec: volumes: [{name: Data, emptyDir: {}}]", [#"spec.volumes[0].name: Invalid value: "Data": "# + label]),
        Case("spec: volumes: [{emptyDir: {}}]", ["spec.volumes[0].name: Required value"]),
        Case("spec: volumes: [{name: a, emptyDir: {}, hostPath: {path: /srv}}]",
             ["spec.volumes[0].hostPath: Forbidden: may not specify more than 1 volume type"]),
        Case("spec: volumes: [{name: a, emptyDir: {}, secret: {secretName: s}}]",
             ["spec.volumes[0].secret: Forbidden: may not specify more than 1 volume type"]),
        Case("spec: volumes: [{name: a, emptyDir: {}, nfs: {server: s, path: /}}]",
             ["spec.volumes[0].nfs: Forbidden: may not specify more than 1 volume type", "spec.volumes[0].nfs: \(refused)"]),
        // configMap, secret, downwardAPI and projected, as `validateVolumeSource` checks them.
        Case("spec: volumes: [{name: a, configMap: {name: c, items: [{key: k, path: conf/k.ini, mode: 0400}]}}, {name: b, secret: {secretName: s, defaultMode: 0600}}]", []),
        Case("spec: volumes: [{name: a, configMap: {}}]", ["spec.volumes[0].configMap.name: Required value"]),
        Case("spec: volumes: [{name: a, secret: {}}]", ["spec.volumes[0].secret.secretName: Required value"]),
        Case("spec: volumes: [{name: a, configMap: {name: c, defaultMode: 01000}}]",
             ["spec.volumes[0].configMap.defaultMode: Invalid value: 512: must be a number between 0 and 0777 (octal), both inclusive"]),
        Case("spec: volumes: [{name: a, configMap: {name: c, items: [{key: '', path: ../x}]}}]",
             ["spec.volumes[0].configMap.items[0].key: Required value",
              #"spec.volumes[0].configMap.items[0].path: Invalid value: "../x": must not contain '..'"#,
              #"spec.volumes[0].configMap.items[0].path: Invalid value: "../x": must not start with '..'"#]),
        Case("spec: volumes: [{name: a, secret: {secretName: s, items: [{key: k, path: /etc/x}]}}]",
             [#"spec.volumes[0].secret.items[0].path: Invalid value: "/etc/x": must be a relative path"#]),
        Case("spec: volumes: [{name: a, downwardAPI: {items: [{path: labels, fieldRef: {fieldPath: metadata.labels}}, {path: cpu, resourceFieldRef: {containerName: c, resource: limits.cpu}}]}}]", []),
        Case("spec: volumes: [{name: a, downwardAPI: {items: [{path: ip, fieldRef: {fieldPath: status.podIP}}]}}]",
             [#"spec.volumes[0].downwardAPI.fieldRef.fieldPath: Unsupported value: "status.podIP": supported values: "metadata.annotations", "metadata.labels", "metadata.name", "metadata.namespace", "metadata.uid""#]),
        Case("spec: volumes: [{name: a, downwardAPI: {items: [{path: x}]}}]",
             ["spec.volumes[0].downwardAPI: Required value: one of fieldRef and resourceFieldRef is required"]),
        Case("spec: volumes: [{name: a, downwardAPI: {items: [{path: cpu, resourceFieldRef: {resource: limits.cpu}}]}}]",
             ["spec.volumes[0].downwardAPI.resourceFieldRef.containerName: Required value"]),
        Case("spec: volumes: [{name: a, projected: {sources: [{configMap: {name: c, items: [{key: k, path: x}]}}, {secret: {name: s, items: [{key: k, path: x}]}}]}}]",
             [#"spec.volumes[0].projected: Invalid value: "s": conflicting duplicate paths"#]),
        Case("spec: volumes: [{name: a, projected: {sources: [{configMap: {name: c}, secret: {name: s}}]}}]",
             ["spec.volumes[0].projected.sources[0]: Forbidden: may not specify more than 1 volume type per source"]),
        // serviceAccountToken: at least 10 minutes, at most 2^32 s; a missing path at the
        // projected volume's own path, as kube-apiserver reports it.
        Case("spec: volumes: [{name: a, projected: {sources: [{serviceAccountToken: {path: token}}, {serviceAccountToken: {path: t2, audience: vault, expirationSeconds: 600}}]}}]", []),
        Case("spec: volumes: [{name: a, projected: {sources: [{serviceAccountToken: {path: token, expirationSeconds: 599}}]}}]",
             ["spec.volumes[0].projected.sources[0].serviceAccountToken.expirationSeconds: Invalid value: 599: may not specify a duration less than 10 minutes"]),
        Case("spec: volumes: [{name: a, projected: {sources: [{serviceAccountToken: {path: token, expirationSeconds: 4294967297}}]}}]",
             ["spec.volumes[0].projected.sources[0].serviceAccountToken.expirationSeconds: Invalid value: 4294967297: may not specify a duration larger than 2^32 seconds"]),
        Case("spec: volumes: [{name: a, projected: {sources: [{serviceAccountToken: {audience: vault}}]}}]",
             ["spec.volumes[0].projected.path: Required value"]),
        Case("spec: volumes: [{name: a, projected: {sources: [{serviceAccountToken: {path: ../token}}]}}]",
             [#"spec.volumes[0].projected.sources[0].serviceAccountToken.path: Invalid value: "../token": must not contain '..'"#,
              #"spec.volumes[0].projected.sources[0].serviceAccountToken.path: Invalid value: "../token": must not start with '..'"#]),
        Case("spec: volumes: [{name: a, projected: {sources: [{serviceAccountToken: {path: token}, configMap: {name: c}}]}}]",
             ["spec.volumes[0].projected.sources[0]: Forbidden: may not specify more than 1 volume type per source"]),
        // clusterTrustBundle and podCertificate: behind feature gates Kubernetes keeps off.
        Case("spec: volumes: [{name: a, projected: {sources: [{clusterTrustBundle: {signerName: example.com/s, path: ca.crt}}]}}]",
             ["spec.volumes[0].projected.sources[0].clusterTrustBundle: \(refused): Kubernetes serves it only with the ClusterTrustBundleProjection feature gate (beta, off by default), and podlab has no ClusterTrustBundle objects"]),
        Case("spec: volumes: [{name: a, projected: {sources: [{podCertificate: {signerName: example.com/s, keyType: ED25519, credentialBundlePath: c}}]}}]",
             ["spec.volumes[0].projected.sources[0].podCertificate: \(refused): Kubernetes serves it only with the PodCertificateRequest feature gate (alpha, off by default), and podlab issues no pod certificates"]),
        Case("spec: volumes: [{name: a, hostPath: {path: ''}}]", ["spec.volumes[0].hostPath.path: Required value"]),
        Case("spec: volumes: [{name: a, hostPath: {path: /srv/../etc}}]", [#"spec.volumes[0].hostPath.path: Invalid value: "/srv/../etc": must not contain '..'"#]),
        Case("spec: volumes: [{name: a, hostPath: {path: /srv, type: Dir}}]",
             [#"spec.volumes[0].hostPath.type: Unsupported value: "Dir": supported values: "", "BlockDevice", "CharDevice", "Directory", "DirectoryOrCreate", "File", "FileOrCreate", "Socket""#]),
        Case("spec: volumes: [{name: a, emptyDir: {sizeLimit: -1Gi}}]",
             ["spec.volumes[0].emptyDir.sizeLimit: Forbidden: SizeLimit field must be a valid resource quantity"]),
        // Mounts refer to valid volumes only: an invalid one is "not found" too.
        Case("spec: volumes: [{name: Data, emptyDir: {}}]\ncontainer: volumeMounts: [{name: Data, mountPath: /d}]",
             [#"spec.volumes[0].name: Invalid value: "Data": "# + label, #"spec.containers[0].volumeMounts[0].name: Not found: "Data""#]),
        Case("container: volumeMounts: [{mountPath: /d}]",
             ["spec.containers[0].volumeMounts[0].name: Required value", #"spec.containers[0].volumeMounts[0].name: Not found: """#]),
        Case("spec: volumes: [{name: a, emptyDir: {}}]\ncontainer: volumeMounts: [{name: a}]",
             ["spec.containers[0].volumeMounts[0].mountPath: Required value"]),
        Case("spec: volumes: [{name: a, emptyDir: {}}, {name: b, emptyDir: {}}]\ncontainer: volumeMounts: [{name: a, mountPath: /d}, {name: b, mountPath: /d}]",
             [#"spec.containers[0].volumeMounts[1].mountPath: Invalid value: "/d": must be unique"#]),
        Case("spec: volumes: [{name: a, emptyDir: {}}]\ncontainer: volumeMounts: [{name: a, mountPath: /d}, {name: a, mountPath: /e, subPath: logs}]", []),
        Case("spec: volumes: [{name: a, emptyDir: {}}]\ncontainer: volumeMounts: [{name: a, mountPath: /d, subPath: /logs}]",
             [#"spec.containers[0].volumeMounts.subPath: Invalid value: "/logs": must be a relative path"#]),
        Case("spec: volumes: [{name: a, emptyDir: {}}]\ncontainer: volumeMounts: [{name: a, mountPath: /d, subPath: ../logs}]",
             [#"spec.containers[0].volumeMounts.subPath: Invalid value: "../logs": must not contain '..'"#]),
        Case("spec: volumes: [{name: a, emptyDir: {}}]\ncontainer: volumeMounts: [{name: a, mountPath: /d, subPath: x, subPathExpr: expr}]",
             [#"spec.containers[0].volumeMounts[0].subPathExpr: Invalid value: "expr": subPathExpr and subPath are mutually exclusive"#,
              "spec.containers[0].volumeMounts[0].subPathExpr: \(refused)"]),
        Case("spec: volumes: [{name: a, emptyDir: {}}]\ncontainer: volumeMounts: [{name: a, mountPath: /d, mountPropagation: Sideways}]",
             [#"spec.containers[0].volumeMounts.mountPropagation: Unsupported value: "Sideways": supported values: "Bidirectional", "HostToContainer", "None""#]),
        Case("spec: volumes: [{name: a, emptyDir: {}}]\ncontainer: volumeMounts: [{name: a, mountPath: /d, mountPropagation: Bidirectional}]",
             ["spec.containers[0].volumeMounts.mountPropagation: Forbidden: Bidirectional mount propagation is available only to privileged containers"]),
        Case("spec: volumes: [{name: a, emptyDir: {}}]\ncontainer: volumeMounts: [{name: a, mountPath: /d, recursiveReadOnly: Enabled}]",
             ["spec.containers[0].volumeMounts.recursiveReadOnly: Forbidden: may only be specified when readOnly is true",
              "spec.containers[0].volumeMounts[0].recursiveReadOnly: \(refused)"]),
        Case("spec: volumes: [{name: a, emptyDir: {}}]\ncontainer: volumeMounts: [{name: a, mountPath: /d, readOnly: true, recursiveReadOnly: Always}]",
             [#"spec.containers[0].volumeMounts.recursiveReadOnly: Unsupported value: "Always": supported values: "Disabled", "Enabled", "IfPossible""#]),
    ]

    @Test("Kubernetes' rules and messages, then podlab's", arguments: cases)
    func rules(_ testCase: Case) throws {
        let pod = try PodSupportTests.pod(testCase.yaml)
        #expect(pod.validate().errors.map(\.description) == testCase.expected)
    }

    @Test("the errors of a pod come in Kubernetes' order: volumes before containers, podlab's refusals last")
    func order() throws {
        let pod = try PodSupportTests.pod("""
            spec: volumes: [{name: a, hostPath: {path: x}}, {name: B, emptyDir: {}}]
            container: volumeMounts: [{name: c, mountPath: /d}]
            """)
        #expect(pod.validate().errors.map(\.field.description) == [
            "spec.volumes[1].name", "spec.containers[0].volumeMounts[0].name", "spec.volumes[0].hostPath.path",
        ])
    }

    @Test("defaults: a volume without a source is an emptyDir, a hostPath gets type \"\"; the stored object reads back the same")
    func defaultsAndRoundTrip() throws {
        let pod = try PodSupportTests.pod("""
            spec: volumes: [{name: a}, {name: b, hostPath: {path: /srv}}, {name: c, emptyDir: {medium: Memory, sizeLimit: 0.5Gi}}]
            container: volumeMounts: [{name: a, mountPath: /a, readOnly: true, subPath: x}]
            """)
        #expect(pod.spec.volumes == [
            Volume(name: "a", emptyDir: EmptyDirVolumeSource()),
            Volume(name: "b", hostPath: HostPathVolumeSource(path: "/srv", type: .unset)),
            Volume(name: "c", emptyDir: EmptyDirVolumeSource(medium: "Memory", sizeLimit: try Quantity(parsing: "512Mi"))),
        ])
        #expect(pod.spec.volumes[1].json == ["name": "b", "hostPath": ["path": "/srv", "type": ""]])
        #expect(pod.spec.volumes[2].json == ["name": "c", "emptyDir": ["medium": "Memory", "sizeLimit": "512Mi"]])
        #expect(pod.spec.containers[0].volumeMounts[0].json == ["name": "a", "mountPath": "/a", "readOnly": true, "subPath": "x"])
        let again = try Pod(json: YAMLReader.value(from: pod.yamlText))
        #expect(again == pod)
        #expect(again.applyingDefaults() == pod)
    }

    @Test("a token projection gets its lifetime (3600 s) by default, and reads back the same")
    func tokenDefaults() throws {
        let pod = try PodSupportTests.pod("spec: volumes: [{name: a, projected: {sources: [{serviceAccountToken: {path: token}}]}}]")
        #expect(pod.spec.volumes[0].projected?.sources[0].serviceAccountToken == ServiceAccountTokenProjection(expirationSeconds: 3600, path: "token"))
        #expect(pod.spec.volumes[0].json == ["name": "a", "projected": ["defaultMode": 420, "sources": [["serviceAccountToken": ["expirationSeconds": 3600, "path": "token"]]]]])
        let again = try Pod(json: YAMLReader.value(from: pod.yamlText))
        #expect(again == pod)
        #expect(throws: ObjectDecodingError.self) {
            try PodSupportTests.pod("spec: volumes: [{name: a, projected: {sources: [{serviceAccountToken: {path: token, expires: 3}}]}}]")
        }
    }

    @Test("a field of the wrong type fails decoding, naming it")
    func wrongType() {
        #expect(throws: ObjectDecodingError.self) { try PodSupportTests.pod("spec: volumes: [{name: a, emptyDir: {}}]\ncontainer: volumeMounts: [{name: a, mountPath: /a, readOnly: yes please}]") }
        #expect(throws: ObjectDecodingError.self) { try PodSupportTests.pod("spec: volumes: [{name: a, hostPath: {path: 3}}]") }
    }
}
