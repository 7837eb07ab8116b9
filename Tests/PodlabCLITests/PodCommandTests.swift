import Foundation
import PodNet
import PodlabCLI
import Testing

@Suite("describe, logs and delete against a fake agent")
struct PodCommandTests {
    @Test func describe() async throws {
        let cluster = FakeCluster()
        cluster.add(Pod.run(name: "nginx-ser", image: "nginx"))
        try await FakeAgent.with({ cluster.handle($0) }) { agent in
            let t = agent.context()
            #expect(await t.run("describe pods nginx-ser") == 0)
            #expect(t.stdout.text == """
                Name:             nginx-ser
                Namespace:        default
                Priority:         0
                Service Account:  default
                Node:             podlab-n1/192.168.200.11
                Start Time:       Tue, 14 Nov 2023 21:13:20 +0000
                Labels:           run=nginx-ser
                Annotations:      <none>
                Status:           Running
                IP:               10.244.1.5
                IPs:
                  IP:  10.244.1.5
                Containers:
                  nginx-ser:
                    Container ID:   podlab://default-nginx-ser-nginx-ser
                    Image:          nginx
                    Image ID:       docker.io/library/nginx@sha256:0000000000000000000000000000000000000000000000000000000000000000
                    Port:           <none>
                    Host Port:      <none>
                    State:          Running
                      Started:      Tue, 14 Nov 2023 21:13:22 +0000
                    Ready:          True
                    Restart Count:  0
                    Environment:    <none>
                    Mounts:         <none>
                Conditions:
                  Type              Status
                  Initialized       True 
                  Ready             True 
                  ContainersReady   True 
                  PodScheduled      True 
                Volumes:            <none>
                QoS Class:          BestEffort
                Node-Selectors:     <none>
                Tolerations:        <none>
                Events:             <none>

                """)
        }
    }

    @Test func describeACrashedContainerWithArgumentsAndEnvironment() async throws {
        var pod = Pod.run(name: "web", image: "busybox", port: 8080, env: [EnvVar(name: "MODE", value: "fast")],
                          arguments: ["sh", "-c", "exit 3"], argumentsAreCommand: true)
        pod.metadata.annotations = ["note": "hi", ApplyPlan.lastAppliedAnnotation: "{}"]
        let cluster = FakeCluster()
        cluster.add(pod)
        cluster.state.withLock { state in
            var live = state.pods["default/web"]!
            live.status.phase = .running
            live.status.containerStatuses[0].ready = false
            live.status.containerStatuses[0].restartCount = 2
            live.status.containerStatuses[0].state = .waiting(reason: "CrashLoopBackOff", message: "back-off 20s restarting failed container")
            live.status.containerStatuses[0].lastState = .terminated(.init(
                exitCode: 3, reason: "Error", startedAt: FakeCluster.created, finishedAt: FakeCluster.created.adding(seconds: 1)))
            state.pods["default/web"] = live
        }
        try await FakeAgent.with({ cluster.handle($0) }) { agent in
            let t = agent.context()
            #expect(await t.run("describe pod/web") == 0)
            let text = t.stdout.text
            #expect(text.contains("""
                Annotations:      note: hi
                Status:           Running
                """))
            // Lines without a tab (Command:, Environment:) end tabwriter blocks, so each part aligns on its own.
            #expect(text.contains("""
                    Container ID:  podlab://default-web-web
                    Image:         busybox
                    Image ID:      docker.io/library/busybox@sha256:0000000000000000000000000000000000000000000000000000000000000000
                    Port:          8080/TCP
                    Host Port:     0/TCP
                    Command:
                      sh
                      -c
                      exit 3
                    State:          Waiting
                      Reason:       CrashLoopBackOff
                      Message:      back-off 20s restarting failed container
                    Last State:     Terminated
                      Reason:       Error
                      Exit Code:    3
                      Started:      Tue, 14 Nov 2023 21:13:20 +0000
                      Finished:     Tue, 14 Nov 2023 21:13:21 +0000
                    Ready:          False
                    Restart Count:  2
                    Environment:
                      MODE:  fast
                    Mounts:  <none>
                """))
        }
    }

    @Test func describeShowsMountsAndVolumesAsKubectlDoes() async throws {
        var pod = Pod.run(name: "web", image: "busybox")
        pod.spec.volumes = [
            Volume(name: "cache", emptyDir: EmptyDirVolumeSource(medium: "Memory", sizeLimit: Quantity(64 * 1024 * 1024, format: .binarySI))),
            Volume(name: "scratch", emptyDir: EmptyDirVolumeSource()),
            Volume(name: "host", hostPath: HostPathVolumeSource(path: "/srv/data", type: .directoryOrCreate)),
        ]
        pod.spec.containers[0].volumeMounts = [
            VolumeMount(name: "host", mountPath: "/srv", readOnly: true),
            VolumeMount(name: "cache", mountPath: "/cache", subPath: "logs"),
        ]
        let cluster = FakeCluster()
        cluster.add(pod)
        try await FakeAgent.with({ cluster.handle($0) }) { agent in
            let t = agent.context()
            #expect(await t.run("describe pod web") == 0)
            #expect(t.stdout.text.contains("""
                    Mounts:
                      /cache from cache (rw,path="logs")
                      /srv from host (ro)
                """), "\(t.stdout.text)")
            #expect(t.stdout.text.contains("""
                Volumes:
                  cache:
                    Type:       EmptyDir (a temporary directory that shares a pod's lifetime)
                    Medium:     Memory
                    SizeLimit:  64Mi
                  scratch:
                    Type:       EmptyDir (a temporary directory that shares a pod's lifetime)
                    Medium:     
                    SizeLimit:  <unset>
                  host:
                    Type:          HostPath (bare host directory volume)
                    Path:          /srv/data
                    HostPathType:  DirectoryOrCreate
                QoS Class:         BestEffort
                """), "\(t.stdout.text)")
        }
    }

    @Test func describeShowsEnvironmentSourcesAsKubectlDoes() async throws {
        var pod = Pod.run(name: "web", image: "busybox", env: [
            EnvVar(name: "GREETING", value: "hi $(POD_NAME)"),
            EnvVar(name: "POD_NAME", valueFrom: EnvVarSource(fieldRef: ObjectFieldSelector(fieldPath: "metadata.name", apiVersion: "v1"))),
            EnvVar(name: "POD_IP", valueFrom: EnvVarSource(fieldRef: ObjectFieldSelector(fieldPath: "status.podIP", apiVersion: "v1"))),
            EnvVar(name: "CPU_LIMIT", valueFrom: EnvVarSource(resourceFieldRef: ResourceFieldSelector(resource: "limits.cpu"))),
            EnvVar(name: "MEMORY_REQUEST", valueFrom: EnvVarSource(resourceFieldRef: ResourceFieldSelector(resource: "requests.memory", divisor: Quantity(1024 * 1024, format: .binarySI)))),
        ])
        pod.spec.containers[0].preservedFields["resources"] = ["requests": ["memory": "64Mi"]]
        let cluster = FakeCluster()
        cluster.add(pod)
        try await FakeAgent.with({ cluster.handle($0) }) { agent in
            let t = agent.context()
            #expect(await t.run("describe pod web") == 0)
            #expect(t.stdout.text.contains("""
                    Requests:
                      memory:  64Mi
                    Environment:
                      GREETING:        hi $(POD_NAME)
                      POD_NAME:        web (v1:metadata.name)
                      POD_IP:           (v1:status.podIP)
                      CPU_LIMIT:       node allocatable (limits.cpu)
                      MEMORY_REQUEST:  64 (requests.memory)
                    Mounts:            <none>
                """), "\(t.stdout.text)")
        }
    }

    @Test func describeMissing() async throws {
        try await FakeAgent.with({ FakeCluster().handle($0) }) { agent in
            let t = agent.context()
            #expect(await t.run("describe pod nope") == 1)
            #expect(t.stderr.text == "Error from server (NotFound): pods \"nope\" not found\n")
        }
    }

    @Test func logs() async throws {
        let cluster = FakeCluster()
        cluster.add(Pod.run(name: "nginx-ser", image: "nginx"))
        cluster.setLog(pod: "nginx-ser", container: "nginx-ser", "line 1\nline 2\nline 3\n")
        try await FakeAgent.with({ cluster.handle($0) }) { agent in
            let t = agent.context()
            #expect(await t.run("logs nginx-ser") == 0)
            #expect(t.stdout.text == "line 1\nline 2\nline 3\n")
            #expect(t.stderr.text.isEmpty)
            let tail = agent.context()
            #expect(await tail.run("logs nginx-ser --tail 1") == 0)
            #expect(tail.stdout.text == "line 3\n")
            #expect(agent.requests.last?.query["tailLines"] == "1")
            let follow = agent.context()
            #expect(await follow.run("logs -f pod/nginx-ser") == 0)
            #expect(follow.stdout.text == "line 1\nline 2\nline 3\n")
            #expect(agent.requests.last?.query["follow"] == "true")
        }
    }

    @Test func logsOfAPodWithTwoContainersDefaultsToTheFirst() async throws {
        var pod = Pod.run(name: "two", image: "nginx")
        pod.spec.containers.append(Container(name: "sidecar", image: "busybox"))
        let cluster = FakeCluster()
        cluster.add(pod)
        cluster.setLog(pod: "two", container: "two", "from two\n")
        cluster.setLog(pod: "two", container: "sidecar", "from sidecar\n")
        try await FakeAgent.with({ cluster.handle($0) }) { agent in
            let t = agent.context()
            #expect(await t.run("logs two") == 0)
            #expect(t.stderr.text == "Defaulted container \"two\" out of: two, sidecar\n")
            #expect(t.stdout.text == "from two\n")
            let c = agent.context()
            #expect(await c.run("logs two -c sidecar") == 0)
            #expect(c.stderr.text.isEmpty)
            #expect(c.stdout.text == "from sidecar\n")
            let bad = agent.context()
            #expect(await bad.run("logs two -c nope") == 1)
            #expect(bad.stderr.text == "Error from server (BadRequest): container nope is not valid for pod two\n")
        }
    }

    @Test func logsOfAPodWithInitContainersNamesThemWhenDefaulting() async throws {
        var pod = Pod.run(name: "prepared", image: "nginx")
        pod.spec.initContainers = [Container(name: "setup", image: "busybox"),
                                   Container(name: "proxy", image: "nginx", preservedFields: ["restartPolicy": "Always"])]
        let cluster = FakeCluster()
        cluster.add(pod)
        cluster.setLog(pod: "prepared", container: "prepared", "from the app\n")
        try await FakeAgent.with({ cluster.handle($0) }) { agent in
            let t = agent.context()
            #expect(await t.run("logs prepared") == 0)
            #expect(t.stderr.text == "Defaulted container \"prepared\" out of: prepared, setup (init), proxy (init)\n")
            #expect(t.stdout.text == "from the app\n")
            #expect(agent.requests.last?.query["container"] == "prepared")
        }
    }

    @Test func deleteWaitsUntilThePodIsGone() async throws {
        let cluster = FakeCluster(lingerReads: 3)
        cluster.add(Pod.run(name: "nginx-ser", image: "nginx"))
        try await FakeAgent.with({ cluster.handle($0) }) { agent in
            let t = agent.context()
            #expect(await t.run("delete pod nginx-ser") == 0)
            #expect(t.stdout.text == "pod \"nginx-ser\" deleted\n")
            #expect(cluster.pod("default", "nginx-ser") == nil)
            #expect(agent.requestLines == ["DELETE /api/v1/namespaces/default/pods/nginx-ser"]
                + Array(repeating: "GET /api/v1/namespaces/default/pods/nginx-ser", count: 4))
        }
    }

    @Test func deleteWithoutWaiting() async throws {
        let cluster = FakeCluster(lingerReads: 3)
        cluster.add(Pod.run(name: "a", image: "nginx"))
        try await FakeAgent.with({ cluster.handle($0) }) { agent in
            let t = agent.context()
            #expect(await t.run("delete pods/a --wait=false --grace-period=5") == 0)
            #expect(t.stdout.text == "pod \"a\" deleted\n")
            #expect(agent.requestLines == ["DELETE /api/v1/namespaces/default/pods/a"])
            #expect(agent.requests[0].query["gracePeriodSeconds"] == "5")
        }
    }

    @Test func deleteReportsMissingPodsAndDeletesTheOthers() async throws {
        let cluster = FakeCluster(lingerReads: 0)
        cluster.add(Pod.run(name: "a", image: "nginx"))
        try await FakeAgent.with({ cluster.handle($0) }) { agent in
            let t = agent.context()
            #expect(await t.run("delete pod x a") == 1)
            #expect(t.stderr.text == "Error from server (NotFound): pods \"x\" not found\n")
            #expect(t.stdout.text == "pod \"a\" deleted\n")
            let quiet = agent.context()
            #expect(await quiet.run("delete pod x --ignore-not-found") == 0)
            #expect(quiet.stderr.text.isEmpty)
        }
    }

    @Test func deleteAll() async throws {
        let cluster = FakeCluster(lingerReads: 0)
        cluster.add(Pod.run(name: "a", image: "nginx"))
        cluster.add(Pod.run(name: "b", image: "nginx"))
        try await FakeAgent.with({ cluster.handle($0) }) { agent in
            let t = agent.context()
            #expect(await t.run("delete pods --all") == 0)
            #expect(t.stdout.text == "pod \"a\" deleted\npod \"b\" deleted\n")
            let again = agent.context()
            #expect(await again.run("delete pods --all") == 0)
            #expect(again.stdout.text == "No resources found\n")
        }
    }

    @Test func deleteWithoutNames() async throws {
        try await FakeAgent.with({ FakeCluster().handle($0) }) { agent in
            let t = agent.context()
            #expect(await t.run("delete pod") == 1)
            #expect(t.stderr.text == "error: resource(s) were provided, but no name was specified\n")
        }
    }

    @Test func notRunningLab() async throws {
        try await FakeAgent.with({ FakeCluster().handle($0) }) { agent in
            let t = agent.context()
            #expect(await t.run("get pods --lab gone") == 1)
            #expect(t.stderr.text == "error: lab \"gone\" is not running (no socket at \(agent.root)/gone/agent.sock); start it with \"podlab up --lab gone\"\n")
        }
    }
}
