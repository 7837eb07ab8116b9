import Foundation
import KernelTestSupport
import Netns
import Testing

/// The pods tutorial (`shared/seed/pods-tutorial.txt`) replayed with `podlab` in place of
/// `kubectl`, on a real two-node lab, with every claim it makes checked.
@Suite("Tutorial end to end", .enabled(if: KernelTest.isRoot, KernelTest.rootRequired), .rootNamespaceUnchanged)
struct TutorialTests {
    @Test("run, get, describe, logs, curl from a temporary pod, httpd, delete")
    func tutorial() async throws {
        try await TestLab.with { lab in
            let dryRun = try lab.run(["run", "nginx-ser", "--image", "nginx", "--restart=Never", "--dry-run=client", "-o", "yaml"])
            #expect(dryRun.stdout.contains("kind: Pod\nmetadata:\n  creationTimestamp: null\n  labels:\n    run: nginx-ser\n  name: nginx-ser\n"))
            #expect(dryRun.stdout.contains("  - image: nginx\n    name: nginx-ser\n    resources: {}\n"))
            #expect(try lab.run(["get", "pods"], expectSuccess: false).stdout.isEmpty, "a dry run creates nothing")

            #expect(try lab.run(["run", "nginx-ser", "--image", "nginx", "--restart=Never"]).stdout == "pod/nginx-ser created\n")
            try await lab.eventually("nginx-ser Running") { try lab.run(["get", "pods"]).stdout.contains("Running") }
            let pods = try lab.run(["get", "pods"]).stdout
            #expect(pods.hasPrefix("NAME        READY   STATUS    RESTARTS   AGE\nnginx-ser   1/1     Running   0          "))

            let ip = try lab.podIP("nginx-ser")
            #expect(ip.hasPrefix("10.244."))
            let wide = try lab.run(["get", "pods", "-o", "wide"]).stdout
            #expect(wide.contains("IP") && wide.contains("NODE") && wide.contains(ip) && wide.contains("<none>"))

            let describe = try lab.run(["describe", "pods", "nginx-ser"]).stdout
            for line in ["Name:", "Namespace:        default", "Labels:           run=nginx-ser", "Status:           Running",
                         "IP:               \(ip)", "Image:          nginx", "State:          Running", "Ready:          True",
                         "Restart Count:  0", "PodScheduled      True"] {
                #expect(describe.contains(line), "describe lacks \(line)")
            }

            // "You can access it only inside a K8s cluster": a temporary curl pod does.
            let curl = try lab.run(["run", "curl", "--image", "curlimages/curl", "--restart=Never", "-it", "--rm", "--", "curl", "-s", "http://\(ip)"])
            #expect(curl.stdout.contains("<title>Welcome to nginx!</title>"))
            #expect((curl.stdout + curl.stderr).contains("pod \"curl\" deleted"))
            #expect(!(try lab.run(["get", "pods"]).stdout.contains("curl")))

            // The access shows up in nginx's log.
            try await lab.eventually("the access log line") { try lab.run(["logs", "nginx-ser"]).stdout.contains("\"GET / HTTP/1.1\" 200") }

            #expect(try lab.run(["run", "httpd", "--image", "httpd"]).succeeded)
            try await lab.eventually("httpd Running") { try lab.pod("httpd")["status"].map { ($0 as? [String: Any])?["phase"] as? String } == "Running" }
            let httpdIP = try lab.podIP("httpd")
            #expect(httpdIP != ip, "every pod has its own IP")
            let works = try lab.run(["run", "curl2", "--image", "curlimages/curl", "--restart=Never", "-it", "--rm", "--", "curl", "-s", "http://\(httpdIP)"])
            // -t gives the container a terminal, which turns its newlines into CR LF, as in Kubernetes.
            #expect(works.stdout == "<html><body><h1>It works!</h1></body></html>\r\npod \"curl2\" deleted\n")

            #expect(try lab.run(["delete", "pod", "nginx-ser"]).stdout == "pod \"nginx-ser\" deleted\n")
            let gone = try lab.run(["get", "pod", "nginx-ser"], expectSuccess: false)
            #expect(gone.stderr.contains("Error from server (NotFound): pods \"nginx-ser\" not found"))
            #expect(!NetworkNamespace.exists("\(lab.name)_pod_default_nginx-ser"), "deleting a pod removes its namespace")
        }
    }

