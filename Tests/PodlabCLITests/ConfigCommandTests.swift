@testable import AgentTestSupport
import Foundation
@testable import PodlabAgent
import PodNet
import Testing

/// `create configmap`, `create secret generic`, `get`, `describe` and `delete` of both kinds,
/// and a pod's volumes and `envFrom` in `describe pod`, against the real API.
@Suite struct ConfigCommandTests {
    @Test func createConfigMapFromLiteralsFilesAndEnvFiles() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("podlab-cm-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try "debug=1\n".write(toFile: "\(directory)/app.ini", atomically: true, encoding: .utf8)
        try "# settings\nLEVEL=info\nCOLOR=blue\n".write(toFile: "\(directory)/vars.env", atomically: true, encoding: .utf8)
        try await TestAgent.serving { agent in
            let t = agent.context()
            #expect(await t.run(["create", "configmap", "settings", "--from-literal=greeting=hello=world", "--from-file=\(directory)/app.ini",
                                 "--from-file=renamed=\(directory)/app.ini", "--from-env-file=\(directory)/vars.env"]) == 0)
            #expect(t.stdout.text == "configmap/settings created\n")
            let map = try await agent.controller.configObject(ConfigMap.self, "default", "settings")
            #expect(map.data == ["greeting": "hello=world", "app.ini": "debug=1\n", "renamed": "debug=1\n", "LEVEL": "info", "COLOR": "blue"])

            let get = agent.context(now: map.metadata.creationTimestamp)
            #expect(await get.run("get cm") == 0)
            #expect(get.stdout.text == "NAME       DATA   AGE\nsettings   5      60m\n")

            let describe = agent.context()
            #expect(await describe.run("describe configmap settings") == 0)
            #expect(describe.stdout.text.hasPrefix("Name:         settings\nNamespace:    default\nLabels:       <none>\nAnnotations:  <none>\n\nData\n====\nCOLOR:\n----\nblue\n\nLEVEL:\n----\ninfo\n\n"),
                    "\(describe.stdout.text)")
            #expect(describe.stdout.text.contains("\nBinaryData\n====\n\nEvents:  <none>\n"), "\(describe.stdout.text)")

            let duplicate = agent.context()
            #expect(await duplicate.run(["create", "configmap", "other", "--from-literal=a=1", "--from-literal=a=2"]) == 1)
            #expect(duplicate.stderr.text.contains(#"cannot add key "a", another key by that name already exists in Data for ConfigMap "other""#), "\(duplicate.stderr.text)")
            let badKey = agent.context()
            #expect(await badKey.run(["create", "configmap", "other", "--from-literal=a b=1"]) == 1)
            #expect(badKey.stderr.text.contains(#""a b" is not a valid key name for a ConfigMap"#), "\(badKey.stderr.text)")
            let exists = agent.context()
            #expect(await exists.run(["create", "configmap", "settings", "--from-literal=a=1"]) == 1)
            #expect(exists.stderr.text.contains(#"configmaps "settings" already exists"#), "\(exists.stderr.text)")

            let dryRun = agent.context()
            #expect(await dryRun.run(["create", "configmap", "preview", "--from-literal=a=1", "--dry-run=client", "-o", "yaml"]) == 0)
            #expect(dryRun.stdout.text.contains("kind: ConfigMap") && dryRun.stdout.text.contains("  a: \"1\""), "\(dryRun.stdout.text)")
            await #expect(throws: APIStatus.self) { _ = try await agent.controller.configObject(ConfigMap.self, "default", "preview") }

            let delete = agent.context()
            #expect(await delete.run("delete cm settings") == 0)
            #expect(delete.stdout.text == "configmap \"settings\" deleted\n")
        }
    }

    @Test func createSecretGenericAndDescribeItBySizes() async throws {
        try await TestAgent.serving { agent in
            let t = agent.context()
            #expect(await t.run(["create", "secret", "generic", "creds", "--from-literal=password=s3cret", "--from-literal=user=admin"]) == 0)
            #expect(t.stdout.text == "secret/creds created\n")
            let secret = try await agent.controller.configObject(Secret.self, "default", "creds")
            #expect(secret.type == "Opaque")
            let get = agent.context(now: secret.metadata.creationTimestamp)
            #expect(await get.run("get secrets") == 0)
            #expect(get.stdout.text == "NAME    TYPE     DATA   AGE\ncreds   Opaque   2      60m\n")
            let describe = agent.context()
            #expect(await describe.run("describe secret creds") == 0)
            #expect(describe.stdout.text == "Name:         creds\nNamespace:    default\nLabels:       <none>\nAnnotations:  <none>\n\nType:  Opaque\n\nData\n====\npassword:  6 bytes\nuser:      5 bytes\n")
            let yaml = agent.context()
            #expect(await yaml.run("get secret creds -o yaml") == 0)
            #expect(yaml.stdout.text.contains("  password: czNjcmV0\n"), "\(yaml.stdout.text)")

            let typed = agent.context()
            #expect(await typed.run(["create", "secret", "generic", "tls", "--type=kubernetes.io/tls", "--from-literal=tls.crt=x"]) == 1)
            #expect(typed.stderr.text.contains(#"Secret "tls" is invalid: data[tls.key]: Required value"#), "\(typed.stderr.text)")
        }
    }

    @Test func applyCreatesAndUpdatesBothKinds() async throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("podlab-cfg-\(UUID().uuidString).yaml").path
        defer { try? FileManager.default.removeItem(atPath: file) }
        try """
            apiVersion: v1
            kind: ConfigMap
            metadata: {name: settings}
            data: {LEVEL: info}
            ---
            apiVersion: v1
            kind: Secret
            metadata: {name: creds}
            stringData: {password: s3cret}
            """.write(toFile: file, atomically: true, encoding: .utf8)
        try await TestAgent.serving { agent in
            let t = agent.context()
            #expect(await t.run(["apply", "-f", file]) == 0)
            #expect(t.stdout.text == "configmap/settings created\nsecret/creds created\n")
            try String(contentsOfFile: file, encoding: .utf8).replacingOccurrences(of: "LEVEL: info", with: "LEVEL: warn")
                .write(toFile: file, atomically: true, encoding: .utf8)
            let again = agent.context()
            #expect(await again.run(["apply", "-f", file]) == 0)
            // `stringData` is never read back, so kubectl's patch always carries it: "configured", as with kubectl.
            #expect(again.stdout.text == "configmap/settings configured\nsecret/creds configured\n")
            #expect(try await agent.controller.configObject(ConfigMap.self, "default", "settings").data == ["LEVEL": "warn"])
            #expect(try await agent.controller.configObject(Secret.self, "default", "creds").data == ["password": Array("s3cret".utf8)])
        }
    }

    @Test func describePodShowsTheVolumesAndEnvFrom() async throws {
        try await TestAgent.serving { agent in
            try await agent.create("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\ndata: {LEVEL: info}")
            try await agent.create("apiVersion: v1\nkind: Secret\nmetadata: {name: creds}\nstringData: {password: s3cret}")
            try await agent.createPod("""
                apiVersion: v1
                kind: Pod
                metadata: {name: app}
                spec:
                  volumes:
                  - {name: config, configMap: {name: settings}}
                  - {name: creds, secret: {secretName: creds, optional: true}}
                  containers:
                  - name: app
                    image: busybox
                    command: [sleep, "3600"]
                    envFrom: [{configMapRef: {name: settings}, prefix: CFG_}]
                    env: [{name: PASSWORD, valueFrom: {secretKeyRef: {name: creds, key: password}}}]
                    volumeMounts: [{name: config, mountPath: /etc/config}, {name: creds, mountPath: /etc/creds}]
                """)
            _ = try await agent.waitForPod("app", "Running") { $0?.status.phase == .running }
            let t = agent.context()
            #expect(await t.run("describe pod app") == 0)
            let text = t.stdout.text
            #expect(text.contains("    Environment Variables from:\n      settings  ConfigMap with prefix 'CFG_'  Optional: false\n"), "\(text)")
            #expect(text.contains("      PASSWORD:  <set to the key 'password' in secret 'creds'>  Optional: false\n"), "\(text)")
            #expect(text.contains("  config:\n    Type:      ConfigMap (a volume populated by a ConfigMap)\n    Name:      settings\n    Optional:  false\n"), "\(text)")
            #expect(text.contains("  creds:\n    Type:        Secret (a volume populated by a Secret)\n    SecretName:  creds\n    Optional:    true\n"), "\(text)")
        }
    }
}
