import Foundation
import KernelTestSupport
import Testing

/// The cluster DNS of a real lab, asked by real clients from inside a pod: Debian's `dig`
/// (bind9-dnsutils) and glibc's `getent`, host programs run in a busybox pod. The server is
/// asked at its own address (the `podlab-dns` pod's); the last test asks through the
/// `kube-dns` ClusterIP as every pod's `/etc/resolv.conf` says.
@Suite("Cluster DNS", .serialized, .enabled(if: KernelTest.isRoot, KernelTest.rootRequired), .rootNamespaceUnchanged)
struct DNSTests {
    static func json(_ lab: TestLab, _ arguments: [String]) throws -> [String: Any] {
        let result = try lab.run(arguments + ["-o", "json"])
        return (try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any]) ?? [:]
    }

    /// The whitespace-separated fields of `getent hosts` output (the address is padded).
    static func fields(_ text: String) -> [String] {
        text.split(whereSeparator: { $0 == " " || $0 == "\n" }).map(String.init)
    }

    static func status(_ object: [String: Any]) -> [String: Any] { object["status"] as? [String: Any] ?? [:] }

    /// The DNS pod's address, once it runs.
    static func dnsAddress(_ lab: TestLab) async throws -> String {
        var address = ""
        try await lab.eventually("the cluster DNS pod runs") {
            let pod = try json(lab, ["get", "pod", "podlab-dns", "-n", "kube-system"])
            address = status(pod)["podIP"] as? String ?? ""
            return status(pod)["phase"] as? String == "Running" && !address.isEmpty
        }
        return address
    }

    static let manifest = """
        apiVersion: v1
        kind: Pod
        metadata: {name: web, labels: {app: web}}
        spec:
          containers:
          - name: web
            image: nginx
            ports: [{name: http, containerPort: 80}]
        ---
        apiVersion: v1
        kind: Service
        metadata: {name: web}
        spec:
          selector: {app: web}
          ports: [{name: http, port: 80, targetPort: 80}]
        ---
        apiVersion: v1
        kind: Service
        metadata: {name: web-headless}
        spec:
          clusterIP: None
          selector: {app: web}
          ports: [{name: http, port: 80}]
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: client}
        spec:
          containers:
          - name: client
            image: busybox
            command: [sleep, "3600"]
        """

    /// `dig` in the client pod; its whole output (the answer's header and sections).
    static func dig(_ lab: TestLab, _ arguments: [String]) throws -> String {
        try lab.run(["exec", "client", "--", "dig", "+time=2", "+tries=2"] + arguments).stdout
    }

    @Test("dig from a pod: service A, headless A, SRV, pod A, PTR, NXDOMAIN, NODATA, REFUSED, TCP; names follow the services")
    func digFromPod() async throws {
        try await TestLab.with { lab in
            let server = try await Self.dnsAddress(lab)
            try lab.apply(Self.manifest, as: "dns.yaml")
            try await lab.eventually("web and client run") {
                try ["web", "client"].allSatisfy { Self.status(try lab.pod($0))["phase"] as? String == "Running" }
            }
            let webIP = try lab.podIP("web")
            let clusterIP = ((try Self.json(lab, ["get", "svc", "web"]))["spec"] as? [String: Any])?["clusterIP"] as? String ?? ""
            #expect(clusterIP.hasPrefix("10.96."))
            let at = "@" + server

            // The headless name appears once the endpoint is ready (the watch feeds the server).
            try await lab.eventually("the headless service answers the web pod") {
                try Self.dig(lab, [at, "+short", "web-headless.default.svc.cluster.local"]) == "\(webIP)\n"
            }
            #expect(try Self.dig(lab, [at, "+short", "web.default.svc.cluster.local"]) == "\(clusterIP)\n")
            #expect(try Self.dig(lab, [at, "+short", "+tcp", "web.default.svc.cluster.local"]) == "\(clusterIP)\n", "over TCP")
            #expect(try Self.dig(lab, [at, "+short", "SRV", "_http._tcp.web.default.svc.cluster.local"]) == "0 100 80 web.default.svc.cluster.local.\n")
            let dashed = webIP.replacingOccurrences(of: ".", with: "-")
            #expect(try Self.dig(lab, [at, "+short", "SRV", "_http._tcp.web-headless.default.svc.cluster.local"])
                == "0 100 80 \(dashed).web-headless.default.svc.cluster.local.\n")
            #expect(try Self.dig(lab, [at, "+short", "\(dashed).default.pod.cluster.local"]) == "\(webIP)\n")
            #expect(try Self.dig(lab, [at, "+short", "-x", clusterIP]) == "web.default.svc.cluster.local.\n")
            #expect(try Self.dig(lab, [at, "+short", "-x", try lab.podIP("client")])
                == "\(try lab.podIP("client").replacingOccurrences(of: ".", with: "-")).default.pod.cluster.local.\n")

            let missing = try Self.dig(lab, [at, "nope.default.svc.cluster.local"])
            #expect(missing.contains("status: NXDOMAIN") && missing.contains("flags: qr aa rd;") && missing.contains("AUTHORITY: 1"), "\(missing)")
            #expect(missing.contains("cluster.local.\t\t5\tIN\tSOA\tns.dns.cluster.local. hostmaster.cluster.local."), "\(missing)")
            let noData = try Self.dig(lab, [at, "AAAA", "web.default.svc.cluster.local"])
            #expect(noData.contains("status: NOERROR") && noData.contains("ANSWER: 0, AUTHORITY: 1"), "\(noData)")
            let outside = try Self.dig(lab, [at, "example.com"])
            #expect(outside.contains("status: REFUSED"), "\(outside)")

            // A change reaches the server through its watch.
            try lab.run(["delete", "svc", "web"])
            try await lab.eventually("the deleted service's name is gone") {
                try Self.dig(lab, [at, "web.default.svc.cluster.local"]).contains("status: NXDOMAIN")
            }
        }
    }

    @Test("every pod gets the kubelet's resolv.conf; glibc resolves a short service name through its search list")
    func resolvConfAndSearchList() async throws {
        try await TestLab.with { lab in
            let server = try await Self.dnsAddress(lab)
            // A pod whose resolv.conf names the server's own address (dnsPolicy None): glibc's
            // search expansion, tested without the ClusterIP dataplane.
            try lab.apply(Self.manifest + """

                ---
                apiVersion: v1
                kind: Pod
                metadata: {name: direct}
                spec:
                  dnsPolicy: None
                  dnsConfig:
                    nameservers: [\(server)]
                    searches: [default.svc.cluster.local, svc.cluster.local, cluster.local]
                    options: [{name: ndots, value: "5"}]
                  containers:
                  - name: c
                    image: busybox
                    command: [sleep, "3600"]
                """, as: "dns.yaml")
            try await lab.eventually("the pods run") {
                try ["web", "client", "direct"].allSatisfy { Self.status(try lab.pod($0))["phase"] as? String == "Running" }
            }
            let resolvConf = try lab.run(["exec", "client", "--", "cat", "/etc/resolv.conf"]).stdout
            #expect(resolvConf == "search default.svc.cluster.local svc.cluster.local cluster.local\nnameserver 10.96.0.10\noptions ndots:5\n")
            #expect(try lab.run(["exec", "direct", "--", "cat", "/etc/resolv.conf"]).stdout
                == "search default.svc.cluster.local svc.cluster.local cluster.local\nnameserver \(server)\noptions ndots:5\n")
            let clusterIP = ((try Self.json(lab, ["get", "svc", "web"]))["spec"] as? [String: Any])?["clusterIP"] as? String ?? ""
            try await lab.eventually("getent resolves the short name") {
                Self.fields(try lab.run(["exec", "direct", "--", "getent", "hosts", "web"], expectSuccess: false).stdout)
                    == [clusterIP, "web.default.svc.cluster.local"]
            }
            let dns = try Self.json(lab, ["get", "svc", "kube-dns", "-n", "kube-system"])
            #expect((dns["spec"] as? [String: Any])?["clusterIP"] as? String == "10.96.0.10")
            #expect(try String(contentsOfFile: "/etc/resolv.conf", encoding: .utf8) != resolvConf, "the host's file is untouched")
        }
    }

    @Test("garbage packets do not stop the server; it follows an agent killed and started again")
    func garbageAndAgentRestart() async throws {
        try await TestLab.with { lab in
            let server = try await Self.dnsAddress(lab)
            try lab.apply(Self.manifest, as: "dns.yaml")
            try await lab.eventually("web and client run") {
                try ["web", "client"].allSatisfy { Self.status(try lab.pod($0))["phase"] as? String == "Running" }
            }
            let at = "@" + server
            // Random datagrams of every size, a valid header with a garbage question, TCP garbage.
            let garbage = """
                import os, random, socket
                random.seed(7)
                u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                for n in list(range(0, 600, 3)) + [1232, 4096, 65000]:
                    u.sendto(os.urandom(n), ("\(server)", 53))
                u.sendto(bytes([0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xC0, 12, 0, 1, 0, 1]), ("\(server)", 53))
                t = socket.create_connection(("\(server)", 53), timeout=2)
                t.sendall(bytes([0xFF, 0xFF]) + os.urandom(3000))
                t.close()
                """
            try lab.run(["exec", "client", "--", "/usr/bin/python3", "-c", garbage])
            #expect(try Self.dig(lab, [at, "+short", "kube-dns.kube-system.svc.cluster.local"]) == "10.96.0.10\n")
            let unknownType = try Self.dig(lab, [at, "TYPE65000", "kube-dns.kube-system.svc.cluster.local"])
            #expect(unknownType.contains("status: NOERROR") && unknownType.contains("ANSWER: 0, AUTHORITY: 1"), "\(unknownType)")

            try await lab.killAgent()
            try lab.run(["up"])
            try lab.run(["expose", "pod", "web", "--port", "8080", "--target-port", "80", "--name", "late"])
            let lateIP = ((try Self.json(lab, ["get", "svc", "late"]))["spec"] as? [String: Any])?["clusterIP"] as? String ?? ""
            try await lab.eventually("a service made after the restart has a name") {
                try Self.dig(lab, [at, "+short", "late.default.svc.cluster.local"]) == "\(lateIP)\n"
            }
            let dnsPod = try Self.json(lab, ["get", "pod", "podlab-dns", "-n", "kube-system"])
            let restarts = (Self.status(dnsPod)["containerStatuses"] as? [[String: Any]])?.first?["restartCount"] as? Int
            #expect(restarts == 0, "the server ran through it all")
        }
    }

    /// Through the Service rules (nftables): the pod asks 10.96.0.10, as its resolv.conf says,
    /// and `wget http://web/` and the built-in `curl http://web/` work by name.
    @Test("through the kube-dns ClusterIP: getent and curl by a short service name")
    func throughClusterIP() async throws {
        try await TestLab.with { lab in
            _ = try await Self.dnsAddress(lab)
            try lab.apply(Self.manifest, as: "dns.yaml")
            try await lab.eventually("web and client run") {
                try ["web", "client"].allSatisfy { Self.status(try lab.pod($0))["phase"] as? String == "Running" }
            }
            let clusterIP = ((try Self.json(lab, ["get", "svc", "web"]))["spec"] as? [String: Any])?["clusterIP"] as? String ?? ""
            try await lab.eventually("getent resolves web through 10.96.0.10") {
                Self.fields(try lab.run(["exec", "client", "--", "getent", "hosts", "web"], expectSuccess: false).stdout)
                    == [clusterIP, "web.default.svc.cluster.local"]
            }
            let page = try lab.run(["exec", "client", "--", "wget", "-qO-", "http://web/"], expectSuccess: false)
            #expect(page.stdout.contains("Welcome to nginx!"), "\(page.stderr)")
            // default/kubernetes has its name and address as in a cluster, and, the API being on
            // the host's loopback, which no pod reaches, refuses a connection at once.
            #expect(Self.fields(try lab.run(["exec", "client", "--", "getent", "hosts", "kubernetes"], expectSuccess: false).stdout)
                == ["10.96.0.1", "kubernetes.default.svc.cluster.local"])
            let connect = """
                import socket
                s = socket.socket()
                s.settimeout(5)
                try:
                    s.connect(("kubernetes.default.svc.cluster.local", 443))
                    print("connected")
                except ConnectionRefusedError:
                    print("refused")
                except OSError as e:
                    print(e)
                """
            #expect(try lab.run(["exec", "client", "--", "/usr/bin/python3", "-c", connect]).stdout == "refused\n")
            let endpoints = try lab.run(["get", "endpoints", "kubernetes"]).stdout
            #expect(endpoints.split(separator: "\n").last?.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first == "<none>", "\(endpoints)")
            // The built-in curl resolves through the pod's resolv.conf too, with its search list.
            try lab.apply("""
                apiVersion: v1
                kind: Pod
                metadata: {name: curler}
                spec: {containers: [{name: curl, image: curlimages/curl, command: [sleep, "3600"]}]}
                """, as: "curler.yaml")
            try await lab.eventually("curler runs") { Self.status(try lab.pod("curler"))["phase"] as? String == "Running" }
            let curled = try lab.run(["exec", "curler", "--", "curl", "-sS", "http://web/"], expectSuccess: false)
            #expect(curled.stdout.contains("Welcome to nginx!"), "\(curled.stderr)")
            let unknown = try lab.run(["exec", "curler", "--", "curl", "-sS", "http://no-such-service/"], expectSuccess: false)
            #expect(unknown.stderr.contains("curl: (6) Could not resolve host: no-such-service"), "\(unknown.stderr)")
        }
    }
}
