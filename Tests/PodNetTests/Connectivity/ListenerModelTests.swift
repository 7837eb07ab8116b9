import Testing
@testable import PodNet

@Suite("Which ports a pod's containers listen on")
struct ListenerModelTests {
    static let servers: [(String, Container, ServerProgram?, UInt16?)] = [
        ("nginx as the image runs it", Container(name: "c", image: "nginx"), .nginx, 80),
        ("nginx with a tag", Container(name: "c", image: "nginx:1.27"), .nginx, 80),
        ("httpd", Container(name: "c", image: "httpd"), .httpd, 80),
        ("echo", Container(name: "c", image: "podlab/echo"), .echo, 8080),
        ("echo with $PORT", Container(name: "c", image: "podlab/echo", env: [EnvVar(name: "PORT", value: "9000")]), .echo, 9000),
        ("echo with --port", Container(name: "c", image: "podlab/echo", args: ["--port", "7000"]), .echo, 7000),
        ("--port wins over $PORT", Container(name: "c", image: "podlab/echo", args: ["--port=7001"], env: [EnvVar(name: "PORT", value: "9000")]), .echo, 7001),
        ("nginx honours $PORT too", Container(name: "c", image: "nginx", env: [EnvVar(name: "PORT", value: "8081")]), .nginx, 8081),
        ("httpd-foreground with --port", Container(name: "c", image: "httpd", args: ["httpd-foreground", "--port", "81"]), .httpd, 81),
        ("probe serves by default", Container(name: "c", image: "podlab/probe"), .echo, 8080),
        ("probe serve --port", Container(name: "c", image: "podlab/probe", args: ["serve", "--port", "6000"]), .echo, 6000),
        ("probe as a client", Container(name: "c", image: "podlab/probe", args: ["tcp", "10.244.1.2", "80"]), nil, nil),
        ("nginx image running sleep", Container(name: "c", image: "nginx", command: ["sleep", "3600"]), nil, nil),
        ("nginx entrypoint running a shell", Container(name: "c", image: "nginx", args: ["sh", "-c", "sleep 1"]), nil, nil),
        ("busybox", Container(name: "c", image: "busybox"), nil, nil),
        ("curl", Container(name: "c", image: "curlimages/curl", args: ["curl", "http://x"]), nil, nil),
        ("an unknown image", Container(name: "c", image: "example.com/app"), nil, nil),
        ("an invalid $PORT: the server exits", Container(name: "c", image: "podlab/echo", env: [EnvVar(name: "PORT", value: "http")]), nil, nil),
    ]

    @Test("server programs and their ports", arguments: servers)
    func server(name: String, container: Container, program: ServerProgram?, port: UInt16?) {
        let found = ListenerModel.server(of: container)
        #expect(found?.program == program, "\(name)")
        #expect(found?.port == port, "\(name)")
    }

