import Testing
@testable import PodNet

/// Every field podlab does not act on is refused with its path, or kept and shown again; none
/// is accepted and then ignored (see `PodSupport`).
@Suite("Fields podlab refuses or keeps")
struct PodSupportTests {
    /// A change to the valid pod, made through its manifest as a user writes it.
    struct Row: Sendable, CustomTestStringConvertible {
        let yaml: String
        let expected: [String]
        init(_ yaml: String, _ expected: [String]) {
            self.yaml = yaml
            self.expected = expected
        }
        var testDescription: String { expected.first ?? "kept: \(yaml)" }
    }

    /// The valid pod with `extra` spliced in: lines starting with `metadata:`, `spec:` or
    /// `container:` go to that object.
    static func pod(_ extra: String) throws -> Pod {
        var metadata = "", spec = "", container = ""
        for line in extra.split(separator: "\n") {
            if line.hasPrefix("metadata: ") { metadata += "  " + line.dropFirst(10) + "\n" }
            if line.hasPrefix("spec: ") { spec += "  " + line.dropFirst(6) + "\n" }
            if line.hasPrefix("container: ") { container += "    " + line.dropFirst(11) + "\n" }
        }
        let yaml = """
            apiVersion: v1
            kind: Pod
            metadata:
              name: web
            \(metadata)spec:
            \(spec)  containers:
              - name: app
                image: busybox
            \(container)
            """
        return try Pod(json: YAMLReader.value(from: yaml)).applyingDefaults()
    }

    static let refused = "Forbidden: not supported by podlab yet"