    @Test("containers of a pod share its IP and hostname and talk over localhost")
    func sharedLocalhost() async throws {
        try await TestLab.with { lab in
            let manifest = lab.stateRoot + "/shared.yaml"
            try """
            apiVersion: v1
            kind: Pod
            metadata:
              name: shared
            spec:
              containers:
              - name: server
                image: podlab/echo
                env:
                - name: PORT
                  value: "8080"
              - name: client
                image: busybox
                command: ["sh", "-c", "while ! wget -qO- http://localhost:8080/from-sibling; do sleep 0.2; done; echo; hostname; ifconfig eth0; sleep 3600"]
            """.write(toFile: manifest, atomically: true, encoding: .utf8)
            #expect(try lab.run(["apply", "-f", manifest]).stdout == "pod/shared created\n")
            try await lab.eventually("the client reached its sibling") { try lab.run(["logs", "shared", "-c", "client"]).stdout.contains("/from-sibling") }
            let ip = try lab.podIP("shared")
            let log = try lab.run(["logs", "shared", "-c", "client"]).stdout
            #expect(log.contains("\"path\":\"/from-sibling\""))
            #expect(log.contains("\"hostname\":\"shared\""))
            #expect(log.contains("\nshared\n"), "the pod's hostname is its name")
            #expect(log.contains(ip), "the client container sees the pod IP on its eth0")
            #expect(try lab.run(["get", "pods"]).stdout.contains("shared   2/2     Running"))
        }
    }

    @Test("a volume as a means of communication: one container writes a file into an emptyDir, the other reads it")
    func volumeCommunication() async throws {
        try await TestLab.with { lab in
            try lab.apply("""
                apiVersion: v1
                kind: Pod
                metadata:
                  name: exchange
                spec:
                  volumes:
                  - name: exchange
                    emptyDir: {}
                  containers:
                  - name: producer
                    image: busybox
                    command: ["/bin/dash", "-c", "date +%s > /exchange/stamp; echo written; sleep 3600"]
                    volumeMounts:
                    - name: exchange
                      mountPath: /exchange
                  - name: consumer
                    image: busybox
                    command: ["/bin/dash", "-c", "while [ ! -s /var/exchange/stamp ]; do sleep 0.1; done; echo read $(cat /var/exchange/stamp); sleep 3600"]
                    volumeMounts:
                    - name: exchange
                      mountPath: /var/exchange
                      readOnly: true
                """, as: "exchange.yaml")
            try await lab.eventually("the consumer read the producer's file") { try lab.run(["logs", "exchange", "-c", "consumer"]).stdout.hasPrefix("read ") }
            let stamp = try lab.run(["exec", "exchange", "-c", "producer", "--", "cat", "/exchange/stamp"]).stdout
            #expect(try lab.run(["logs", "exchange", "-c", "consumer"]).stdout == "read \(stamp)")
            #expect(try lab.run(["get", "pods"]).stdout.contains("exchange   2/2     Running"))
        }
    }

