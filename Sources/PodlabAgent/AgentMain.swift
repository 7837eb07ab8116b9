import Foundation
import Hummingbird
import HummingbirdCore
import Logging
import Netns
import ServiceLifecycle
#if canImport(Glibc)
import Glibc
#endif

/// How `podlab agent` was asked to run.
public struct AgentOptions: Sendable {
    public var lab: String
    /// Topology file for a new lab; ignored when the lab's store already holds one.
    public var topologyPath: String?
    public var stateRoot: String?
    /// Base of the container restart and image pull back-offs (Kubernetes: 10 s for both).
    public var restartBackoffSeconds: Double
    /// The runtime of containers of OCI images.
    public var ociRuntime: OCIRuntimeKind
    /// The registries images may be pulled from (`PODLAB_REGISTRIES`).
    public var registries: RegistryScope
    /// How often the volumes the kubelet writes are written again (the kubelet's sync period,
    /// 60 s; `PODLAB_VOLUME_SYNC_SECONDS`, for tests), plus up to half as much again.
    public var volumeSyncSeconds: Double

    public init(lab: String, topologyPath: String? = nil, stateRoot: String? = nil, restartBackoffSeconds: Double = 10,
                ociRuntime: OCIRuntimeKind = .runc, registries: RegistryScope = .all, volumeSyncSeconds: Double = 60) {
        self.lab = lab
        self.topologyPath = topologyPath
        self.stateRoot = stateRoot
        self.restartBackoffSeconds = restartBackoffSeconds
        self.ociRuntime = ociRuntime
        self.registries = registries
        self.volumeSyncSeconds = volumeSyncSeconds
    }
}

/// Why the agent could not start.
public struct AgentStartError: Error, CustomStringConvertible {
    public var description: String
}

