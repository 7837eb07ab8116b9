import Foundation
import Testing
@testable import PodNet

@Suite("Pod decoding and encoding")
struct PodDecodingTests {
    static let fullManifest = """
        apiVersion: v1
        kind: Pod
        metadata:
          name: web
          namespace: default
          uid: 5f0c3d6e-1d2a-4a8e-9b7e-3c1f2a4b5c6d
          resourceVersion: "42"
          generation: 3
          creationTimestamp: "2021-03-21T11:42:17Z"
          labels:
            app: web
            tier: "1"
          annotations:
            note: hello
          ownerReferences:
          - apiVersion: apps/v1
            kind: ReplicaSet
            name: web-abc
            uid: x
          finalizers:
          - example.com/keep
        spec:
          restartPolicy: OnFailure
          terminationGracePeriodSeconds: 10
          dnsPolicy: ClusterFirst
          nodeName: n1
          hostname: web-0
          schedulerName: default-scheduler
          serviceAccountName: default
          securityContext: {}
          tolerations:
          - key: node.kubernetes.io/not-ready
            operator: Exists
            effect: NoExecute
            tolerationSeconds: 300
          affinity:
            nodeAffinity: {}
          volumes:
          - name: data
            emptyDir: {}
          containers:
          - name: nginx
            image: nginx:1.25
            imagePullPolicy: IfNotPresent
            command: ["nginx"]
            args: ["-g", "daemon off;"]
            workingDir: /srv
            ports:
            - name: http
              containerPort: 80
              protocol: TCP
            - containerPort: 9090
              hostPort: 19090
              hostIP: 127.0.0.1
            env:
            - name: MODE
              value: production
            - name: POD_IP
              valueFrom:
                fieldRef:
                  fieldPath: status.podIP
            resources:
              limits:
                cpu: 500m
            volumeMounts:
            - name: data
              mountPath: /data
            livenessProbe:
              httpGet:
                path: /
                port: 80
            readinessProbe:
              tcpSocket:
                port: 80
            securityContext:
              runAsUser: 1000
            terminationMessagePath: /dev/termination-log
            stdin: true
            tty: true
        status:
          phase: Running
          podIP: 10.244.1.2
          podIPs:
          - ip: 10.244.1.2
          hostIP: 192.168.200.11
          startTime: "2021-03-21T11:42:18Z"
          qosClass: Burstable
          conditions:
          - type: Ready
            status: "True"
            lastProbeTime: null
            lastTransitionTime: "2021-03-21T11:42:20Z"
          containerStatuses:
          - name: nginx
            ready: true
            started: true
            restartCount: 2
            image: nginx:1.25
            imageID: podlab://nginx
            containerID: podlab://1234
            state:
              running:
                startedAt: "2021-03-21T11:42:19Z"
            lastState:
              terminated:
                exitCode: 1
                reason: Error
                startedAt: "2021-03-21T11:42:18Z"
                finishedAt: "2021-03-21T11:42:19Z"
        """

    static func decodePod(_ yaml: String) throws -> Pod {
        let value = try YAMLReader.value(from: yaml)
        return try Pod(json: value)
    }