    static let rows: [Row] = [
        // metadata
        Row("metadata: ownerReferences: [{apiVersion: apps/v1, kind: ReplicaSet, name: web, uid: u}]", ["metadata.ownerReferences: \(refused)"]),
        Row("metadata: finalizers: [example.com/keep]", ["metadata.finalizers: \(refused)"]),
        Row("metadata: managedFields: [{manager: kubectl}]", []),
        // spec
        Row("spec: volumes: [{name: data, emptyDir: {}}]", []),
        Row("spec: volumes: [{name: data, emptyDir: {medium: Memory, sizeLimit: 64Mi}}]", []),
        Row("spec: volumes: [{name: data, emptyDir: {medium: HugePages}}]", ["spec.volumes[0].emptyDir.medium: \(refused)"]),
        Row("spec: volumes: [{name: data, emptyDir: {medium: HugePages-2Mi}}]", ["spec.volumes[0].emptyDir.medium: \(refused)"]),
        Row("spec: volumes: [{name: data, emptyDir: {medium: Disk}}]",
            [#"spec.volumes[0].emptyDir.medium: Unsupported value: "Disk": supported values: "", "HugePages", "Memory""#]),
        Row("spec: volumes: [{name: a, hostPath: {path: /tmp}}, {name: b, nfs: {server: s, path: /}}]", ["spec.volumes[1].nfs: \(refused)"]),
        Row("spec: volumes: [{name: a, configMap: {name: c}}, {name: b, secret: {secretName: s}}, {name: c, projected: {sources: [{downwardAPI: {items: [{path: podname, fieldRef: {fieldPath: metadata.name}}]}}]}}]", []),
        Row("spec: volumes: [{name: a, hostPath: {path: /srv/data, type: DirectoryOrCreate}}]", []),
        Row("spec: volumes: [{name: a, hostPath: {path: srv/data}}]", [#"spec.volumes[0].hostPath.path: Invalid value: "srv/data": must be an absolute path"#]),
        Row("spec: volumes: [{name: data}]", []),
        Row("spec: initContainers: [{name: init, image: busybox, command: [sh, -c, 'echo ready']}]", []),
        Row("spec: initContainers: [{name: proxy, image: nginx, restartPolicy: Always}]", []),
        Row("spec: initContainers: [{name: init, image: busybox, restartPolicy: Never}]",
            [#"spec.initContainers[0].restartPolicy: Unsupported value: "Never": supported values: "Always""#]),
        // Kubernetes itself refuses probes and hooks on a regular init container; on a sidecar
        // it allows them, and podlab refuses them as it does on any container.
        Row("spec: initContainers: [{name: init, image: busybox, readinessProbe: {exec: {command: ['true']}}, lifecycle: {postStart: {exec: {command: ['true']}}}}]",
            ["spec.initContainers[0].lifecycle: Forbidden: may not be set for init containers without restartPolicy=Always",
             "spec.initContainers[0].readinessProbe: Forbidden: may not be set for init containers without restartPolicy=Always"]),
        Row("spec: initContainers: [{name: proxy, image: nginx, restartPolicy: Always, startupProbe: {tcpSocket: {port: 80}}}]", []),
        Row("spec: ephemeralContainers: [{name: debug, image: busybox}]", ["spec.ephemeralContainers: Forbidden: cannot be set on create"]),
        Row("spec: activeDeadlineSeconds: 60", ["spec.activeDeadlineSeconds: \(refused)"]),
        Row("spec: nodeSelector: {disk: ssd}", ["spec.nodeSelector: \(refused)"]),
        Row("spec: serviceAccountName: builder", [#"spec.serviceAccountName: Unsupported value: "builder": supported values: "default""#]),
        Row("spec: serviceAccount: builder", [#"spec.serviceAccount: Unsupported value: "builder": supported values: "default""#]),
        Row("spec: serviceAccountName: default", []),
        Row("spec: automountServiceAccountToken: false", []),
        Row("spec: hostNetwork: true", []),
        Row("spec: hostNetwork: false", []),
        Row("spec: hostNetwork: true\nspec: dnsPolicy: ClusterFirstWithHostNet\ncontainer: ports: [{containerPort: 8080}]", []),
        Row("spec: hostNetwork: true\ncontainer: ports: [{containerPort: 8080, hostPort: 8080}]", []),
        Row("spec: hostNetwork: true\ncontainer: ports: [{containerPort: 80, hostPort: 8080}]",
            ["spec.containers[0].ports[0].containerPort: Invalid value: 80: must match `hostPort` when `hostNetwork` is true"]),
        Row("spec: hostNetwork: true\nspec: initContainers: [{name: init, image: busybox, ports: [{containerPort: 81, hostPort: 9090}]}]",
            ["spec.initContainers[0].ports[0].containerPort: Invalid value: 81: must match `hostPort` when `hostNetwork` is true"]),
        Row("spec: hostPID: true", ["spec.hostPID: \(refused): a pod never sees the host's processes; use shareProcessNamespace to share one pid namespace among its containers"]),
        Row("spec: hostIPC: true", ["spec.hostIPC: \(refused): a pod never shares the host's IPC namespace; its containers share the pod's own"]),
        Row("spec: hostPID: false\nspec: hostIPC: false", []),
        Row("spec: shareProcessNamespace: true", []),
        Row("spec: shareProcessNamespace: false", []),
        Row("spec: shareProcessNamespace: \"yes\"", [#"spec.shareProcessNamespace: Invalid value: "yes": must be a boolean"#]),
        Row("spec: securityContext: {runAsUser: 1000, fsGroup: 2000}", ["spec.securityContext.fsGroup: \(refused)"]),
        Row("spec: securityContext: {runAsUser: -1, runAsGroup: 2147483648, supplementalGroups: [1, -2], runAsNonRoot: true}", [
            "spec.securityContext.runAsUser: Invalid value: -1: must be between 0 and 2147483647, inclusive",
            "spec.securityContext.runAsGroup: Invalid value: 2147483648: must be between 0 and 2147483647, inclusive",
            "spec.securityContext.supplementalGroups[1]: Invalid value: -2: must be between 0 and 2147483647, inclusive",
        ]),
        Row("spec: securityContext: {seccompProfile: {type: RuntimeDefault}, supplementalGroupsPolicy: Strict}",
            ["spec.securityContext.seccompProfile: \(refused)", "spec.securityContext.supplementalGroupsPolicy: \(refused)"]),
        Row("container: securityContext: {runAsUser: 1000, runAsGroup: 1000, runAsNonRoot: true, readOnlyRootFilesystem: true}",
            ["spec.containers[0].securityContext.readOnlyRootFilesystem: \(refused)"]),
        Row("spec: securityContext: {}", []),
        Row("spec: subdomain: web\nspec: setHostnameAsFQDN: true", []),
        Row("spec: affinity: {nodeAffinity: {}}", ["spec.affinity.nodeAffinity: \(refused)"]),
        Row("spec: schedulerName: my-scheduler", [#"spec.schedulerName: Unsupported value: "my-scheduler": supported values: "default-scheduler""#]),
        Row("spec: tolerations: [{key: k, operator: Exists, effect: NoSchedule}]", []),
        Row("spec: hostAliases: [{ip: 10.0.0.1, hostnames: [db, db.example.com]}, {ip: 'fd00::1', hostnames: [v6]}]", []),
        Row("spec: hostAliases: [{ip: db.local, hostnames: [db]}]",
            [#"spec.hostAliases[0].ip: Invalid value: "db.local": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"#]),
        Row("spec: hostAliases: [{hostnames: [db]}]",
            [#"spec.hostAliases[0].ip: Invalid value: "": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"#]),
        Row("spec: hostAliases: [{ip: 10.0.0.1, hostnames: [db, Bad_Name]}]",
            [#"spec.hostAliases[0].hostnames[1]: Invalid value: "Bad_Name": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"#]),
        Row("spec: priorityClassName: high\nspec: priority: 1000\nspec: preemptionPolicy: Never", []),
        Row("spec: dnsPolicy: Default", []),
        Row("spec: dnsConfig: {nameservers: [10.0.0.53], searches: [lab.example.], options: [{name: ndots, value: '2'}, {name: edns0}]}", []),
        Row("spec: dnsPolicy: None\nspec: dnsConfig: {nameservers: [10.0.0.53]}", []),
        Row("spec: dnsPolicy: None\nspec: dnsConfig: {searches: [a.example]}",
            ["spec.dnsConfig.nameservers: Required value: must provide at least one DNS nameserver when `dnsPolicy` is None"]),
        Row("spec: dnsConfig: {nameservers: [1.1.1.1, 1.0.0.1, 8.8.8.8, 9.9.9.9]}",
            [#"spec.dnsConfig.nameservers: Invalid value: []string{"1.1.1.1", "1.0.0.1", "8.8.8.8", "9.9.9.9"}: must not have more than 3 nameservers"#]),
        Row("spec: dnsConfig: {nameservers: [dns.local]}",
            [#"spec.dnsConfig.nameservers[0]: Invalid value: "dns.local": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"#]),
        Row("spec: dnsConfig: {searches: [Bad_Domain]}",
            [#"spec.dnsConfig.searches[0]: Invalid value: "Bad_Domain": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"#]),
        Row("spec: dnsConfig: {options: [{value: '1'}]}", ["spec.dnsConfig.options[0]: Required value: must not be empty"]),
        Row("spec: readinessGates: [{conditionType: example.com/lb}]", []),
        Row("spec: runtimeClassName: gvisor", ["spec.runtimeClassName: \(refused)"]),
        Row("spec: enableServiceLinks: false", []),
        Row("spec: imagePullSecrets: [{name: registry}]", []),
        Row("spec: overhead: {cpu: 100m}", ["spec.overhead: \(refused)"]),
        Row("spec: topologySpreadConstraints: [{maxSkew: 1, topologyKey: zone, whenUnsatisfiable: DoNotSchedule}]",
            ["spec.topologySpreadConstraints: \(refused)"]),
        Row("spec: setHostnameAsFQDN: true", []),
        Row("spec: os: {name: linux}", []),
        Row("spec: os: {name: windows}", ["spec.os.name: \(refused): podlab nodes run Linux"]),
        Row("spec: os: {name: plan9}", [#"spec.os.name: Unsupported value: "plan9": supported values: "linux", "windows""#]),
        Row("spec: hostUsers: false", ["spec.hostUsers: \(refused)"]),
        Row("spec: hostUsers: true", []),
        Row("spec: schedulingGates: [{name: wait}]", ["spec.schedulingGates: \(refused)"]),
        Row("spec: resourceClaims: [{name: gpu}]", ["spec.resourceClaims: \(refused)"]),
        Row("spec: resources: {requests: {cpu: 1}}", ["spec.resources: \(refused)"]),
        Row("spec: hostnameOverride: other", ["spec.hostnameOverride: \(refused)"]),
        // containers
        Row("container: ports: [{containerPort: 80, hostPort: 8080}]", []),
        Row("container: ports: [{containerPort: 80, hostPort: 80}]", []),
        Row("spec: initContainers: [{name: init, image: busybox, ports: [{containerPort: 81, hostPort: 9090}]}]",
            ["spec.initContainers[0].ports[0].hostPort: \(refused): podlab maps the host ports of app containers only"]),
        Row("container: ports: [{containerPort: 80, hostIP: 127.0.0.1}]", []),
        Row("container: envFrom: [{configMapRef: {name: settings}}]", []),
        Row("container: envFrom: [{prefix: X_, secretRef: {name: creds}}]", []),
        Row("container: envFrom: [{prefix: 1X, secretRef: {name: creds}}]",
            [#"spec.containers[0].envFrom[0].prefix: Invalid value: "1X": a valid environment variable name must consist of alphabetic characters, digits, '_', '-', or '.', and must not start with a digit (e.g. 'my.env-name',  or 'MY_ENV.NAME',  or 'MyEnvName1', regex used for validation is '[-._a-zA-Z][-._a-zA-Z0-9]*')"#]),
        Row("container: envFrom: [{prefix: X_}]", [#"spec.containers[0].envFrom: Invalid value: "": must specify one of: `configMapRef` or `secretRef`"#]),
        Row("container: envFrom: [{configMapRef: {name: a}, secretRef: {name: b}}]",
            ["spec.containers[0].envFrom[0]: Forbidden: may not have more than one field specified at a time"]),
        Row("container: env: [{name: A, valueFrom: {configMapKeyRef: {name: settings, key: a}}}]", []),
        Row("container: env: [{name: A, valueFrom: {secretKeyRef: {name: creds, key: a}}}]", []),
        Row("container: env: [{name: A, valueFrom: {secretKeyRef: {name: creds, key: ''}}}]", ["spec.containers[0].env[0].valueFrom.secretKeyRef.key: Required value"]),
        Row("container: env: [{name: A, valueFrom: {fileKeyRef: {volumeName: v, path: p, key: a}}}]",
            ["spec.containers[0].env[0].valueFrom.fileKeyRef: \(refused)"]),
        Row("container: env: [{name: A, valueFrom: {fieldRef: {fieldPath: status.podIP}}}]", []),
        Row("container: env: [{name: A, valueFrom: {resourceFieldRef: {resource: limits.memory, divisor: 1Mi}}}]", []),
        Row("container: resources: {requests: {cpu: 250m, memory: 64Mi, ephemeral-storage: 1Gi}}", []),
        Row("container: resources: {limits: {cpu: 500m, memory: 64Mi}}", []),
        Row("container: resources: {limits: {cpu: 500m, ephemeral-storage: 1Gi, hugepages-2Mi: 2Mi}}",
            ["spec.containers[0].resources.limits[ephemeral-storage]: \(refused): podlab enforces cpu and memory limits only",
             "spec.containers[0].resources.limits[hugepages-2Mi]: \(refused): podlab enforces cpu and memory limits only"]),
        Row("container: resources: {claims: [{name: gpu}]}", ["spec.containers[0].resources.claims: \(refused)"]),
        Row("container: resizePolicy: [{resourceName: cpu, restartPolicy: NotRequired}]", ["spec.containers[0].resizePolicy: \(refused)"]),
        Row("container: restartPolicy: Always", ["spec.containers[0].restartPolicy: Forbidden: may not be set for non-init containers"]),
        Row("container: volumeMounts: [{name: data, mountPath: /data}]", [#"spec.containers[0].volumeMounts[0].name: Not found: "data""#]),
        Row("spec: volumes: [{name: data, emptyDir: {}}]\ncontainer: volumeMounts: [{name: data, mountPath: /data, readOnly: true, subPath: logs, mountPropagation: None, recursiveReadOnly: Disabled}]", []),
        Row("spec: volumes: [{name: data, emptyDir: {}}]\ncontainer: volumeMounts: [{name: data, mountPath: /data, subPathExpr: $(POD_NAME)}]",
            ["spec.containers[0].volumeMounts[0].subPathExpr: \(refused)"]),
        Row("spec: volumes: [{name: data, emptyDir: {}}]\ncontainer: volumeMounts: [{name: data, mountPath: /data, mountPropagation: HostToContainer}]",
            ["spec.containers[0].volumeMounts[0].mountPropagation: \(refused)"]),
        Row("spec: volumes: [{name: data, emptyDir: {}}]\ncontainer: volumeMounts: [{name: data, mountPath: /data, readOnly: true, recursiveReadOnly: Enabled}]",
            ["spec.containers[0].volumeMounts[0].recursiveReadOnly: \(refused)"]),
        Row("spec: volumes: [{name: data, emptyDir: {}}]\ncontainer: volumeMounts: [{name: data, mountPath: data}]",
            [#"spec.containers[0].volumeMounts[0].mountPath: Invalid value: "data": must be an absolute path"#]),
        Row("spec: volumes: [{name: data, emptyDir: {}}]\ncontainer: volumeMounts: [{name: data, mountPath: /}]",
            ["spec.containers[0].volumeMounts[0].mountPath: \(refused): a volume cannot replace the root of the container"]),
        Row("container: volumeDevices: [{name: disk, devicePath: /dev/xvda}]", ["spec.containers[0].volumeDevices: \(refused)"]),
        Row("container: livenessProbe: {httpGet: {path: /, port: 80}}", []),
        Row("container: readinessProbe: {tcpSocket: {port: 80}}", []),
        Row("container: startupProbe: {exec: {command: ['true']}}", []),
        Row("container: livenessProbe: {grpc: {port: 9090}}", ["spec.containers[0].livenessProbe.grpc: \(refused): use httpGet, tcpSocket or exec"]),
        Row("container: lifecycle: {preStop: {exec: {command: [sleep, '1']}}}", ["spec.containers[0].lifecycle.preStop: \(refused)"]),
        Row("container: securityContext: {privileged: false, capabilities: {add: [NET_ADMIN]}}",
            ["spec.containers[0].securityContext.capabilities: \(refused)", "spec.containers[0].securityContext.privileged: \(refused)"]),
        Row("container: imagePullPolicy: Never\ncontainer: terminationMessagePolicy: FallbackToLogsOnError\ncontainer: terminationMessagePath: /tmp/t", []),
        Row("container: imagePullPolicy: Sometimes",
            [#"spec.containers[0].imagePullPolicy: Unsupported value: "Sometimes": supported values: "Always", "IfNotPresent", "Never""#]),
        Row("container: terminationMessagePolicy: Logs",
            [#"spec.containers[0].terminationMessagePolicy: Unsupported value: "Logs": supported values: "File", "FallbackToLogsOnError""#]),
        Row("container: stdin: true\ncontainer: stdinOnce: true\ncontainer: tty: true\ncontainer: workingDir: /tmp", []),
    ]

    @Test("one row per field", arguments: rows)
    func field(_ row: Row) throws {
        let pod = try Self.pod(row.yaml)
        #expect(pod.validate().errors.map(\.description) == row.expected)
    }

    @Test("kept fields come back in the stored object", arguments: rows.filter(\.expected.isEmpty))
    func roundTrip(_ row: Row) throws {
        let pod = try Self.pod(row.yaml)
        let again = try Pod(json: YAMLReader.value(from: pod.yamlText))
        #expect(again == pod)
        #expect(again.json == pod.json)
        // `securityContext: {}` is the default itself; every other row adds something.
        if row.yaml != "spec: securityContext: {}" {
            #expect(pod.json != (try Self.pod("")).json, "the row's fields are in the stored object")
        }
    }

    @Test("a refusal is a 422 Invalid Status that kubectl prints as a validation error")
    func status() throws {
        let pod = try Self.pod("spec: volumes: [{name: data, nfs: {server: s, path: /}}]")
        let error = #expect(throws: InvalidObjectError.self) { try pod.validated() }
        #expect(error?.status.code == 422)
        #expect(error?.status.reason == .invalid)
        #expect(error?.status.details?.causes == [APIStatus.Cause(reason: "FieldValueForbidden", message: "Forbidden: not supported by podlab yet",
                                                                  field: "spec.volumes[0].nfs")])
        #expect(error?.description == #"The Pod "web" is invalid: spec.volumes[0].nfs: Forbidden: not supported by podlab yet"#)
    }

    @Test("an update may not bring in a refused field either")
    func update() throws {
        let old = try Self.pod("")
        var new = old
        new.spec.preservedFields["nodeSelector"] = ["disk": "ssd"]
        #expect(new.validateUpdate(from: old).errors.first?.description == "spec.nodeSelector: \(Self.refused)")
        new = old
        new.spec.preservedFields["ephemeralContainers"] = [["name": "debug", "image": "busybox"]]
        #expect(new.validateUpdate(from: old).errors.first?.description == "spec.ephemeralContainers: \(Self.refused)")
    }

    @Test("misspelt fields inside kept objects fail strict decoding", arguments: [
        ("spec: securityContext: {runAsUsr: 1}", "spec.securityContext.runAsUsr"),
        ("spec: tolerations: [{key: k, operater: Exists}]", "spec.tolerations[0].operater"),
        ("spec: volumes: [{name: d, emptyDirr: {}}]", "spec.volumes[0].emptyDirr"),
        ("spec: volumes: [{name: d, emptyDir: {size: 1Gi}}]", "spec.volumes[0].emptyDir.size"),
        ("spec: volumes: [{name: d, hostPath: {path: /tmp, kind: Directory}}]", "spec.volumes[0].hostPath.kind"),
        ("container: volumeMounts: [{name: d, path: /d}]", "spec.containers[0].volumeMounts[0].path"),
        ("spec: readinessGates: [{type: x}]", "spec.readinessGates[0].type"),
        ("container: resources: {request: {cpu: 1}}", "spec.containers[0].resources.request"),
        ("container: securityContext: {runAsUser: 1, privilegd: true}", "spec.containers[0].securityContext.privilegd"),
        ("container: env: [{name: A, valueFrom: {fieldRef: {path: metadata.name}}}]", "spec.containers[0].env[0].valueFrom.fieldRef.path"),
        ("container: env: [{name: A, valueFrom: {podRef: {}}}]", "spec.containers[0].env[0].valueFrom.podRef"),
        ("container: env: [{name: A, valueFrom: {secretKeyRef: {name: s, kee: a}}}]", "spec.containers[0].env[0].valueFrom.secretKeyRef.kee"),
        ("container: lifecycle: {preStart: {}}", "spec.containers[0].lifecycle.preStart"),
    ])
    func unknownNested(yaml: String, field: String) {
        #expect(throws: ObjectDecodingError.inObject(kind: "Pod", apiVersion: "v1", .unknownFields([FieldPath(field)]))) { try Self.pod(yaml) }
    }

    @Test("a malformed quantity fails decoding with Kubernetes' message")
    func malformedQuantity() {
        let error = #expect(throws: ObjectDecodingError.self) { try Self.pod("container: resources: {requests: {cpu: lots}}") }
        #expect(error?.description == #"Pod in version "v1" cannot be handled as a Pod: "# + "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'")
    }

    @Test("requests are stored in their canonical form, as the API server stores them")
    func canonicalRequests() throws {
        let pod = try Self.pod("container: resources: {requests: {cpu: 0.5, memory: 1048576, ephemeral-storage: 1.5Gi}}")
        #expect(pod.spec.containers[0].preservedFields["resources"] == ["requests": ["cpu": "500m", "memory": "1048576", "ephemeral-storage": "1536Mi"]])
    }
}

extension FieldPath {
    /// A path from its printed form (`spec.containers[0].env[0].name`), for tests.
    init(_ text: String) {
        var components: [Component] = []
        for part in text.split(separator: ".") {
            var name = Substring(part)
            var indices: [Int] = []
            while name.hasSuffix("]"), let open = name.lastIndex(of: "[") {
                indices.insert(Int(name[name.index(after: open)..<name.index(before: name.endIndex)])!, at: 0)
                name = name[..<open]
            }
            components.append(.field(String(name)))
            components += indices.map { .index($0) }
        }
        self.init(components)
    }
}
