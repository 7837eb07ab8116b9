import Testing
@testable import PodNet

@Suite("The expected reachability of a lab")
struct ReachabilityModelTests {
    static func lines(_ checks: [ConnectivityCheck], _ claim: ConnectivityClaim) -> [String] {
        checks.filter { $0.claim == claim }.map(\.line).sorted()
    }

    @Test("the whole matrix of the fixture lab, claim by claim")
    func matrix() {
        let checks = ReachabilityModel.checks(for: Lab.snapshot(), options: MatrixOptions(timeoutMillis: 700))
        #expect(Self.lines(checks, .crossNode) == [
            "tcp a→10.244.2.2:80 connected", "tcp a→10.244.2.2:8080 connected",
            "tcp b→10.244.1.2:80 connected", "tcp b→10.244.1.3:9 refused",
            "tcp c→10.244.2.2:80 connected", "tcp c→10.244.2.2:8080 connected",
            "udp a→10.244.2.2:8080 connected", "udp c→10.244.2.2:8080 connected",
        ])
        #expect(Self.lines(checks, .podToPod) == ["tcp a→10.244.1.3:9 refused", "tcp c→10.244.1.2:80 connected"])
        #expect(Self.lines(checks, .closedPort) == ["tcp b→10.244.1.2:9 refused", "tcp c→10.244.2.2:9 refused"],
                "once per pod that listens, from a pod on another node")
        #expect(Self.lines(checks, .oneIPPerPod) == ["http b→10.244.1.2:80 connected", "http c→10.244.2.2:80 connected"])
        #expect(Self.lines(checks, .sharedIP) == ["http c→10.244.2.2:80 connected", "http c→10.244.2.2:8080 connected", "udp c→10.244.2.2:8080 connected"])
        #expect(Self.lines(checks, .localhost) == ["http b→127.0.0.1:80 connected", "http b→127.0.0.1:8080 connected", "udp b→127.0.0.1:8080 connected"])
        #expect(Self.lines(checks, .portConflict) == ["bind a→0.0.0.0:80 in-use", "bind b→0.0.0.0:80 in-use", "bind b→0.0.0.0:8080 in-use"])
        #expect(Self.lines(checks, .gateway) == ["icmp a→10.244.1.1 connected", "icmp b→10.244.2.1 connected", "icmp c→10.244.1.1 connected"])
        #expect(Self.lines(checks, .hostIsolation) == ["route host→10.244.1.2 unreachable", "route host→10.244.1.3 unreachable", "route host→10.244.2.2 unreachable"])
        #expect(checks.allSatisfy { $0.probe?.effectiveTimeoutMillis == 700 })
        #expect(checks.allSatisfy { $0.probe.map { $0.problems().isEmpty } ?? false }, "every probe is one the agent accepts")
    }

    @Test("a running sidecar is checked like a container beside the app; a finished init container listens on nothing")
    func sidecarAndInitContainer() {
        var pod = Lab.pod("s", node: "n1", ip: "10.244.1.4", [Container(name: "app", image: "busybox", command: ["sleep", "3600"])])
        pod.spec.initContainers = [Container(name: "warmup", image: "podlab/echo"),
                                   Container(name: "proxy", image: "nginx", preservedFields: ["restartPolicy": "Always"])]
        pod.status.initContainerStatuses = [
            ContainerStatus(name: "warmup", state: .terminated(.init(exitCode: 0, reason: "Completed")), ready: true),
            ContainerStatus(name: "proxy", state: .running(startedAt: Lab.t0), ready: true, started: true),
        ]
        let checks = ReachabilityModel.checks(for: Lab.snapshot([Lab.a, pod]), options: MatrixOptions())
        #expect(Self.lines(checks, .localhost) == ["http s→127.0.0.1:80 connected"])
        #expect(checks.allSatisfy { $0.probe?.port != 8080 }, "the finished echo init container was taken for a listener")
        #expect(Self.lines(checks, .podToPod).contains("tcp a→10.244.1.4:80 connected"))
    }

    @Test("pod-to-pod answers must come from the source pod's own address; localhost from loopback")
    func expectedSources() throws {
        let checks = ReachabilityModel.checks(for: Lab.snapshot())
        let pair = try #require(checks.first { $0.claim == .crossNode && $0.from == "a" })
        #expect(pair.expectedSource == IPv4Address(10, 244, 1, 2))
        #expect(checks.filter { $0.claim == .localhost }.allSatisfy { $0.expectedSource == .loopback })
        #expect(checks.filter { $0.probe?.kind == .bind || $0.probe?.kind == .route }.allSatisfy { $0.expectedSource == nil })
    }

    @Test("every check that expects a pod's own source at another pod's address has the agent observe it there")
    func observedSources() throws {
        let checks = ReachabilityModel.checks(for: Lab.snapshot())
        let podAddresses = Set(Lab.snapshot().activePods.map(\.address))
        let observed = checks.filter { $0.probe?.observesSource == true }
        #expect(!observed.isEmpty)
        for check in checks {
            guard let probe = check.probe, let destination = probe.destination else { continue }
            let shouldObserve = check.expected == .connected && check.expectedSource != nil && check.expectedSource != .loopback
                && podAddresses.contains(destination)
            #expect(probe.observesSource == shouldObserve, "\(check.line) (\(check.claim.rawValue))")
        }
        // Every claim a pod pair proves: the pairs, a pod's own answer, the shared IP.
        #expect(Set(observed.map(\.claim)) == [.crossNode, .podToPod, .oneIPPerPod, .sharedIP])
        #expect(observed.contains { $0.probe?.kind == .udp }, "UDP probes are observed too (with a datagram)")
        // Not at gateways (node namespaces), not on localhost, not where a reset is expected.
        #expect(checks.filter { [.gateway, .localhost, .closedPort].contains($0.claim) }.allSatisfy { $0.probe?.observesSource != true })
        let address = ReachabilityModel.checks(for: Lab.snapshot(), options: MatrixOptions(
            sources: try EndpointSelector(parsing: "a"), targets: try EndpointSelector(parsing: "10.244.2.2:8080,10.244.2.1,10.244.3.7:80")))
        #expect(address.map { "\($0.line) \($0.probe?.observesSource == true)" }.sorted() == [
            "icmp a→10.244.2.1 connected false", "tcp a→10.244.2.2:8080 connected true", "tcp a→10.244.3.7:80 unreachable false",
            "udp a→10.244.2.2:8080 connected true",
        ])
    }

    @Test("--to an address nothing holds: a ClusterIP is filed under the service claim, a free pod address under its own, not under pod-to-pod")
    func unheldAddresses() throws {
        let checks = ReachabilityModel.checks(for: Lab.snapshot(), options: MatrixOptions(
            sources: try EndpointSelector(parsing: "a"), targets: try EndpointSelector(parsing: "10.96.0.10:53,10.244.3.7:80")))
        #expect(checks.map { "\($0.claim.rawValue) \($0.line)" }.sorted() == [
            "service-ip tcp a→10.96.0.10:53 unreachable", "unassigned-address tcp a→10.244.3.7:80 unreachable",
        ])
        #expect(checks.first { $0.claim == .serviceIP }?.reason.contains("no Service holds it") == true)
        #expect(!checks.contains { $0.claim == .podToPod || $0.claim == .crossNode })
    }

    @Test("pairs rotate through the targets: neighbouring probes go to different pods")
    func rotation() {
        let pods = (1...6).map { i in
            Lab.pod("p\(i)", node: i % 2 == 0 ? "n2" : "n1", ip: "10.244.\(i % 2 == 0 ? 2 : 1).\(10 + i)", [Container(name: "echo", image: "podlab/echo")])
        }
        let checks = ReachabilityModel.checks(for: Lab.snapshot(pods), options: MatrixOptions(kinds: [.tcp]))
        let pairs = checks.filter { $0.claim == .podToPod || $0.claim == .crossNode }
        #expect(pairs.count == 30, "6 × 5 ordered pairs, one TCP port each")
        #expect(Set(pairs.map { "\($0.from)→\($0.probe!.to)" }).count == 30)
        let firstRound = pairs.prefix(6).map { $0.probe!.to }
        #expect(Set(firstRound).count == 6, "the first six probes reach six different pods: \(firstRound)")
    }

    @Test("--from and --to pick pods; host and gateway checks only when selected")
    func selection() throws {
        let options = MatrixOptions(sources: try EndpointSelector(parsing: "a"), targets: try EndpointSelector(parsing: "b"))
        let checks = ReachabilityModel.checks(for: Lab.snapshot(), options: options)
        #expect(checks.map(\.line).sorted() == [
            "http a→10.244.2.2:80 connected", "http a→10.244.2.2:80 connected", "http a→10.244.2.2:8080 connected",
            "tcp a→10.244.2.2:80 connected", "tcp a→10.244.2.2:8080 connected", "tcp a→10.244.2.2:9 refused",
            "udp a→10.244.2.2:8080 connected", "udp a→10.244.2.2:8080 connected",
        ])
        let host = ReachabilityModel.checks(for: Lab.snapshot(), options: MatrixOptions(sources: try EndpointSelector(parsing: "host"),
                                                                                      targets: try EndpointSelector(parsing: "app=web")))
        #expect(host.map(\.line) == ["route host→10.244.1.2 unreachable"])
        let gateways = ReachabilityModel.checks(for: Lab.snapshot(), options: MatrixOptions(targets: try EndpointSelector(parsing: "gateway")))
        #expect(gateways.map(\.line).sorted() == ["icmp a→10.244.1.1 connected", "icmp b→10.244.2.1 connected", "icmp c→10.244.1.1 connected"])
    }

    @Test("--to ADDRESS[:PORT]: a pod's port, a closed port, a gateway, an unused cluster address, an outside address", arguments: [
        ("10.244.2.2:8080", ["tcp a→10.244.2.2:8080 connected", "udp a→10.244.2.2:8080 connected"]),
        ("10.244.2.2:81", ["tcp a→10.244.2.2:81 refused"]),
        ("10.244.2.1", ["icmp a→10.244.2.1 connected"]),
        ("192.168.200.12:22", ["tcp a→192.168.200.12:22 refused"]),
        ("127.0.0.1:80", ["tcp a→127.0.0.1:80 connected"]),
        ("127.0.0.1:81", ["tcp a→127.0.0.1:81 refused"]),
        ("10.244.3.7:80", ["tcp a→10.244.3.7:80 unreachable"]),
        ("8.8.8.8:53", ["tcp a→8.8.8.8:53 unreachable"]),
    ])
    func addressTargets(target: String, expected: [String]) throws {
        let options = MatrixOptions(sources: try EndpointSelector(parsing: "a"), targets: try EndpointSelector(parsing: target))
        let checks = ReachabilityModel.checks(for: Lab.snapshot(), options: options)
        #expect(checks.map(\.line).sorted() == expected.sorted())
    }

    @Test("an address nobody holds: unreachable or a timeout both prove it")
    func unusedAddressTolerance() throws {
        let options = MatrixOptions(sources: try EndpointSelector(parsing: "a"), targets: try EndpointSelector(parsing: "10.244.2.77"))
        let check = try #require(ReachabilityModel.checks(for: Lab.snapshot(), options: options).first)
        #expect(check.accepts(.unreachable) && check.accepts(.timeout) && !check.accepts(.connected))
    }

    @Test("two running pods with one address: the model reports it without a probe")
    func duplicateAddress() throws {
        var twin = Lab.c
        twin.metadata.name = "twin"
        let checks = ReachabilityModel.checks(for: Lab.snapshot([Lab.a, Lab.b, Lab.c, twin]))
        let duplicate = try #require(checks.first { $0.evaluated != nil })
        #expect(duplicate.claim == .oneIPPerPod)
        #expect(duplicate.evaluated?.detail == "10.244.1.3 is held by c, twin")
        #expect(!CheckResult(check: duplicate, actual: duplicate.evaluated!).matched)
    }

    @Test("--kinds and the namespace filter")
    func filters() {
        let onlyICMP = ReachabilityModel.checks(for: Lab.snapshot(), options: MatrixOptions(kinds: [.icmp]))
        #expect(onlyICMP.allSatisfy { $0.probe?.kind == .icmp } && onlyICMP.count == 3)
        let team = Lab.pod("t", namespace: "team", node: "n2", ip: "10.244.2.5", [Container(name: "web", image: "nginx")])
        let inTeam = ReachabilityModel.checks(for: Lab.snapshot([Lab.a, team]), options: MatrixOptions(namespace: "team"))
        #expect(inTeam.allSatisfy { $0.from == "team/t" || $0.from == "host" })
        #expect(Set(inTeam.map(\.claim)) == [.portConflict, .gateway, .hostIsolation])
    }

    @Test("HTTP between pods checks each server's own answer")
    func httpBetweenPods() throws {
        let checks = ReachabilityModel.checks(for: Lab.snapshot(), options: MatrixOptions(httpBetweenPods: true))
        let toB = checks.filter { $0.claim == .crossNode && $0.from == "a" }
        #expect(toB.map { $0.probe!.expectBody ?? "-" }.sorted() == ["\"hostname\":\"b\"", "-", "It works!"])
        #expect(toB.filter { $0.probe!.kind == .http }.allSatisfy { $0.probe!.expectStatus == 200 && $0.probe!.path == "/" })
    }

    @Test("a conflict's owner is checked by its answer")
    func conflictOwner() throws {
        let clash = Lab.pod("clash", node: "n2", ip: "10.244.2.7", [Container(name: "first", image: "nginx"), Container(name: "second", image: "httpd")],
                            states: ["second": .waiting(reason: "CrashLoopBackOff")])
        let checks = ReachabilityModel.checks(for: Lab.snapshot([Lab.a, clash]))
        let owner = try #require(checks.first { $0.claim == .portConflict && $0.probe?.kind == .http })
        #expect(owner.probe?.expectBody == "Welcome to nginx!")
        #expect(owner.reason.contains("first holds 80/TCP; second cannot"))
        let bind = try #require(checks.first { $0.claim == .portConflict && $0.probe?.kind == .bind && $0.from == "clash" })
        #expect(bind.expected == .inUse && bind.reason.contains("second wanted it too"))
    }
}