    @Test("declared containerPorts count, next to the server's own ports; SCTP does not")
    func declaredPorts() {
        let shell = Container(name: "nc", image: "busybox", command: ["nc", "-l", "-p", "9000"],
                              ports: [ContainerPort(containerPort: 9000), ContainerPort(containerPort: 5353, protocol: .udp),
                                      ContainerPort(containerPort: 7777, protocol: .sctp)])
        #expect(ListenerModel.wanted(by: shell) == [
            Listener(container: "nc", port: 5353, transport: .udp),
            Listener(container: "nc", port: 9000, transport: .tcp),
        ])
        let echo = Container(name: "echo", image: "podlab/echo", ports: [ContainerPort(containerPort: 8080)])
        #expect(ListenerModel.wanted(by: echo) == [
            Listener(container: "echo", port: 8080, transport: .tcp, server: .echo),
            Listener(container: "echo", port: 8080, transport: .udp, server: .echo),
        ], "a declared port the server listens on anyway is one listener, still known as the server")
    }

    @Test("only running containers listen")
    func onlyRunning() {
        let pod = Lab.pod("p", node: "n1", ip: "10.244.1.9", [Container(name: "web", image: "nginx"), Container(name: "echo", image: "podlab/echo")],
                          states: ["echo": .waiting(reason: "CrashLoopBackOff")])
        let listeners = ListenerModel.listeners(of: pod)
        #expect(listeners.listeners == [Listener(container: "web", port: 80, transport: .tcp, server: .nginx)])
        #expect(listeners.conflicts.isEmpty)
    }

    @Test("two running containers on one port: the first started holds it, the other listens on nothing")
    func runningConflict() {
        let containers = [Container(name: "first", image: "nginx"), Container(name: "second", image: "podlab/echo", env: [EnvVar(name: "PORT", value: "80")]),
                          Container(name: "third", image: "podlab/echo", env: [EnvVar(name: "PORT", value: "8080")])]
        // The second started first: it holds 80; the first lost, and so did nobody else.
        let pod = Lab.pod("p", node: "n1", ip: "10.244.1.9", containers, states: [
            "first": .running(startedAt: Lab.t0.adding(seconds: 5)), "second": .running(startedAt: Lab.t0),
            "third": .running(startedAt: Lab.t0.adding(seconds: 1)),
        ])
        let listeners = ListenerModel.listeners(of: pod)
        #expect(listeners.listener(port: 80, transport: .tcp)?.container == "second")
        #expect(listeners.listener(port: 8080, transport: .tcp)?.container == "third")
        #expect(listeners.conflicts == [PortConflict(port: 80, transport: .tcp, owner: "second", others: ["first"])])
    }

    @Test("equal start times: spec order decides")
    func tie() {
        let pod = Lab.pod("p", node: "n1", ip: "10.244.1.9", [Container(name: "first", image: "nginx"), Container(name: "second", image: "httpd")],
                          states: ["first": .running(startedAt: Lab.t0), "second": .running(startedAt: Lab.t0)])
        let listeners = ListenerModel.listeners(of: pod)
        #expect(listeners.listeners.map(\.container) == ["first"])
        #expect(listeners.conflicts.first?.others == ["second"])
    }

    @Test("a waiting container that wants a held port is in the conflict; a loser holds none of its other ports")
    func waitingLoser() {
        let loser = Container(name: "second", image: "httpd", ports: [ContainerPort(containerPort: 80), ContainerPort(containerPort: 9090)])
        let pod = Lab.pod("p", node: "n1", ip: "10.244.1.9", [Container(name: "first", image: "nginx"), loser],
                          states: ["second": .waiting(reason: "CrashLoopBackOff")])
        let listeners = ListenerModel.listeners(of: pod)
        #expect(listeners.listeners.map(\.port) == [80])
        #expect(listeners.conflicts == [PortConflict(port: 80, transport: .tcp, owner: "first", others: ["second"])])

        let bothRunning = Lab.pod("p", node: "n1", ip: "10.244.1.9", [Container(name: "first", image: "nginx"), loser])
        #expect(ListenerModel.listeners(of: bothRunning).listeners.map(\.port) == [80], "the loser exits: 9090 is not held either")
    }

    @Test("what each server answers to GET /")
    func bodyMarkers() {
        #expect(ServerProgram.nginx.bodyMarker(hostname: "x") == "Welcome to nginx!")
        #expect(ServerProgram.httpd.bodyMarker(hostname: "x") == "It works!")
        #expect(ServerProgram.echo.bodyMarker(hostname: "shared") == "\"hostname\":\"shared\"")
    }

    @Test("a pod's hostname as the agent sets it")
    func hostname() throws {
        var pod = Lab.a
        pod.metadata.name = String(repeating: "x", count: 62) + "-y"
        let endpoint = try #require(Lab.snapshot([pod]).activePods.first)
        #expect(endpoint.hostname == String(repeating: "x", count: 62), "cut to 63 bytes, without a trailing '-'")
        pod.spec.hostname = "custom"
        #expect(Lab.snapshot([pod]).activePods.first?.hostname == "custom")
    }
}
