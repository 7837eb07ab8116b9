import Testing
@testable import PodNet

/// What the kubelet writes for configMap, secret, downwardAPI and projected volumes, and the
/// environment from ConfigMaps and Secrets (`envFrom`, `configMapKeyRef`, `secretKeyRef`).
@Suite("Volume files and environment from ConfigMaps and Secrets")
struct VolumeFilesTests {
    static let objects = ConfigObjects(
        configMaps: ["settings": ConfigMap(metadata: ObjectMeta(name: "settings", namespace: "team"),
                                           data: ["app.ini": "debug=1\n", "LEVEL": "info", "bad key": "x"], binaryData: ["logo": [0, 1]])],
        secrets: ["creds": Secret(metadata: ObjectMeta(name: "creds", namespace: "team"),
                                  data: ["password": Array("s3cret".utf8), "user": Array("admin".utf8)], type: "Opaque")])

    static func pod(volumes: [Volume] = [], env: [EnvVar] = [], envFrom: [EnvFromSource] = []) -> Pod {
        Pod(metadata: ObjectMeta(name: "web", namespace: "team", labels: ["tier": "front", "app": "web"], uid: "u-1"),
            spec: PodSpec(containers: [Container(name: "app", image: "busybox", env: env, envFrom: envFrom)], volumes: volumes)).applyingDefaults()
    }

    static func files(_ volume: Volume) throws(VolumeSourceError) -> [String: ProjectedFile]? {
        let pod = pod(volumes: [volume])
        return try VolumeFiles.payload(for: pod.spec.volumes[0], pod: pod, objects: objects, nodeAllocatable: [:])
    }