    @Test("two containers on the same port: the one that loses the bind fails with EADDRINUSE, READY 1/2, restarts")
    func samePortConflict() async throws {
        try await TestLab.with(backoff: 1) { lab in
            let manifest = lab.stateRoot + "/clash.yaml"
            try """
            apiVersion: v1
            kind: Pod
            metadata:
              name: clash
            spec:
              containers:
              - name: first
                image: nginx
              - name: second
                image: httpd
            """.write(toFile: manifest, atomically: true, encoding: .utf8)
            try lab.run(["apply", "-f", manifest])
            // Containers start in order, but which one binds :80 first is a race (as on a real
            // node): the loser is the one that fails, restarts and backs off.
            var loser = ""
            try await lab.eventually("one container restarted") {
                for name in ["first", "second"] where (try lab.containerStatus("clash", name)["restartCount"] as? Int ?? 0) >= 1 {
                    loser = name
                    return true
                }
                return false
            }
            let winner = loser == "first" ? "second" : "first"
            try await lab.eventually("CrashLoopBackOff") { try lab.run(["get", "pods"]).stdout.contains("CrashLoopBackOff") }
            let row = try lab.run(["get", "pods"]).stdout
            #expect(row.contains("clash   1/2     CrashLoopBackOff"))
            let logs = try lab.run(["logs", "clash", "-c", loser]).stdout
            #expect(logs.contains("Address already in use"))
            let kept = try lab.containerStatus("clash", winner)
            #expect(kept["ready"] as? Bool == true && kept["restartCount"] as? Int == 0)
            let describe = try lab.run(["describe", "pod", "clash"]).stdout
            #expect(describe.contains("CrashLoopBackOff"))
            #expect(describe.contains("Exit Code:    1"))
        }
    }

    @Test("pods on different nodes reach each other by pod IP; the host has no route to any pod")
    func crossNodeAndIsolation() async throws {
        try await TestLab.with { lab in
            try await lab.start([PinnedPod("a", on: "n1", "web", image: "nginx"), PinnedPod("b", on: "n2", "web", image: "httpd")])
            let a = try lab.podIP("a"), b = try lab.podIP("b")
            #expect(a.hasPrefix("10.244.1.") && b.hasPrefix("10.244.2."), "each node hands out its own CIDR")
            #expect(try lab.run(["exec", "a", "--", "curl", "-s", "http://\(b)/"]).stdout.contains("It works!"))
            #expect(try lab.run(["exec", "b", "--", "curl", "-s", "http://\(a)/"]).stdout.contains("Welcome to nginx!"))
            // Not reachable from outside the cluster: the root namespace has no route into the lab.
            // (No packet is sent: the kernel's route lookup shows where one would go.)
            for ip in [a, b] {
                let route = try Command.check("ip", ["-j", "route", "get", ip])
                #expect(!route.contains("cni0") && !route.contains("\"dev\":\"veth"), "the host routes \(ip) into the lab: \(route)")
            }
            let hostRoutes = try Command.check("ip", ["route", "show", "table", "all"])
            #expect(!hostRoutes.contains("10.244."), "the host has a route to the cluster CIDR")

            // The nodes route (and do not run bridged frames through netfilter where the host
            // loaded br_netfilter); the lab's interfaces carry no IPv6 link-local address.
            for node in ["n1", "n2"] {
                let namespace = "\(lab.name)_node_\(node)"
                #expect(try Command.check("cat", ["/proc/sys/net/ipv4/ip_forward"], netns: namespace) == "1\n")
                if FileManager.default.fileExists(atPath: "/proc/sys/net/bridge/bridge-nf-call-iptables") {
                    #expect(try Command.check("cat", ["/proc/sys/net/bridge/bridge-nf-call-iptables"], netns: namespace) == "0\n")
                }
                #expect(try Command.check("ip", ["-6", "addr", "show", "scope", "link"], netns: namespace).isEmpty)
            }
            for pod in ["a", "b"] {
                #expect(try Command.check("ip", ["-6", "addr", "show", "dev", "eth0", "scope", "link"], netns: "\(lab.name)_pod_default_\(pod)").isEmpty)
            }
            #expect(try Command.check("ip", ["-6", "addr", "show", "scope", "link"], netns: lab.underlayNamespace).isEmpty,
                    "the underlay is IPv4-only too")
        }
    }
}
