import Foundation
import KernelTestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// ConfigMaps and Secrets on real labs: as volumes (the kubelet's `..data` layout, read-only,
/// updated in place while the pod runs) and as environment, in built-in and OCI-image
/// containers; a pod that reads a missing one waits with the reason and goes on by itself.
@Suite("ConfigMap and Secret volumes and environment", .enabled(if: KernelTest.isRoot, KernelTest.rootRequired), .rootNamespaceUnchanged)
struct ConfigVolumeTests {
    static func phase(_ lab: TestLab, _ pod: String) throws -> String? {
        (try lab.pod(pod)["status"] as? [String: Any])?["phase"] as? String
    }

    static let settingsUpdate = """
        apiVersion: v1
        kind: ConfigMap
        metadata: {name: settings}
        data: {LEVEL: warn, app.ini: "debug=0\\n"}
        """

    @Test("a configMap volume and envFrom in a built-in container: the files behind ..data, read-only, an update seen within seconds")
    func configMapInBuiltInContainer() async throws {
        try await TestLab.with { lab in
            #expect(try lab.run(["create", "configmap", "settings", "--from-literal=LEVEL=info", "--from-literal=app.ini=debug=1"]).stdout
                == "configmap/settings created\n")
            #expect(try lab.run(["get", "cm"]).stdout.hasPrefix("NAME       DATA   AGE\nsettings   2      "))
            try lab.apply("""
                apiVersion: v1
                kind: Pod
                metadata: {name: reader}
                spec:
                  volumes: [{name: config, configMap: {name: settings}}]
                  containers:
                  - name: app
                    image: busybox
                    command: [/bin/dash, -c, "echo $CFG_LEVEL; cat /etc/config/LEVEL; echo; sleep 3600"]
                    envFrom: [{prefix: CFG_, configMapRef: {name: settings}}]
                    volumeMounts: [{name: config, mountPath: /etc/config}, {name: config, mountPath: /srv/app.ini, subPath: app.ini}]
                """, as: "reader.yaml")
            try await lab.eventually("the container printed its variable and file") { try lab.run(["logs", "reader"]).stdout == "info\ninfo\n" }
            #expect(try lab.run(["exec", "reader", "--", "cat", "/etc/config/app.ini"]).stdout == "debug=1")
            #expect(try lab.run(["exec", "reader", "--", "cat", "/srv/app.ini"]).stdout == "debug=1")
            #expect(try lab.run(["exec", "reader", "--", "readlink", "/etc/config/LEVEL"]).stdout == "..data/LEVEL\n")
            #expect(try lab.run(["exec", "reader", "--", "stat", "-L", "-c", "%a", "/etc/config/LEVEL"]).stdout == "644\n")
            let refused = try lab.run(["exec", "reader", "--", "/bin/dash", "-c", "echo x > /etc/config/new"], expectSuccess: false)
            #expect(refused.status != .exited(0), "a configMap volume was written to")

            let started = ContinuousClock.now
            #expect(try lab.run(["apply", "-f", "-"], input: Self.settingsUpdate).stdout == "configmap/settings configured\n")
            try await lab.eventually("the new value in the file", timeout: .seconds(15)) {
                try lab.run(["exec", "reader", "--", "cat", "/etc/config/LEVEL"]).stdout == "warn"
            }
            print("configMap update seen in the file after \(ContinuousClock.now - started)")
            #expect(try lab.run(["exec", "reader", "--", "cat", "/etc/config/app.ini"]).stdout == "debug=0\n")
            // A subPath mount is the file of the container's start, as the kubelet binds it.
            #expect(try lab.run(["exec", "reader", "--", "cat", "/srv/app.ini"]).stdout == "debug=1")
            // The environment is the one of the container's start, as in Kubernetes.
            #expect(try lab.run(["exec", "reader", "--", "printenv", "CFG_LEVEL"]).stdout == "info\n")
            let describe = try lab.run(["describe", "cm", "settings"]).stdout
            #expect(describe.contains("LEVEL:\n----\nwarn\n"))
            #expect(try lab.run(["delete", "configmap", "settings"]).stdout == "configmap \"settings\" deleted\n")
        }
    }

    @Test("a secret volume with modes: the bytes at 0400, under a directory only root may enter; describe shows sizes only")
    func secretVolume() async throws {
        try await TestLab.with { lab in
            #expect(try lab.run(["create", "secret", "generic", "creds", "--from-literal=password=s3cret", "--from-literal=user=admin"]).stdout
                == "secret/creds created\n")
            #expect(try lab.run(["get", "secret", "creds"]).stdout.hasPrefix("NAME    TYPE     DATA   AGE\ncreds   Opaque   2      "))
            let describe = try lab.run(["describe", "secret", "creds"]).stdout
            #expect(describe.contains("password:  6 bytes\nuser:      5 bytes\n"))
            #expect(!describe.contains("s3cret"))
            try lab.apply("""
                apiVersion: v1
                kind: Pod
                metadata: {name: vault}
                spec:
                  volumes: [{name: creds, secret: {secretName: creds, defaultMode: 0400, items: [{key: password, path: db/password}]}}]
                  containers:
                  - name: app
                    image: busybox
                    command: [/bin/dash, -c, "sleep 3600"]
                    env: [{name: USER_NAME, valueFrom: {secretKeyRef: {name: creds, key: user}}}]
                    volumeMounts: [{name: creds, mountPath: /var/run/creds}]
                """, as: "vault.yaml")
            try await lab.eventually("vault Running") { try Self.phase(lab, "vault") == "Running" }
            #expect(try lab.run(["exec", "vault", "--", "cat", "/var/run/creds/db/password"]).stdout == "s3cret")
            #expect(try lab.run(["exec", "vault", "--", "stat", "-L", "-c", "%a", "/var/run/creds/db/password"]).stdout == "400\n")
            #expect(try lab.run(["exec", "vault", "--", "ls", "/var/run/creds"]).stdout == "db\n")
            #expect(try lab.run(["exec", "vault", "--", "printenv", "USER_NAME"]).stdout == "admin\n")
            let uid = (try lab.pod("vault")["metadata"] as? [String: Any])?["uid"] as? String ?? ""
            var info = stat()
            let secrets = "\(lab.stateRoot)/\(lab.name)/pods/\(uid)/volumes/kubernetes.io~secret"
            #expect(stat(secrets, &info) == 0)
            #expect(info.st_mode & 0o777 == 0o700 && info.st_uid == 0, "secret volumes are under a root-only directory")
        }
    }

    @Test("a missing ConfigMap: the pod waits in ContainerCreating with FailedMount, then runs once it is created")
    func missingConfigMap() async throws {
        try await TestLab.with { lab in
            try lab.apply("""
                apiVersion: v1
                kind: Pod
                metadata: {name: waiting}
                spec:
                  volumes: [{name: config, configMap: {name: later}}]
                  containers:
                  - name: app
                    image: busybox
                    command: [/bin/dash, -c, "cat /etc/config/greeting; echo; sleep 3600"]
                    volumeMounts: [{name: config, mountPath: /etc/config}]
                """, as: "waiting.yaml")
            let message = #"MountVolume.SetUp failed for volume "config" : configmap "later" not found"#
            try await lab.eventually("FailedMount") { try lab.run(["get", "events"]).stdout.contains(message) }
            #expect(try lab.run(["get", "pod", "waiting"]).stdout.contains("ContainerCreating"))
            #expect(try lab.run(["describe", "pod", "waiting"]).stdout.contains("FailedMount"))
            let created = ContinuousClock.now
            try lab.run(["create", "configmap", "later", "--from-literal=greeting=hello"])
            try await lab.eventually("the pod runs by itself") { try lab.run(["logs", "waiting"], expectSuccess: false).stdout == "hello\n" }
            print("a pod waiting for its ConfigMap printed from its volume \(ContinuousClock.now - created) after create configmap")
            #expect(try Self.phase(lab, "waiting") == "Running")
        }
    }

    @Test("downwardAPI and projected volumes: the pod's name and labels, a ConfigMap's key beside them; a new label is seen in the file")
    func downwardAPIAndProjected() async throws {
        try await TestLab.with { lab in
            try lab.run(["create", "configmap", "settings", "--from-literal=LEVEL=info"])
            try lab.apply("""
                apiVersion: v1
                kind: Pod
                metadata: {name: labelled, labels: {tier: web}}
                spec:
                  volumes:
                  - name: info
                    downwardAPI: {items: [{path: labels, fieldRef: {fieldPath: metadata.labels}}, {path: podname, fieldRef: {fieldPath: metadata.name}}]}
                  - name: all
                    projected:
                      defaultMode: 0440
                      sources:
                      - configMap: {name: settings, items: [{key: LEVEL, path: config/level}]}
                      - downwardAPI: {items: [{path: namespace, fieldRef: {fieldPath: metadata.namespace}}]}
                  containers:
                  - name: app
                    image: busybox
                    command: [/bin/dash, -c, "sleep 3600"]
                    volumeMounts: [{name: info, mountPath: /etc/podinfo}, {name: all, mountPath: /etc/all}]
                """, as: "labelled.yaml")
            try await lab.eventually("labelled Running") { try Self.phase(lab, "labelled") == "Running" }
            #expect(try lab.run(["exec", "labelled", "--", "cat", "/etc/podinfo/podname"]).stdout == "labelled")
            #expect(try lab.run(["exec", "labelled", "--", "cat", "/etc/podinfo/labels"]).stdout == "tier=\"web\"")
            #expect(try lab.run(["exec", "labelled", "--", "cat", "/etc/all/config/level"]).stdout == "info")
            #expect(try lab.run(["exec", "labelled", "--", "cat", "/etc/all/namespace"]).stdout == "default")
            #expect(try lab.run(["exec", "labelled", "--", "stat", "-L", "-c", "%a", "/etc/all/config/level"]).stdout == "440\n")
            try lab.run(["label", "pod", "labelled", "release=v2"])
            try await lab.eventually("the new label in the file", timeout: .seconds(15)) {
                try lab.run(["exec", "labelled", "--", "cat", "/etc/podinfo/labels"]).stdout == "release=\"v2\"\ntier=\"web\""
            }
        }
    }

    @Test("a configMap volume in an OCI-image container: the file there, and its update")
    func configMapInOCIContainer() async throws {
        try await TestLab.with { lab in
            let image = try BusyboxWebImage(page: "-")
            try image.writeLayout("\(lab.stateRoot)/layout", name: "registry.test/web:1")
            try lab.run(["image", "load", "-i", "\(lab.stateRoot)/layout"])
            try lab.run(["create", "configmap", "settings", "--from-literal=LEVEL=info"])
            try lab.run(["apply", "-f", "-"], input: """
                apiVersion: v1
                kind: Pod
                metadata: {name: oci}
                spec:
                  volumes: [{name: config, configMap: {name: settings}}]
                  containers:
                  - name: app
                    image: registry.test/web:1
                    command: ["/bin/sh", "-c", "exec /bin/busybox sleep 3600"]
                    envFrom: [{configMapRef: {name: settings}}]
                    volumeMounts: [{name: config, mountPath: /etc/config}]
                """)
            try await lab.eventually("oci Running") { try Self.phase(lab, "oci") == "Running" }
            #expect(try lab.run(["exec", "oci", "--", "/bin/busybox", "cat", "/etc/config/LEVEL"]).stdout == "info")
            #expect(try lab.run(["exec", "oci", "--", "/bin/sh", "-c", "echo $LEVEL"]).stdout == "info\n")
            let refused = try lab.run(["exec", "oci", "--", "/bin/sh", "-c", "echo x > /etc/config/new"], expectSuccess: false)
            #expect(refused.status != .exited(0), "a configMap volume was written to")
            try lab.run(["apply", "-f", "-"], input: Self.settingsUpdate)
            try await lab.eventually("the new value in the OCI container's file", timeout: .seconds(15)) {
                try lab.run(["exec", "oci", "--", "/bin/busybox", "cat", "/etc/config/LEVEL"]).stdout == "warn"
            }
        }
    }

    @Test("kubectl create configmap --from-literal and kubectl get cm against the lab",
          .enabled(if: !KubectlBinary.found.isEmpty, "no kubectl on this machine: scripts/install-deps installs Debian's kubernetes-client"),
          arguments: KubectlBinary.found)
    func kubectlConfigMap(_ binary: KubectlBinary) async throws {
        try await TestLab.with { lab in
            let kubectl = try KubectlTests.kubectl(binary, for: lab)
            defer { try? FileManager.default.removeItem(atPath: kubectl.cacheDirectory) }
            #expect(try kubectl.run(["create", "configmap", "from-kubectl", "--from-literal=a=1", "--from-literal=b=2"]).stdout
                == "configmap/from-kubectl created\n")
            let table = try kubectl.run(["get", "cm"]).stdout
            #expect(table.hasPrefix("NAME           DATA   AGE\nfrom-kubectl   2      "), "\(table)")
            #expect(try lab.run(["get", "configmap", "from-kubectl", "-o", "jsonpath={.data.b}"]).stdout == "2")
            #expect(try kubectl.run(["create", "secret", "generic", "s", "--from-literal=k=v"]).stdout == "secret/s created\n")
            #expect(try kubectl.run(["get", "secret", "s", "-o", "jsonpath={.data.k}"]).stdout == "dg==")
        }
    }
}
