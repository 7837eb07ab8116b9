import Testing
@testable import PodNet

@Suite("The runtime spec (config.json) of a container run from an OCI image")
struct RuntimeSpecTests {
    static let namespaces = RuntimeSpec.PodNamespaces(network: "/run/netns/lab_pod_team_web", uts: "/run/podlab/lab/ns/web.uts", ipc: "/run/podlab/lab/ns/web.ipc")
    static let files = RuntimeSpec.PodFiles(hosts: "/pods/u-1/etc-hosts", hostname: "/pods/u-1/etc-hostname", resolvConf: "/pods/u-1/etc-resolv.conf")
    static let image = ImageConfig(user: "", env: ["PATH=/bin:/usr/bin", "PAGE=/www"], entrypoint: ["/bin/busybox", "httpd"],
                                   cmd: ["-f", "-p", "80"], workingDir: "/www")
    static let passwd = "root:x:0:0:root:/root:/bin/sh\nwww:x:33:33::/www:/bin/false\n"
    static let group = "root:x:0:\nwww:x:33:\nlog:x:4:www\n"

    static func pod(_ container: Container, podContext: JSONValue? = nil, volumes: [Volume] = []) -> Pod {
        var pod = Pod(metadata: ObjectMeta(name: "web", namespace: "team", uid: "u-1"), spec: PodSpec(containers: [container], volumes: volumes))
        if let podContext { pod.spec.preservedFields["securityContext"] = podContext }
        return pod
    }

    static func spec(_ container: Container, podContext: JSONValue? = nil, image: ImageConfig = image, volumes: [Volume] = [],
                     sources: [String: String] = [:]) throws -> RuntimeSpec {
        let pod = pod(container, podContext: podContext, volumes: volumes)
        let environment = try ContainerEnvironment(container: container, pod: pod, nodeAllocatable: [:])
        return try RuntimeSpec(pod: pod, container: container, environment: environment, image: image, passwd: passwd, group: group,
                               rootfs: "/state/lab/containers/c1/rootfs", namespaces: namespaces, files: files, volumeSources: sources,
                               cgroupsPath: "/podlab/lab/web/app")
    }

    @Test("command and args combine with the image's entrypoint and cmd by Kubernetes' rules", arguments: [
        ([], [], ["/bin/busybox", "httpd", "-f", "-p", "80"]),
        ([], ["-f", "-p", "8080"], ["/bin/busybox", "httpd", "-f", "-p", "8080"]),
        (["/bin/sh"], [], ["/bin/sh"]),
        (["/bin/sh", "-c"], ["echo $(GREETING)"], ["/bin/sh", "-c", "echo hello"]),
    ] as [([String], [String], [String])])
    func args(command: [String], args: [String], expected: [String]) throws {
        let container = Container(name: "app", image: "web:1", command: command, args: args, env: [EnvVar(name: "GREETING", value: "hello")])
        #expect(try Self.spec(container).args == expected)
    }