/// The agent process: one per lab.
public enum AgentMain {
    /// Runs the agent in the foreground until the lab is deleted or the process is signalled.
    public static func run(_ options: AgentOptions) async throws {
        guard geteuid() == 0 else {
            throw AgentStartError(description: "podlab agent needs root (CAP_NET_ADMIN, CAP_SYS_ADMIN) to create network namespaces")
        }
        let paths = LabPaths(lab: options.lab, stateRoot: options.stateRoot)
        try LabStateModes.makeLabDirectory(paths)
        let lock = try AgentLock(paths: paths)
        defer { lock.release() }

        var logger = Logger(label: "podlab.agent") { RedactingLogHandler(wrapping: StreamLogHandler.standardError(label: $0)) }
        logger.logLevel = ProcessInfo.processInfo.environment["PODLAB_LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? .info

        let closed = LabStateModes.closeOlderState(paths)
        if !closed.isEmpty { logger.notice("closed \(closed.count) state paths an older lab left readable by other users") }
        for directory in [paths.logs, paths.exits, paths.namespaces, paths.pods] {
            try LabStateModes.makePrivateDirectory(directory)
        }
        try LabStateModes.makeImagesDirectory(paths)
        // SQLite gives the -wal and -shm files the store's own mode.
        try LabStateModes.makePrivateFile(paths.database)
        let connections = APIConnectionLimits.forAgent(logger: logger)

        // The agent's nftables transactions (a sidecar's capture rules in a pod start) must not
        // wait for the release of their sockets.
        NetlinkSocket.closesNetfilterSocketsAside.withLock { $0 = true }
        let controller = try Controller(paths: paths, options: options, logger: logger)
        unlink(paths.socket)
        let app = Application(router: APIServer.router(backend: controller),
                              server: .http1(configuration: connections.http1Configuration),
                              configuration: .init(address: .unixDomainSocket(path: paths.socket), serverName: "podlab",
                                                   availableConnectionsDelegate: MaximumAvailableConnections(connections.maximumConnections, logger: logger)),
                              onServerRunning: { _ in chmod(paths.socket, LabStateModes.file) },
                              logger: logger)
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = [.init(service: app), .init(service: WatchCloser(hub: controller.hub))]
        // The mesh's sidecars read Services and EndpointSlices through a socket of their own.
        let mesh = MeshAPIListener.application(backend: controller, paths: paths, token: controller.meshToken, connections: connections, logger: logger)
        services.append(.init(service: SecureListener.NonEssential(base: mesh, logger: logger),
                              successTerminationBehavior: .ignore, failureTerminationBehavior: .ignore))
        // The HTTPS API for kubectl: a lab whose credentials cannot be made, or whose port
        // cannot be bound, still serves podlab.
        do {
            let credentials = try ClusterCredentials.loadOrCreate(paths, lab: options.lab)
            let https = try SecureListener.application(backend: controller, credentials: credentials, connections: connections, logger: logger)
            services.append(.init(service: SecureListener.NonEssential(base: https, logger: logger),
                                  successTerminationBehavior: .ignore, failureTerminationBehavior: .ignore))
            logger.info("HTTPS API on \(credentials.serverURL)")
        } catch {
            logger.error("the HTTPS API is off: \(error)")
        }
        let group = ServiceGroup(configuration: .init(services: services,
                                                      gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        await controller.setShutdown { await group.triggerGracefulShutdown() }
        // The lab is built (or adopted) while the API already answers, so `podlab up` can show progress.
        let startup = Task { await controller.start() }
        try await group.run()
        startup.cancel()
        await controller.stop()
        unlink(paths.socket)
        unlink(paths.meshSocket)
    }
}

/// Ensures one agent per lab: an exclusive `flock` on `agent.pid`, which also holds the pid.
struct AgentLock {
    let fd: Int32
    let paths: LabPaths

    init(paths: LabPaths) throws {
        self.paths = paths
        fd = open(paths.pidFile, O_RDWR | O_CREAT | O_CLOEXEC, LabStateModes.file)
        guard fd >= 0 else { throw KernelError(operation: "open", object: paths.pidFile, errno: .current) }
        fchmod(fd, LabStateModes.file)
        if flock(fd, LOCK_EX | LOCK_NB) != 0 {
            let other = readSmallFile(paths.pidFile).flatMap(AgentPIDFile.parse).map { String($0.pid) } ?? "?"
            close(fd)
            throw AgentStartError(description: "an agent for lab \"\(paths.lab)\" is already running (pid \(other))")
        }
        ftruncate(fd, 0)
        let text = AgentPIDFile.text(ProcessIdentity.of(pid: getpid()) ?? ProcessIdentity(pid: getpid(), startTime: 0))
        _ = text.withCString { write(fd, $0, strlen($0)) }
    }

    func release() {
        ftruncate(fd, 0)
        close(fd)
    }

    /// The pid of the running agent of a lab, or nil when none holds the lock.
    static func runningAgent(paths: LabPaths) -> Int32? {
        let fd = open(paths.pidFile, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        if flock(fd, LOCK_SH | LOCK_NB) == 0 {
            flock(fd, LOCK_UN)
            return nil
        }
        return readSmallFile(paths.pidFile).flatMap(AgentPIDFile.parse)?.pid
    }
}

/// Ends open watch streams when the agent shuts down: the server's graceful shutdown waits
/// for every open request, and a watch never ends by itself.
struct WatchCloser: Service {
    let hub: WatchHub

    func run() async throws {
        try? await gracefulShutdown()
        hub.finishAll()
    }
}

/// `agent.pid`: the agent's pid and its start time (field 22 of /proc/PID/stat), so that a file
/// left by an agent that was killed never names the unrelated process that reuses its pid.
public enum AgentPIDFile {
    public static func text(_ agent: ProcessIdentity) -> String { "\(agent.pid) \(agent.startTime)\n" }

    /// The identity the file names; nil for anything else (empty, garbage, an old file without
    /// a start time, which cannot tell the agent from a process that reused its pid).
    public static func parse(_ text: String) -> ProcessIdentity? {
        let fields = text.split(whereSeparator: \.isWhitespace)
        guard fields.count == 2, let pid = Int32(fields[0]), pid > 0, let start = UInt64(fields[1]) else { return nil }
        return ProcessIdentity(pid: pid, startTime: start)
    }

    /// The agent the file of `paths` names, if that very process still runs.
    public static func liveAgent(_ paths: LabPaths) -> ProcessIdentity? {
        guard let text = readSmallFile(paths.pidFile), let agent = parse(text), agent.isAlive else { return nil }
        return agent
    }
}