    @Test("reads every modeled field")
    func modeledFields() throws {
        let pod = try Self.decodePod(Self.fullManifest)
        #expect(pod.metadata.name == "web")
        #expect(pod.metadata.namespace == "default")
        #expect(pod.metadata.resourceVersion == "42")
        #expect(pod.metadata.generation == 3)
        #expect(pod.metadata.creationTimestamp == (try Timestamp(parsing: "2021-03-21T11:42:17Z")))
        #expect(pod.metadata.labels == ["app": "web", "tier": "1"])
        #expect(pod.metadata.annotations == ["note": "hello"])
        #expect(pod.spec.restartPolicy == .onFailure)
        #expect(pod.spec.terminationGracePeriodSeconds == 10)
        #expect(pod.spec.dnsPolicy == .clusterFirst)
        #expect(pod.spec.nodeName == "n1")
        #expect(pod.spec.hostname == "web-0")
        #expect(pod.spec.tolerations.count == 1)
        let container = try #require(pod.spec.containers.first)
        #expect(container.name == "nginx")
        #expect(container.image == "nginx:1.25")
        #expect(container.command == ["nginx"])
        #expect(container.args == ["-g", "daemon off;"])
        #expect(container.workingDir == "/srv")
        #expect(container.ports == [ContainerPort(containerPort: 80, protocol: .tcp, name: "http"),
                                    { var port = ContainerPort(containerPort: 9090, hostPort: 19090); port.preservedFields = ["hostIP": "127.0.0.1"]; return port }()])
        #expect(container.env.map(\.name) == ["MODE", "POD_IP"])
        #expect(container.env[0].value == "production")
        #expect(container.env[1].valueFrom == EnvVarSource(fieldRef: ObjectFieldSelector(fieldPath: "status.podIP")))
        #expect(pod.status.phase == .running)
        #expect(pod.status.podIP == "10.244.1.2")
        #expect(pod.status.podIPs == [PodIP(ip: "10.244.1.2")])
        #expect(pod.status.condition(.ready)?.status == .true)
        let status = try #require(pod.status.containerStatus(named: "nginx"))
        #expect(status.ready && status.started == true && status.restartCount == 2)
        #expect(status.state.running?.startedAt == (try Timestamp(parsing: "2021-03-21T11:42:19Z")))
        #expect(status.lastState.terminated?.exitCode == 1)
        #expect(status.lastState.terminated?.reason == "Error")
    }

    @Test("keeps the fields Kubernetes knows and podlab does not act on")
    func preservation() throws {
        let pod = try Self.decodePod(Self.fullManifest)
        #expect(Set(pod.metadata.preservedFields.keys) == ["ownerReferences", "finalizers"])
        #expect(Set(pod.spec.preservedFields.keys) == ["schedulerName", "serviceAccountName", "securityContext", "affinity"])
        #expect(pod.spec.volumes == [Volume(name: "data", emptyDir: EmptyDirVolumeSource())])
        let container = try #require(pod.spec.containers.first)
        #expect(Set(container.preservedFields.keys) == [
            "imagePullPolicy", "resources", "securityContext",
            "terminationMessagePath", "stdin", "tty",
        ])
        #expect(container.volumeMounts == [VolumeMount(name: "data", mountPath: "/data")])
        #expect(container.preservedFields["resources"] == ["limits": ["cpu": "500m"]])
        #expect(container.livenessProbe == ContainerProbe(httpGet: HTTPGetAction(path: "/", port: .number(80))))
        #expect(container.readinessProbe == ContainerProbe(tcpSocket: TCPSocketAction(port: .number(80))))
        #expect(pod.status.preservedFields == ["qosClass": "Burstable"])
    }

    @Test("a round trip changes nothing but Kubernetes' own normalisations")
    func roundTrip() throws {
        let original = try YAMLReader.value(from: Self.fullManifest)
        let pod = try Pod(json: original)
        // Kubernetes writes the unset lastTransitionTime... only lastProbeTime is null in the input already.
        #expect(pod.json == original)
        #expect(try Pod(json: YAMLReader.value(from: pod.yamlText)) == pod)
        #expect(try Pod(json: JSONReader.value(from: pod.jsonText)) == pod)
    }

    @Test("Codable goes through the same strict rules")
    func codable() throws {
        let pod = try Self.decodePod(Self.fullManifest)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let data = try encoder.encode(pod)
        #expect(try JSONDecoder().decode(Pod.self, from: data) == pod)
        #expect(try JSONReader.value(from: String(decoding: data, as: UTF8.self)) == pod.json)

        let bad = Data(#"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"x"},"spec":{"containers":[{"name":"a","imagee":"nginx"}]}}"#.utf8)
        let error = #expect(throws: DecodingError.self) { try JSONDecoder().decode(Pod.self, from: bad) }
        guard case let .dataCorrupted(context)? = error else {
            Issue.record("expected dataCorrupted, got \(String(describing: error))")
            return
        }
        #expect(context.debugDescription == #"Pod in version "v1" cannot be handled as a Pod: strict decoding error: unknown field "spec.containers[0].imagee""#)
    }

    @Test("unknown fields are rejected with the API server's message", arguments: [
        ("spec:\n  containers:\n  - name: a\n    imagee: nginx\n",
         #"Pod in version "v1" cannot be handled as a Pod: strict decoding error: unknown field "spec.containers[0].imagee""#),
        ("metadata:\n  nmae: x\nspec:\n  foo: 1\n  containers:\n  - name: a\n    image: b\n    ports:\n    - containerPort: 80\n      protcol: TCP\n",
         #"Pod in version "v1" cannot be handled as a Pod: strict decoding error: unknown field "metadata.nmae", unknown field "spec.containers[0].ports[0].protcol", unknown field "spec.foo""#),
        ("specs: {}\n", #"Pod in version "v1" cannot be handled as a Pod: strict decoding error: unknown field "specs""#),
        ("status:\n  containerStatuses:\n  - name: a\n    state:\n      sleeping: {}\n",
         #"Pod in version "v1" cannot be handled as a Pod: strict decoding error: unknown field "status.containerStatuses[0].state.sleeping""#),
    ])
    func unknownFields(body: String, message: String) throws {
        let value = try YAMLReader.value(from: "apiVersion: v1\nkind: Pod\n" + body)
        let error = #expect(throws: ObjectDecodingError.self) { try Pod(json: value) }
        #expect(error?.description == message)
    }

    @Test("wrong JSON types name the field", arguments: [
        ("spec:\n  containers:\n  - name: a\n    ports:\n    - containerPort: \"80\"\n",
         #"Pod in version "v1" cannot be handled as a Pod: json: cannot unmarshal string into field spec.containers[0].ports[0].containerPort of type int32"#),
        ("spec:\n  containers:\n  - name: a\n    ports:\n    - containerPort: 3000000000\n",
         #"Pod in version "v1" cannot be handled as a Pod: json: cannot unmarshal number 3000000000 into field spec.containers[0].ports[0].containerPort of type int32"#),
        ("metadata:\n  labels:\n    version: 1.0\n",
         #"Pod in version "v1" cannot be handled as a Pod: json: cannot unmarshal number into field metadata.labels[version] of type string"#),
        ("spec:\n  containers: {}\n",
         #"Pod in version "v1" cannot be handled as a Pod: json: cannot unmarshal object into field spec.containers of type array"#),
        ("spec: []\n", #"Pod in version "v1" cannot be handled as a Pod: json: cannot unmarshal array into field spec of type object"#),
        ("metadata:\n  creationTimestamp: yes\n",
         #"Pod in version "v1" cannot be handled as a Pod: json: cannot unmarshal bool into field metadata.creationTimestamp of type string"#),
        ("metadata:\n  creationTimestamp: \"2021-02-30T00:00:00Z\"\n",
         #"Pod in version "v1" cannot be handled as a Pod: metadata.creationTimestamp: invalid value "2021-02-30T00:00:00Z": day 30 is out of range (expected RFC 3339, like 2021-03-21T11:42:17Z)"#),
        ("kind: Node\n", #"Pod in version "v1" cannot be handled as a Pod: kind: invalid value "Node": expected "Pod""#),
    ])
    func typeErrors(body: String, message: String) throws {
        let value = try YAMLReader.value(from: body.hasPrefix("kind:") ? body : "apiVersion: v1\nkind: Pod\n" + body)
        let error = #expect(throws: ObjectDecodingError.self) { try Pod(json: value) }
        #expect(error?.description == message)
    }

    @Test("null means unset, as in Go")
    func nulls() throws {
        let pod = try Self.decodePod("metadata:\n  name: x\n  labels: null\nspec:\n  nodeName: null\n  containers:\n  - name: a\n    image: null\n    args: [null]\n")
        #expect(pod.metadata.labels.isEmpty)
        #expect(pod.spec.nodeName == "")
        #expect(pod.spec.containers[0].image == "")
        #expect(pod.spec.containers[0].args == [""])
    }

    @Test("writes Kubernetes' empty values: creationTimestamp null, status {}, resources {}")
    func emptyPod() {
        let pod = Pod(metadata: ObjectMeta(name: "x"), spec: PodSpec(containers: [Container(name: "a", image: "b")]))
        #expect(pod.json == [
            "apiVersion": "v1", "kind": "Pod",
            "metadata": ["name": "x", "creationTimestamp": .null],
            "spec": ["containers": [["name": "a", "image": "b", "resources": [:]]]],
            "status": [:],
        ])
    }

    @Test("status conditions write unset times as null")
    func conditionNulls() {
        let condition = PodCondition(type: .podScheduled, status: .true)
        #expect(condition.json == ["type": "PodScheduled", "status": "True", "lastProbeTime": .null, "lastTransitionTime": .null])
        let state = ContainerState.running(startedAt: nil)
        #expect(state.json == ["running": ["startedAt": .null]])
        #expect(ContainerState().json == [:])
    }
}