    @Test("no entrypoint, cmd or command: the container cannot be created")
    func noCommand() {
        #expect(throws: RuntimeSpecError(reason: "CreateContainerError", message: "failed to generate container spec: no command specified")) {
            try Self.spec(Container(name: "app", image: "web:1"), image: ImageConfig())
        }
    }

    @Test("environment: the default PATH, HOSTNAME, the image's, then the pod's, replacing in place")
    func environment() throws {
        let container = Container(name: "app", image: "web:1", env: [EnvVar(name: "PAGE", value: "/srv"), EnvVar(name: "MODE", value: "lab")])
        #expect(try Self.spec(container).env == ["PATH=/bin:/usr/bin", "HOSTNAME=web", "PAGE=/srv", "MODE=lab"])
        #expect(try Self.spec(container, image: ImageConfig(entrypoint: ["/x"])).env == [RuntimeSpec.defaultPath, "HOSTNAME=web", "PAGE=/srv", "MODE=lab"])
    }

    @Test("tty: process.terminal and containerd's TERM=xterm, unless the image or the container sets TERM")
    func terminal() throws {
        var container = Container(name: "app", image: "web:1")
        #expect(try Self.spec(container).terminal == false)
        #expect(try Self.spec(container).json["process"]?["terminal"] == .bool(false))
        container.preservedFields["tty"] = .bool(true)
        container.preservedFields["stdin"] = .bool(true)
        let spec = try Self.spec(container)
        #expect(spec.json["process"]?["terminal"] == .bool(true))
        #expect(spec.env == ["PATH=/bin:/usr/bin", "HOSTNAME=web", "PAGE=/www", "TERM=xterm"])
        container.env = [EnvVar(name: "TERM", value: "vt100")]
        #expect(try Self.spec(container).env == ["PATH=/bin:/usr/bin", "HOSTNAME=web", "PAGE=/www", "TERM=vt100"])
    }

    @Test("working directory: the container's, else the image's, else /")
    func workingDirectory() throws {
        #expect(try Self.spec(Container(name: "app", workingDir: "/tmp")).cwd == "/tmp")
        #expect(try Self.spec(Container(name: "app")).cwd == "/www")
        #expect(try Self.spec(Container(name: "app"), image: ImageConfig(entrypoint: ["/x"])).cwd == "/")
    }

    @Test("user: runAsUser/runAsGroup over the image's user; groups from the image's group file and supplementalGroups", arguments: [
        ("", nil, nil, "0 0 []"),
        ("www", nil, nil, "33 33 [4]"),
        ("www", JSONValue.object(["runAsUser": .integer(1000)]), nil, "1000 0 []"),
        ("www", .object(["runAsUser": .integer(33)]), nil, "33 33 []"),
        ("www", .object(["runAsUser": .integer(1000), "runAsGroup": .integer(3000), "supplementalGroups": .array([.integer(2000), .integer(3000)])]),
         JSONValue.object(["runAsUser": .integer(2000)]), "2000 3000 [2000]"),
        ("1234:55", nil, nil, "1234 55 []"),
    ] as [(String, JSONValue?, JSONValue?, String)])
    func user(imageUser: String, podContext: JSONValue?, containerContext: JSONValue?, expected: String) throws {
        var container = Container(name: "app")
        container.preservedFields["securityContext"] = containerContext
        var image = Self.image
        image.user = imageUser
        let spec = try Self.spec(container, podContext: podContext, image: image)
        #expect("\(spec.uid) \(spec.gid) \(spec.additionalGids)" == expected)
    }

    @Test("runAsNonRoot: the kubelet's messages for root and for a user it cannot verify", arguments: [
        ("", nil, "container has runAsNonRoot and image will run as root (pod: \"web_team(u-1)\", container: app)"),
        ("www", nil, "container has runAsNonRoot and image has non-numeric user (www), cannot verify user is non-root (pod: \"web_team(u-1)\", container: app)"),
        ("33", JSONValue.integer(0), "container's runAsUser breaks non-root policy (pod: \"web_team(u-1)\", container: app)"),
    ] as [(String, JSONValue?, String)])
    func nonRoot(imageUser: String, runAsUser: JSONValue?, message: String) {
        var context: [String: JSONValue] = ["runAsNonRoot": true]
        context["runAsUser"] = runAsUser
        var container = Container(name: "app")
        container.preservedFields["securityContext"] = .object(context)
        var image = Self.image
        image.user = imageUser
        #expect(throws: RuntimeSpecError(reason: "CreateContainerConfigError", message: message)) { try Self.spec(container, image: image) }
    }

    @Test("a numeric non-root image user passes runAsNonRoot")
    func nonRootAllowed() throws {
        var container = Container(name: "app")
        container.preservedFields["securityContext"] = ["runAsNonRoot": true]
        var image = Self.image
        image.user = "33"
        #expect(try Self.spec(container, image: image).uid == 33)
    }

    @Test("capabilities: containerd's defaults; drop before add; ALL", arguments: [
        (JSONValue.null, RuntimeSpec.defaultCapabilities),
        (JSONValue.object(["drop": ["NET_RAW", "CAP_MKNOD"], "add": ["NET_ADMIN"]]),
         RuntimeSpec.defaultCapabilities.filter { $0 != "CAP_NET_RAW" && $0 != "CAP_MKNOD" } + ["CAP_NET_ADMIN"]),
        (JSONValue.object(["drop": ["ALL"], "add": ["NET_BIND_SERVICE"]]), ["CAP_NET_BIND_SERVICE"]),
        (JSONValue.object(["drop": ["all"]]), []),
        (JSONValue.object(["add": ["ALL"]]), RuntimeSpec.allCapabilities),
    ] as [(JSONValue, [String])])
    func capabilities(capabilities: JSONValue, expected: [String]) throws {
        var container = Container(name: "app")
        container.preservedFields["securityContext"] = ["capabilities": capabilities]
        #expect(try Self.spec(container).capabilities == expected)
    }

    @Test("an unknown capability and privileged: true are refused")
    func refusedSecurity() {
        var container = Container(name: "app")
        container.preservedFields["securityContext"] = ["capabilities": ["add": ["FLY"]]]
        #expect(throws: RuntimeSpecError(reason: "CreateContainerError", message: "failed to generate container spec: unknown capability \"CAP_FLY\" to add")) {
            try Self.spec(container)
        }
        container.preservedFields["securityContext"] = ["privileged": true]
        #expect(throws: RuntimeSpecError(reason: "CreateContainerConfigError", message: "privileged containers are not supported by podlab")) {
            try Self.spec(container)
        }
    }

    @Test("a volume mounted at /etc/hosts replaces the pod's file; mounts sorted by depth")
    func mounts() throws {
        let container = Container(name: "app", volumeMounts: [
            VolumeMount(name: "data", mountPath: "/var/lib/data/cache", subPath: "cache"),
            VolumeMount(name: "hosts", mountPath: "/etc/hosts", readOnly: true),
            VolumeMount(name: "data", mountPath: "/data"),
        ])
        let spec = try Self.spec(container, volumes: [Volume(name: "data", emptyDir: EmptyDirVolumeSource()),
                                                      Volume(name: "hosts", hostPath: HostPathVolumeSource(path: "/tmp/hosts"))],
                                 sources: ["data": "/pods/u-1/volumes/data", "hosts": "/tmp/hosts"])
        #expect(spec.mounts.map { "\($0.destination) <- \($0.source)\($0.readOnly ? " ro" : "")" } == [
            "/data <- /pods/u-1/volumes/data",
            "/etc/hosts <- /tmp/hosts ro",
            "/etc/hostname <- /pods/u-1/etc-hostname",
            "/etc/resolv.conf <- /pods/u-1/etc-resolv.conf",
            "/var/lib/data/cache <- /pods/u-1/volumes/data/cache",
        ])
        #expect(throws: RuntimeSpecError(reason: "CreateContainerConfigError", message: "cannot find volume \"data\" to mount into container \"app\"")) {
            try Self.spec(container)
        }
    }

    @Test("limits: linux.resources with the memory limit in bytes and the CFS quota and period, as containerd writes them; none without limits")
    func resources() throws {
        var container = Container(name: "app", image: "web:1")
        #expect(try Self.spec(container).json["linux"]?["resources"] == nil)
        container.preservedFields["resources"] = ["limits": ["cpu": "250m", "memory": "64Mi"]]
        let linux = try Self.spec(container).json["linux"]
        #expect(linux?["resources"] == ["memory": ["limit": 67_108_864], "cpu": ["quota": 25_000, "period": 100_000]])
        container.preservedFields["resources"] = ["limits": ["memory": "1Gi"]]
        #expect(try Self.spec(container).json["linux"]?["resources"] == ["memory": ["limit": 1_073_741_824]])
    }

    @Test("shareProcessNamespace: the pod's pid namespace joined by its pause process's path; without it, a new one")
    func sharedPidNamespace() throws {
        let container = Container(name: "app", image: "web:1")
        let pod = Self.pod(container)
        let environment = try ContainerEnvironment(container: container, pod: pod, nodeAllocatable: [:])
        var namespaces = Self.namespaces
        namespaces.pid = "/proc/4242/ns/pid"
        let shared = try RuntimeSpec(pod: pod, container: container, environment: environment, image: Self.image, passwd: Self.passwd,
                                     group: Self.group, rootfs: "/state/lab/containers/c1/rootfs", namespaces: namespaces, files: Self.files,
                                     volumeSources: [:], cgroupsPath: nil)
        #expect(shared.json["linux"]?["namespaces"]?.jsonText(indent: 2) == """
        [
          {
            "path": "/proc/4242/ns/pid",
            "type": "pid"
          },
          {
            "path": "/run/podlab/lab/ns/web.ipc",
            "type": "ipc"
          },
          {
            "path": "/run/podlab/lab/ns/web.uts",
            "type": "uts"
          },
          {
            "type": "mount"
          },
          {
            "path": "/run/netns/lab_pod_team_web",
            "type": "network"
          }
        ]
        """)
        #expect(try Self.spec(container).json["linux"]?["namespaces"]?.arrayValue?.first == ["type": "pid"])
    }

    @Test("golden config.json")
    func golden() throws {
        var container = Container(name: "app", image: "web:1", args: ["-f", "-p", "8080"], env: [EnvVar(name: "MODE", value: "lab")],
                                  volumeMounts: [VolumeMount(name: "data", mountPath: "/data", readOnly: true)])
        container.preservedFields["securityContext"] = [
            "runAsUser": 33, "readOnlyRootFilesystem": true, "allowPrivilegeEscalation": false,
            "capabilities": ["drop": ["ALL"], "add": ["NET_BIND_SERVICE"]],
        ]
        let spec = try Self.spec(container, podContext: ["supplementalGroups": [4]], volumes: [Volume(name: "data", emptyDir: EmptyDirVolumeSource())],
                                 sources: ["data": "/pods/u-1/volumes/data"])
        #expect(spec.json.jsonText(indent: 2) == Self.goldenText)
    }

    static let goldenText = """
    {
      "linux": {
        "cgroupsPath": "/podlab/lab/web/app",
        "maskedPaths": [
          "/proc/acpi",
          "/proc/asound",
          "/proc/kcore",
          "/proc/keys",
          "/proc/latency_stats",
          "/proc/timer_list",
          "/proc/timer_stats",
          "/proc/sched_debug",
          "/proc/scsi",
          "/sys/firmware",
          "/sys/devices/virtual/powercap"
        ],
        "namespaces": [
          {
            "type": "pid"
          },
          {
            "path": "/run/podlab/lab/ns/web.ipc",
            "type": "ipc"
          },
          {
            "path": "/run/podlab/lab/ns/web.uts",
            "type": "uts"
          },
          {
            "type": "mount"
          },
          {
            "path": "/run/netns/lab_pod_team_web",
            "type": "network"
          }
        ],
        "readonlyPaths": [
          "/proc/bus",
          "/proc/fs",
          "/proc/irq",
          "/proc/sys",
          "/proc/sysrq-trigger"
        ]
      },
      "mounts": [
        {
          "destination": "/proc",
          "options": [
            "nosuid",
            "noexec",
            "nodev"
          ],
          "source": "proc",
          "type": "proc"
        },
        {
          "destination": "/dev",
          "options": [
            "nosuid",
            "strictatime",
            "mode=755",
            "size=65536k"
          ],
          "source": "tmpfs",
          "type": "tmpfs"
        },
        {
          "destination": "/dev/pts",
          "options": [
            "nosuid",
            "noexec",
            "newinstance",
            "ptmxmode=0666",
            "mode=0620",
            "gid=5"
          ],
          "source": "devpts",
          "type": "devpts"
        },
        {
          "destination": "/dev/shm",
          "options": [
            "nosuid",
            "noexec",
            "nodev",
            "mode=1777",
            "size=65536k"
          ],
          "source": "shm",
          "type": "tmpfs"
        },
        {
          "destination": "/dev/mqueue",
          "options": [
            "nosuid",
            "noexec",
            "nodev"
          ],
          "source": "mqueue",
          "type": "mqueue"
        },
        {
          "destination": "/sys",
          "options": [
            "nosuid",
            "noexec",
            "nodev",
            "ro"
          ],
          "source": "sysfs",
          "type": "sysfs"
        },
        {
          "destination": "/sys/fs/cgroup",
          "options": [
            "nosuid",
            "noexec",
            "nodev",
            "relatime",
            "ro"
          ],
          "source": "cgroup",
          "type": "cgroup"
        },
        {
          "destination": "/data",
          "options": [
            "rbind",
            "rprivate",
            "ro"
          ],
          "source": "/pods/u-1/volumes/data",
          "type": "bind"
        },
        {
          "destination": "/etc/hosts",
          "options": [
            "rbind",
            "rprivate",
            "rw"
          ],
          "source": "/pods/u-1/etc-hosts",
          "type": "bind"
        },
        {
          "destination": "/etc/hostname",
          "options": [
            "rbind",
            "rprivate",
            "rw"
          ],
          "source": "/pods/u-1/etc-hostname",
          "type": "bind"
        },
        {
          "destination": "/etc/resolv.conf",
          "options": [
            "rbind",
            "rprivate",
            "rw"
          ],
          "source": "/pods/u-1/etc-resolv.conf",
          "type": "bind"
        }
      ],
      "ociVersion": "1.0.2",
      "process": {
        "args": [
          "/bin/busybox",
          "httpd",
          "-f",
          "-p",
          "8080"
        ],
        "capabilities": {
          "bounding": [
            "CAP_NET_BIND_SERVICE"
          ],
          "effective": [
            "CAP_NET_BIND_SERVICE"
          ],
          "permitted": [
            "CAP_NET_BIND_SERVICE"
          ]
        },
        "cwd": "/www",
        "env": [
          "PATH=/bin:/usr/bin",
          "HOSTNAME=web",
          "PAGE=/www",
          "MODE=lab"
        ],
        "noNewPrivileges": true,
        "rlimits": [
          {
            "hard": 1024,
            "soft": 1024,
            "type": "RLIMIT_NOFILE"
          }
        ],
        "terminal": false,
        "user": {
          "additionalGids": [
            4
          ],
          "gid": 33,
          "uid": 33
        }
      },
      "root": {
        "path": "/state/lab/containers/c1/rootfs",
        "readonly": true
      }
    }
    """
}