    @Test("a configMap volume: every key a file of its own name, mode 0644 by default; binaryData too")
    func configMapAllKeys() throws {
        let files = try #require(try Self.files(Volume(name: "c", configMap: ConfigMapVolumeSource(name: "settings"))))
        #expect(files == ["app.ini": ProjectedFile("debug=1\n", mode: 0o644), "LEVEL": ProjectedFile("info", mode: 0o644),
                          "bad key": ProjectedFile("x", mode: 0o644), "logo": ProjectedFile(data: [0, 1], mode: 0o644)])
    }

    @Test("items pick keys, give paths and modes; defaultMode for the rest")
    func items() throws {
        let volume = Volume(name: "c", configMap: ConfigMapVolumeSource(name: "settings", items: [
            KeyToPath(key: "app.ini", path: "conf/app.ini", mode: 0o400), KeyToPath(key: "LEVEL", path: "level"),
        ], defaultMode: 0o640))
        #expect(try Self.files(volume) == ["conf/app.ini": ProjectedFile("debug=1\n", mode: 0o400), "level": ProjectedFile("info", mode: 0o640)])
    }

    @Test("a missing object or key: the kubelet's reasons; optional makes it empty")
    func missing() throws {
        #expect(throws: VolumeSourceError(["configmap \"other\" not found"])) {
            try Self.files(Volume(name: "c", configMap: ConfigMapVolumeSource(name: "other")))
        }
        #expect(throws: VolumeSourceError(["secret \"other\" not found"])) {
            try Self.files(Volume(name: "s", secret: SecretVolumeSource(secretName: "other")))
        }
        #expect(throws: VolumeSourceError(["configmap references non-existent config key: nope"])) {
            try Self.files(Volume(name: "c", configMap: ConfigMapVolumeSource(name: "settings", items: [KeyToPath(key: "nope", path: "x")])))
        }
        #expect(throws: VolumeSourceError(["references non-existent secret key: nope"])) {
            try Self.files(Volume(name: "s", secret: SecretVolumeSource(secretName: "creds", items: [KeyToPath(key: "nope", path: "x")])))
        }
        #expect(try Self.files(Volume(name: "c", configMap: ConfigMapVolumeSource(name: "other", optional: true))) == [:])
        #expect(try Self.files(Volume(name: "c", configMap: ConfigMapVolumeSource(name: "settings", items: [KeyToPath(key: "nope", path: "x")], optional: true))) == [:])
    }

    @Test("memory-backed as the kubelet's plugins mount them: secret, projected and downwardAPI on a tmpfs, configMap and the rest on disk")
    func memoryBacked() {
        #expect(VolumeFiles.isMemoryBacked(Volume(name: "s", secret: SecretVolumeSource(secretName: "creds"))))
        #expect(VolumeFiles.isMemoryBacked(Volume(name: "p", projected: ProjectedVolumeSource(sources: []))))
        #expect(VolumeFiles.isMemoryBacked(Volume(name: "d", downwardAPI: DownwardAPIVolumeSource(items: []))))
        #expect(!VolumeFiles.isMemoryBacked(Volume(name: "c", configMap: ConfigMapVolumeSource(name: "settings"))))
        #expect(!VolumeFiles.isMemoryBacked(Volume(name: "e", emptyDir: EmptyDirVolumeSource())))
        #expect(!VolumeFiles.isMemoryBacked(Volume(name: "h", hostPath: HostPathVolumeSource(path: "/tmp"))))
    }

    @Test("a secret volume: the bytes, with the volume's mode")
    func secret() throws {
        let files = try Self.files(Volume(name: "s", secret: SecretVolumeSource(secretName: "creds", defaultMode: 0o400)))
        #expect(files == ["password": ProjectedFile("s3cret", mode: 0o400), "user": ProjectedFile("admin", mode: 0o400)])
    }

    @Test("a downwardAPI volume: name, namespace, uid, labels as sorted key=\"value\" lines")
    func downwardAPI() throws {
        let volume = Volume(name: "d", downwardAPI: DownwardAPIVolumeSource(items: [
            DownwardAPIVolumeFile(path: "name", fieldRef: ObjectFieldSelector(fieldPath: "metadata.name")),
            DownwardAPIVolumeFile(path: "ns", fieldRef: ObjectFieldSelector(fieldPath: "metadata.namespace")),
            DownwardAPIVolumeFile(path: "labels", fieldRef: ObjectFieldSelector(fieldPath: "metadata.labels"), mode: 0o600),
            DownwardAPIVolumeFile(path: "uid", fieldRef: ObjectFieldSelector(fieldPath: "metadata.uid")),
        ]))
        #expect(try Self.files(volume) == [
            "name": ProjectedFile("web", mode: 0o644), "ns": ProjectedFile("team", mode: 0o644),
            "labels": ProjectedFile("app=\"web\"\ntier=\"front\"", mode: 0o600), "uid": ProjectedFile("u-1", mode: 0o644),
        ])
        #expect(VolumeFiles.readsPodMetadata(volume))
        #expect(!VolumeFiles.readsPodMetadata(Volume(name: "c", configMap: ConfigMapVolumeSource(name: "settings"))))
    }

    @Test("a projected volume: its sources' files together; every missing source reported")
    func projected() throws {
        let volume = Volume(name: "p", projected: ProjectedVolumeSource(sources: [
            VolumeProjection(configMap: ConfigMapProjection(name: "settings", items: [KeyToPath(key: "LEVEL", path: "level")])),
            VolumeProjection(secret: SecretProjection(name: "creds", items: [KeyToPath(key: "user", path: "user", mode: 0o400)])),
            VolumeProjection(downwardAPI: DownwardAPIProjection(items: [DownwardAPIVolumeFile(path: "name", fieldRef: ObjectFieldSelector(fieldPath: "metadata.name"))])),
        ], defaultMode: 0o440))
        #expect(try Self.files(volume) == ["level": ProjectedFile("info", mode: 0o440), "user": ProjectedFile("admin", mode: 0o400),
                                           "name": ProjectedFile("web", mode: 0o440)])
        let broken = Volume(name: "p", projected: ProjectedVolumeSource(sources: [
            VolumeProjection(configMap: ConfigMapProjection(name: "a")), VolumeProjection(secret: SecretProjection(name: "b")),
        ]))
        #expect(throws: VolumeSourceError(["configmap \"a\" not found", "secret \"b\" not found"])) { try Self.files(broken) }
        #expect(VolumeSourceError(["configmap \"a\" not found", "secret \"b\" not found"]).description == #"[configmap "a" not found, secret "b" not found]"#)
        #expect(Self.pod(volumes: [broken]).configReferences == [ConfigReference(.configMap, "a"), ConfigReference(.secret, "b")])
    }

    @Test("envFrom: every data key behind the prefix, invalid names skipped and reported; env replaces them and may refer to them")
    func envFrom() throws {
        let pod = Self.pod(env: [EnvVar(name: "CFG_LEVEL", value: "debug"), EnvVar(name: "GREETING", value: "$(S_user) at $(CFG_LEVEL)")],
                           envFrom: [EnvFromSource(prefix: "CFG_", configMapRef: EnvObjectReference(name: "settings")),
                                     EnvFromSource(prefix: "S_", secretRef: EnvObjectReference(name: "creds"))])
        let environment = try ContainerEnvironment(container: pod.spec.containers[0], pod: pod, nodeAllocatable: [:], objects: Self.objects)
        #expect(environment.dictionary == ["CFG_LEVEL": "debug", "CFG_app.ini": "debug=1\n", "S_password": "s3cret", "S_user": "admin",
                                           "GREETING": "admin at debug"])
        #expect(environment.skippedKeys.map(\.message) == [
            "Keys [CFG_bad key] from the EnvFrom configMap team/settings were skipped since they are considered invalid environment variable names.",
        ])
    }

    @Test("configMapKeyRef and secretKeyRef; a missing object or key fails the start with the kubelet's message unless optional")
    func keyRefs() throws {
        func resolve(_ env: [EnvVar], envFrom: [EnvFromSource] = []) throws(DownwardAPIError) -> [String: String] {
            let pod = Self.pod(env: env, envFrom: envFrom)
            return try ContainerEnvironment(container: pod.spec.containers[0], pod: pod, nodeAllocatable: [:], objects: Self.objects).dictionary
        }
        func ref(_ name: String, _ key: String, optional: Bool? = nil, secret: Bool = false) -> EnvVar {
            let selector = KeySelector(name: name, key: key, optional: optional)
            return EnvVar(name: "V", valueFrom: secret ? EnvVarSource(secretKeyRef: selector) : EnvVarSource(configMapKeyRef: selector))
        }
        #expect(try resolve([ref("settings", "LEVEL"), EnvVar(name: "P", valueFrom: EnvVarSource(secretKeyRef: KeySelector(name: "creds", key: "password")))])
            == ["V": "info", "P": "s3cret"])
        #expect(throws: DownwardAPIError.objectNotFound(kind: "configmap", name: "other")) { try resolve([ref("other", "a")]) }
        #expect(DownwardAPIError.objectNotFound(kind: "configmap", name: "other").description == #"configmap "other" not found"#)
        #expect(throws: DownwardAPIError.keyNotFound(key: "nope", kind: "Secret", namespace: "team", name: "creds")) {
            try resolve([ref("creds", "nope", secret: true)])
        }
        #expect(DownwardAPIError.keyNotFound(key: "nope", kind: "Secret", namespace: "team", name: "creds").description == "couldn't find key nope in Secret team/creds")
        #expect(try resolve([ref("other", "a", optional: true), ref("settings", "nope", optional: true)]).isEmpty)
        #expect(throws: DownwardAPIError.objectNotFound(kind: "secret", name: "gone")) {
            try resolve([], envFrom: [EnvFromSource(secretRef: EnvObjectReference(name: "gone"))])
        }
        #expect(try resolve([], envFrom: [EnvFromSource(secretRef: EnvObjectReference(name: "gone", optional: true))]).isEmpty)
    }

    @Test("defaults: defaultMode 0644 (420) on each source that writes files")
    func defaults() throws {
        let pod = try PodSupportTests.pod("spec: volumes: [{name: a, configMap: {name: c}}, {name: b, secret: {secretName: s}}, {name: d, downwardAPI: {items: [{path: podname, fieldRef: {fieldPath: metadata.name}}]}}, {name: p, projected: {sources: []}}]")
        #expect(pod.spec.volumes.map { $0.configMap?.defaultMode ?? $0.secret?.defaultMode ?? $0.downwardAPI?.defaultMode ?? $0.projected?.defaultMode } == [420, 420, 420, 420])
        #expect(pod.spec.volumes[2].downwardAPI?.items[0].fieldRef?.apiVersion == "v1")
        #expect(pod.validate().errors.isEmpty)
    }

    @Test("create configmap's sources: literals, files' keys, env files, kubectl's messages")
    func dataSources() throws {
        var sources = ConfigDataSources(kind: "ConfigMap", name: "c")
        try sources.addLiteral("a=b=c")
        try sources.addEnvFile(Array("\u{FEFF}# comment\n\n  LEVEL=info\nFROM_ENV\n".utf8), path: "e.env", environment: ["FROM_ENV": "yes"])
        try sources.add(key: "blob", value: [0xff, 0x00])
        #expect(sources.configMap(namespace: "x") == ConfigMap(metadata: ObjectMeta(name: "c", namespace: "x"),
                                                                 data: ["a": "b=c", "LEVEL": "info", "FROM_ENV": "yes"], binaryData: ["blob": [0xff, 0]]))
        #expect(throws: ConfigDataSources.SourceError(description: #"cannot add key "a", another key by that name already exists in Data for ConfigMap "c""#)) {
            try sources.addLiteral("a=again")
        }
        #expect(throws: ConfigDataSources.SourceError(description: "invalid literal source =x, expected key=value")) { try sources.addLiteral("=x") }
        #expect(throws: ConfigDataSources.SourceError(description: "invalid literal source novalue, expected key=value")) { try sources.addLiteral("novalue") }
        #expect(throws: ConfigDataSources.SourceError(description: #""a b" is not a valid key name for a ConfigMap: "# + ConfigObjectTests.keyMessage)) {
            try sources.addLiteral("a b=1")
        }
        #expect(try ConfigDataSources.fileSource("/etc/app.ini").key == nil)
        let keyed = try ConfigDataSources.fileSource("k=/etc/app.ini")
        #expect(keyed.key == "k" && keyed.path == "/etc/app.ini")
        #expect(throws: ConfigDataSources.SourceError(description: "key names or file paths cannot contain '='")) { try ConfigDataSources.fileSource("a=b=c") }
        #expect(ConfigDataSources.baseName("/etc/app.ini") == "app.ini")
    }
}
