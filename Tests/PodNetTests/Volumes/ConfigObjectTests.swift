import Testing
@testable import PodNet

/// ConfigMaps and Secrets as the API server reads, defaults and validates them.
@Suite("ConfigMap and Secret objects")
struct ConfigObjectTests {
    static func configMap(_ yaml: String) throws -> ConfigMap { try ConfigMap(json: YAMLReader.value(from: yaml)) }
    static func secret(_ yaml: String) throws -> Secret { try Secret(json: YAMLReader.value(from: yaml)).applyingDefaults(namespace: "default") }

    static let keyMessage = "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')"

    @Test("config keys: Kubernetes' IsConfigMapKey", arguments: [
        ("game.properties", [String]()), ("KEY_NAME", []), ("key-name", []), (".hidden", []),
        ("a/b", [keyMessage]), ("", [keyMessage]), (".", ["must not be '.'"]), ("..", ["must not be '..'"]), ("..data", ["must not start with '..'"]),
    ])
    func keys(_ key: String, expected: [String]) {
        #expect(ConfigValidation.keyErrors(key) == expected)
    }

    @Test("a ConfigMap: data and binaryData read and written back, keys validated, no key in both")
    func configMapRules() throws {
        let map = try Self.configMap("""
            apiVersion: v1
            kind: ConfigMap
            metadata: {name: settings, namespace: default}
            data: {a.txt: hello, 'bad key': x, both: v}
            binaryData: {blob: AAEC, both: AA==}
            immutable: true
            """)
        #expect(map.binaryData["blob"] == [0, 1, 2])
        #expect(map.contents["a.txt"] == Array("hello".utf8))
        #expect(map.keyCount == 5)
        #expect(ConfigValidation.validate(map).map(\.description) == [
            #"data[bad key]: Invalid value: "bad key": "# + Self.keyMessage,
            #"data[both]: Invalid value: "both": duplicate of key present in binaryData"#,
            #"binaryData[both]: Invalid value: "both": duplicate of key present in data"#,
        ])
        #expect(try ConfigMap(json: map.json) == map)
        #expect(map.json["binaryData"]?["blob"] == "AAEC")
    }

    @Test("an immutable ConfigMap keeps its data and stays immutable")
    func immutable() throws {
        let old = try Self.configMap("metadata: {name: c}\ndata: {a: '1'}\nimmutable: true")
        var new = old
        new.data["a"] = "2"
        new.immutable = false
        #expect(ConfigValidation.validateUpdate(new, old: old).map(\.description) == [
            "immutable: Forbidden: field is immutable when `immutable` is set",
            "data: Forbidden: field is immutable when `immutable` is set",
        ])
        var relabelled = old
        relabelled.metadata.labels["x"] = "y"
        #expect(ConfigValidation.validateUpdate(relabelled, old: old).isEmpty)
    }

    @Test("a Secret: base64 data decoded, stringData merged into data (and winning), type Opaque by default")
    func secretDefaults() throws {
        let secret = try Self.secret("""
            apiVersion: v1
            kind: Secret
            metadata: {name: creds}
            data: {user: YWRtaW4=, password: b2xk}
            stringData: {password: s3cret}
            """)
        #expect(secret.data == ["user": Array("admin".utf8), "password": Array("s3cret".utf8)])
        #expect(secret.stringData.isEmpty)
        #expect(secret.type == "Opaque")
        #expect(secret.metadata.namespace == "default")
        #expect(secret.json["data"]?["password"] == "czNjcmV0")
        #expect(secret.json["stringData"] == nil)
    }

    @Test("bad base64 fails decoding with Go's message", arguments: [
        ("YWRtaW4", "illegal base64 data at input byte 4"), ("YW!t", "illegal base64 data at input byte 2"),
        ("=AAA", "illegal base64 data at input byte 0"), ("YQ==YQ==", "illegal base64 data at input byte 4"),
    ])
    func badBase64(_ text: String, message: String) {
        #expect(throws: ObjectDecodingError.inObject(kind: "Secret", apiVersion: "v1",
                                                     .invalidBytes(field: FieldPath("data").key("k"), reason: message))) {
            try Self.secret("apiVersion: v1\nkind: Secret\nmetadata: {name: s}\ndata: {k: '\(text)'}")
        }
    }

    @Test("base64 decodes what Foundation encodes", arguments: ["", "a", "ab", "abc", "abcd", "\u{0}\u{ff}binary"])
    func base64RoundTrip(_ text: String) throws {
        let bytes = Array(text.utf8)
        #expect(try Base64.decode(Base64.encode(bytes)) == bytes)
    }

    @Test("a Secret's type decides which keys it needs; the type cannot change")
    func secretTypes() throws {
        let tls = try Self.secret("metadata: {name: t}\ntype: kubernetes.io/tls\nstringData: {tls.crt: x}")
        #expect(ConfigValidation.validate(tls).map(\.description) == ["data[tls.key]: Required value"])
        let auth = try Self.secret("metadata: {name: b}\ntype: kubernetes.io/basic-auth")
        #expect(ConfigValidation.validate(auth).map(\.description) == ["data[username]: Required value", "data[password]: Required value"])
        var retyped = try Self.secret("metadata: {name: o}\nstringData: {a: b}")
        let old = retyped
        retyped.type = "kubernetes.io/basic-auth"
        #expect(ConfigValidation.validateUpdate(retyped, old: old).map(\.description).contains(#"type: Invalid value: "kubernetes.io/basic-auth": field is immutable"#))
    }

    @Test("tables: ConfigMap NAME DATA AGE, Secret NAME TYPE DATA AGE")
    func tables() throws {
        let now = try Timestamp(parsing: "2026-01-01T00:10:00Z")
        var map = try Self.configMap("metadata: {name: c, creationTimestamp: '2026-01-01T00:00:00Z'}\ndata: {a: '1'}\nbinaryData: {b: AA==}")
        map.metadata.namespace = "default"
        #expect(ConfigTables.configMaps([map], now: now).render() == "NAME   DATA   AGE\nc      2      10m\n")
        let secret = try Self.secret("metadata: {name: s, creationTimestamp: '2026-01-01T00:00:00Z'}\nstringData: {a: b}")
        #expect(ConfigTables.secrets([secret], now: now).render() == "NAME   TYPE     DATA   AGE\ns      Opaque   1      10m\n")
    }
}

