import Testing
@testable import PodNet

/// The kubelet's probe decisions: thresholds in a row, initial results, what gates what, and
/// when a container is killed.
@Suite("Probe worker")
struct ProbeWorkerTests {
    static func container(liveness: ContainerProbe? = nil, readiness: ContainerProbe? = nil, startup: ContainerProbe? = nil) -> Container {
        Container(name: "app", image: "nginx", livenessProbe: liveness, readinessProbe: readiness, startupProbe: startup)
    }

    static let tcp = ContainerProbe(tcpSocket: TCPSocketAction(port: .number(80)))

    @Test("without probes a running container is started and ready")
    func noProbes() {
        let probes = ContainerProbes(Self.container())
        #expect(probes.started && probes.ready)
        #expect(!probes.isDue(.readiness, secondsSinceStart: 100))
    }

    @Test("a readiness probe keeps the container unready until it succeeds, successThreshold in a row")
    func readiness() {
        var probe = Self.tcp
        probe.successThreshold = 2
        var probes = ContainerProbes(Self.container(readiness: probe))
        #expect(probes.started && !probes.ready)
        #expect(probes.record(.readiness, .success) == .none)
        #expect(probes.record(.readiness, .failure) == .none)
        #expect(probes.record(.readiness, .success) == .none)
        #expect(probes.record(.readiness, .success) == .status(started: true, ready: true))
        #expect(probes.record(.readiness, .success) == .none)
        // Failures: three in a row (the default) make it unready again, never kill it.
        #expect(probes.record(.readiness, .failure) == .none)
        #expect(probes.record(.readiness, .failure) == .none)
        #expect(probes.record(.readiness, .failure) == .status(started: true, ready: false))
        #expect(probes.record(.readiness, .failure) == .none)
    }

    @Test("liveness kills after failureThreshold failures in a row; a success in between starts the count again")
    func liveness() {
        var probe = Self.tcp
        probe.failureThreshold = 2
        var probes = ContainerProbes(Self.container(liveness: probe))
        #expect(probes.ready)
        #expect(probes.record(.liveness, .failure) == .none)
        #expect(probes.record(.liveness, .success) == .none)
        #expect(probes.record(.liveness, .failure) == .none)
        #expect(probes.record(.liveness, .failure) == .kill(message: "Container app failed liveness probe"))
        // On hold until the container runs again.
        #expect(!probes.isDue(.liveness, secondsSinceStart: 100))
        probes.containerStarted()
        #expect(probes.isDue(.liveness, secondsSinceStart: 100))
        #expect(probes.record(.liveness, .failure) == .none)
    }

    @Test("the startup probe gates liveness and readiness until it succeeds, and kills when it fails")
    func startup() {
        var startup = Self.tcp
        startup.failureThreshold = 3
        var probes = ContainerProbes(Self.container(liveness: Self.tcp, readiness: Self.tcp, startup: startup))
        #expect(!probes.started && !probes.ready)
        #expect(probes.isDue(.startup, secondsSinceStart: 0))
        #expect(!probes.isDue(.liveness, secondsSinceStart: 0))
        #expect(!probes.isDue(.readiness, secondsSinceStart: 0))
        #expect(probes.record(.startup, .failure) == .none)
        #expect(probes.record(.startup, .success) == .status(started: true, ready: false))
        #expect(!probes.isDue(.startup, secondsSinceStart: 5))
        #expect(probes.isDue(.liveness, secondsSinceStart: 5))
        #expect(probes.isDue(.readiness, secondsSinceStart: 5))
        #expect(probes.record(.readiness, .success) == .status(started: true, ready: true))

        var failing = ContainerProbes(Self.container(readiness: Self.tcp, startup: startup))
        #expect(failing.record(.startup, .failure) == .none)
        #expect(failing.record(.startup, .failure) == .none)
        #expect(failing.record(.startup, .failure) == .kill(message: "Container app failed startup probe"))
        #expect(!failing.isDue(.startup, secondsSinceStart: 100))
        // A new run starts unstarted and unready again.
        failing.containerStarted()
        #expect(!failing.started && !failing.ready && failing.isDue(.startup, secondsSinceStart: 0))
    }

    @Test("a restart resets a ready container to unready")
    func restartResets() {
        var probes = ContainerProbes(Self.container(readiness: Self.tcp))
        #expect(probes.record(.readiness, .success) == .status(started: true, ready: true))
        probes.containerStarted()
        #expect(!probes.ready)
    }

    @Test("nothing is probed before initialDelaySeconds", arguments: [(0, 0, true), (5, 4, false), (5, 5, true)])
    func initialDelay(delay: Int32, seconds: Int64, due: Bool) {
        var probe = Self.tcp
        probe.initialDelaySeconds = delay
        #expect(ContainerProbes(Self.container(readiness: probe)).isDue(.readiness, secondsSinceStart: seconds) == due)
    }

    @Test("the kubelet's event messages")
    func messages() {
        #expect(ContainerProbes.failureMessage(.liveness, output: "HTTP probe failed with statuscode: 500")
                == "Liveness probe failed: HTTP probe failed with statuscode: 500")
        #expect(ContainerProbes.killingMessage("Container app failed liveness probe", restarts: true)
                == "Container app failed liveness probe, will be restarted")
        #expect(ContainerProbes.killingMessage("Container app failed liveness probe", restarts: false) == "Container app failed liveness probe")
    }
}
