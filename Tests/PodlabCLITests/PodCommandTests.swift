@testable import AgentTestSupport
import Foundation
import PodNet
import PodlabCLI
import Testing

@Suite("describe, logs and delete against the agent's API")
struct PodCommandTests {
    @Test func describe() async throws {
        try await TestAgent.serving { agent in
            let pod = try await agent.add(Pod.run(name: "nginx-ser", image: "nginx"))
            let status = try #require(pod.status.containerStatuses.first)
            // An hour after the last event: every AGE reads 60m, whichever second each fell in.
            let last = try await agent.events(of: "nginx-ser").compactMap(\.lastTimestamp).max { $0.secondsSince1970 < $1.secondsSince1970 }
            let t = agent.context(now: last)
            #expect(await t.run("describe pods nginx-ser") == 0)
            #expect(t.stdout.text == """
                Name:             nginx-ser
                Namespace:        default
                Priority:         0
                Service Account:  default
                Node:             \(pod.spec.nodeName)/\(pod.status.hostIP)
                Start Time:       \(Self.time(pod.status.startTime))
                Labels:           run=nginx-ser
                Annotations:      <none>
                Status:           Running
                IP:               \(pod.status.podIP)
                IPs:
                  IP:  \(pod.status.podIP)
                Containers:
                  nginx-ser:
                    Container ID:   \(status.containerID)
                    Image:          nginx
                    Image ID:       \(status.imageID)
                    Port:           <none>
                    Host Port:      <none>
                    State:          Running
                      Started:      \(Self.time(status.state.running?.startedAt))
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
                Events:
                  Type    Reason     Age   From               Message
                  ----    ------     ----  ----               -------
                  Normal  Scheduled  60m   default-scheduler  Successfully assigned default/nginx-ser to \(pod.spec.nodeName)
                  Normal  Pulled     60m   kubelet            Container image "nginx" already present on machine
                  Normal  Created    60m   kubelet            Created container nginx-ser
                  Normal  Started    60m   kubelet            Started container nginx-ser

                """)
            #expect(status.containerID.hasPrefix("podlab://\(pod.metadata.uid.prefix(8))-nginx-ser-"))
            #expect(status.imageID.hasPrefix("docker.io/library/nginx@sha256:"))
        }
    }

    /// A timestamp as `describe` prints it (RFC 1123, UTC).
    static func time(_ timestamp: Timestamp?) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss Z"
        return formatter.string(from: Date(timeIntervalSince1970: TimeInterval(timestamp?.secondsSince1970 ?? 0)))
    }

    @Test func describeACrashedContainerWithArgumentsAndEnvironment() async throws {
        var pod = Pod.run(name: "web", image: "busybox", port: 8080, env: [EnvVar(name: "MODE", value: "fast")],
                          arguments: ["sh", "-c", "exit 3"], argumentsAreCommand: true)
        pod.metadata.annotations = ["note": "hi", ApplyPlan.lastAppliedAnnotation: "{}"]
        // A back-off long enough to describe the container while it waits.
        try await TestAgent.serving(backoffSeconds: 10) { agent in
            try await agent.add(pod)
            // The first crash restarts at once; the second waits out the back-off.
            agent.runtime.exit("web", container: "web", .exited(3))
            try await agent.waitForPod("web", "restarted") { $0?.status[container: "web"]?.restartCount == 1 && $0?.status[container: "web"]?.state.running != nil }
            agent.runtime.exit("web", container: "web", .exited(3))
            let live = try #require(try await agent.waitForPod("web", "CrashLoopBackOff") { $0?.status[container: "web"]?.state.waiting != nil })
            let status = try #require(live.status[container: "web"])
            let last = try #require(status.lastState.terminated)
            let t = agent.context()
            #expect(await t.run("describe pod/web") == 0)
            let text = t.stdout.text
            #expect(text.contains("""
                Annotations:      note: hi
                Status:           Running
                """), "\(text)")
            // Lines without a tab (Command:, Environment:) end tabwriter blocks, so each part aligns on its own.
            #expect(text.contains("""
                    Container ID:  \(status.containerID)
                    Image:         busybox
                    Image ID:      \(status.imageID)
                    Port:          8080/TCP
                    Host Port:     0/TCP
                    Command:
                      sh
                      -c
                      exit 3
                    State:          Waiting
                      Reason:       CrashLoopBackOff
                      Message:      back-off 10s restarting failed container=web pod=web_default(\(live.metadata.uid))
                    Last State:     Terminated
                      Reason:       Error
                      Exit Code:    3
                      Started:      \(Self.time(last.startedAt))
                      Finished:     \(Self.time(last.finishedAt))
                    Ready:          False
                    Restart Count:  1
                    Environment:
                      MODE:  fast
                    Mounts:  <none>
                """), "\(text)")
        }
    }

    @Test func describeShowsMountsAndVolumesAsKubectlDoes() async throws {
        var pod = Pod.run(name: "web", image: "busybox")
        pod.spec.volumes = [
            Volume(name: "cache", emptyDir: EmptyDirVolumeSource(medium: "Memory", sizeLimit: Quantity(64 * 1024 * 1024, format: .binarySI))),
            Volume(name: "scratch", emptyDir: EmptyDirVolumeSource()),
        ]
        pod.spec.containers[0].volumeMounts = [
            VolumeMount(name: "host", mountPath: "/srv", readOnly: true),
            VolumeMount(name: "cache", mountPath: "/cache", subPath: "logs"),
        ]
        try await TestAgent.serving { agent in
            // A host directory inside the lab's own state directory, which goes with it.
            pod.spec.volumes.append(Volume(name: "host", hostPath: HostPathVolumeSource(path: "\(agent.root)/data", type: .directoryOrCreate)))
            try await agent.add(pod)
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
                    Path:          \(agent.root)/data
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
        try await TestAgent.serving { agent in
            try await agent.add(pod)
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
        try await TestAgent.serving { agent in
            let t = agent.context()
            #expect(await t.run("describe pod nope") == 1)
            #expect(t.stderr.text == "Error from server (NotFound): pods \"nope\" not found\n")
        }
    }

    @Test func logs() async throws {
        try await TestAgent.serving { agent in
            try await agent.add(Pod.run(name: "nginx-ser", image: "nginx", restartPolicy: .never))
            try agent.setLog(pod: "nginx-ser", container: "nginx-ser", "line 1\nline 2\nline 3\n")
            let t = agent.context()
            #expect(await t.run("logs nginx-ser") == 0)
            #expect(t.stdout.text == "line 1\nline 2\nline 3\n")
            #expect(t.stderr.text.isEmpty)
            let tail = agent.context()
            #expect(await tail.run("logs nginx-ser --tail 1") == 0)
            #expect(tail.stdout.text == "line 3\n")
            #expect(agent.requests.last?.query["tailLines"] == "1")
            // A followed log ends with its container's run.
            agent.runtime.exit("nginx-ser", container: "nginx-ser", .exited(0))
            try await agent.waitForPod("nginx-ser", "Succeeded") { $0?.status.phase == .succeeded }
            let follow = agent.context()
            #expect(await follow.run("logs -f pod/nginx-ser") == 0)
            #expect(follow.stdout.text == "line 1\nline 2\nline 3\n")
            #expect(agent.requests.last?.query["follow"] == "true")
        }
    }

    @Test func logsOfAPodWithTwoContainersDefaultsToTheFirst() async throws {
        var pod = Pod.run(name: "two", image: "nginx")
        pod.spec.containers.append(Container(name: "sidecar", image: "busybox"))
        try await TestAgent.serving { agent in
            try await agent.add(pod)
            try agent.setLog(pod: "two", container: "two", "from two\n")
            try agent.setLog(pod: "two", container: "sidecar", "from sidecar\n")
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
        try await TestAgent.serving { agent in
            try await agent.createPod(pod)
            // The regular init container completes, then the sidecar and the app run.
            try await agent.wait("setup running") { agent.runtime.isRunning("prepared", container: "setup") }
            agent.runtime.exit("prepared", container: "setup", .exited(0))
            try await agent.waitForPod("prepared", "Running") { $0?.status.phase == .running }
            try agent.setLog(pod: "prepared", container: "prepared", "from the app\n")
            let t = agent.context()
            #expect(await t.run("logs prepared") == 0)
            #expect(t.stderr.text == "Defaulted container \"prepared\" out of: prepared, setup (init), proxy (init)\n")
            #expect(t.stdout.text == "from the app\n")
            #expect(agent.requests.last?.query["container"] == "prepared")
        }
    }

    @Test func deleteWaitsUntilThePodIsGone() async throws {
        try await TestAgent.serving { agent in
            try await agent.add(Pod.run(name: "nginx-ser", image: "nginx"))
            let t = agent.context()
            #expect(await t.run("delete pod nginx-ser") == 0)
            #expect(t.stdout.text == "pod \"nginx-ser\" deleted\n")
            #expect(await agent.pod("nginx-ser") == nil)
            // The deletion, then reads of the pod until it is gone.
            #expect(agent.requestLines.first == "DELETE /api/v1/namespaces/default/pods/nginx-ser")
            #expect(agent.requestLines.count >= 2)
            #expect(agent.requestLines.dropFirst().allSatisfy { $0 == "GET /api/v1/namespaces/default/pods/nginx-ser" })
        }
    }

    @Test func deleteWithoutWaiting() async throws {
        try await TestAgent.serving { agent in
            try await agent.add(Pod.run(name: "a", image: "nginx"))
            let t = agent.context()
            #expect(await t.run("delete pods/a --wait=false --grace-period=5") == 0)
            #expect(t.stdout.text == "pod \"a\" deleted\n")
            #expect(agent.requestLines == ["DELETE /api/v1/namespaces/default/pods/a"])
            #expect(agent.requests[0].query["gracePeriodSeconds"] == "5")
        }
    }

    @Test func deleteReportsMissingPodsAndDeletesTheOthers() async throws {
        try await TestAgent.serving { agent in
            try await agent.add(Pod.run(name: "a", image: "nginx"))
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
        try await TestAgent.serving { agent in
            try await agent.add(Pod.run(name: "a", image: "nginx"))
            try await agent.add(Pod.run(name: "b", image: "nginx"))
            let t = agent.context()
            #expect(await t.run("delete pods --all") == 0)
            #expect(t.stdout.text == "pod \"a\" deleted\npod \"b\" deleted\n")
            let again = agent.context()
            #expect(await again.run("delete pods --all") == 0)
            #expect(again.stdout.text == "No resources found\n")
        }
    }

    @Test func deleteWithoutNames() async throws {
        try await TestAgent.serving { agent in
            let t = agent.context()
            #expect(await t.run("delete pod") == 1)
            #expect(t.stderr.text == "error: resource(s) were provided, but no name was specified\n")
        }
    }

    @Test func notRunningLab() async throws {
        try await TestAgent.serving { agent in
            let t = agent.context()
            #expect(await t.run("get pods --lab gone") == 1)
            #expect(t.stderr.text == "error: lab \"gone\" is not running (no socket at \(agent.root)/gone/agent.sock); start it with \"podlab up --lab gone\"\n")
        }
    }
}