/// ConfigMaps and Secrets where kubectl finds the kinds: discovery, tables, OpenAPI, explain.
@Suite("ConfigMap and Secret in discovery and explain")
struct ConfigDiscoveryTests {
    @Test("served as configmaps (cm) and secrets in v1, with their tables, and explained from the OpenAPI document")
    func discoveryAndExplain() throws {
        let map = try #require(ServedResources.find(groupVersion: "v1", resource: "configmaps"))
        #expect(map.kind == "ConfigMap" && map.shortNames == ["cm"] && map.namespaced && map.verbs == ServedResource.readWriteVerbs)
        #expect(ServedResources.find(groupVersion: "v1", resource: "secrets")?.kind == "Secret")
        let resources = ExplainTests.resources
        let output = try Explain.explain(try Explain.resolve("cm", in: resources, apiVersion: nil), fieldPath: ["data"], recursive: false,
                                         document: OpenAPISchema.v2)
        #expect(output.error == nil)
        #expect(output.text.hasPrefix("KIND:       ConfigMap\nVERSION:    v1\n\nFIELD: data <map[string]string>\n"), "\(output.text)")
        let secret = try Explain.explain(try Explain.resolve("secret", in: resources, apiVersion: nil), fieldPath: [], recursive: false,
                                         document: OpenAPISchema.v2)
        #expect(secret.text.contains("stringData\t<map[string]string>") || secret.text.contains("stringData   <map[string]string>"), "\(secret.text)")
    }
}
