/// A built-in server program, and what it answers to `GET /`.
public enum ServerProgram: String, Hashable, Sendable {
    /// `nginx`: "Welcome to nginx!".
    case nginx
    /// `httpd`: "It works!".
    case httpd
    /// `echo-server` (and `probe serve`): JSON naming the pod's hostname; UDP datagrams come back.
    case echo

    /// The port it listens on when neither `--port` nor `$PORT` says otherwise.
    public var defaultPort: UInt16 {
        switch self {
        case .nginx, .httpd: 80
        case .echo: 8080
        }
    }

    /// The transports it listens on.
    public var transports: [ImagePort.Transport] {
        switch self {
        case .nginx, .httpd: [.tcp]
        case .echo: [.tcp, .udp]
        }
    }

    /// True when its answer to `GET /` names the pod that sent it (`"hostname":"web-1"`), so a
    /// client can tell which endpoint of a Service answered.
    public var namesItsPod: Bool { self == .echo }

    /// The hostname an answer to `GET /` names, for servers that name their pod.
    public static func answeringHostname(_ body: String) -> String? {
        let marker = "\"hostname\":\""
        guard let start = body.firstRange(of: marker)?.upperBound, let end = body[start...].firstIndex(of: "\"") else { return nil }
        return String(body[start..<end])
    }

    /// Text in its answer to `GET /` that only this server, in the pod named by `hostname`, sends.
    public func bodyMarker(hostname: String) -> String {
        switch self {
        case .nginx: "Welcome to nginx!"
        case .httpd: "It works!"
        case .echo: "\"hostname\":\"\(hostname)\""
        }
    }
}

/// A port a container listens on.
public struct Listener: Hashable, Sendable, CustomStringConvertible {
    /// The container's name.
    public var container: String
    public var port: UInt16
    public var transport: ImagePort.Transport
    /// The built-in server behind the port, when it is one (so HTTP answers can be checked).
    public var server: ServerProgram?

    public init(container: String, port: UInt16, transport: ImagePort.Transport, server: ServerProgram? = nil) {
        self.container = container
        self.port = port
        self.transport = transport
        self.server = server
    }

    /// `80/TCP (web)`.
    public var description: String { "\(port)/\(transport.rawValue) (\(container))" }
}

/// Two or more containers of one pod that want the same port: the kernel gives it to one (the
/// owner, running); the others cannot bind it and exit (they are restarting or waiting).
public struct PortConflict: Hashable, Sendable {
    public var port: UInt16
    public var transport: ImagePort.Transport
    public var owner: String
    public var others: [String]
}

/// What listens in one pod.
public struct PodListeners: Hashable, Sendable {
    /// Every port that some container holds, one owner each, sorted by port.
    public var listeners: [Listener]
    /// Ports that several containers want: the owner runs, the others cannot have the port.
    public var conflicts: [PortConflict]

    /// The listener of `port`/`transport`, if any.
    public func listener(port: UInt16, transport: ImagePort.Transport) -> Listener? {
        listeners.first { $0.port == port && $0.transport == transport }
    }

    /// The TCP listeners.
    public var tcp: [Listener] { listeners.filter { $0.transport == .tcp } }
}

/// Which ports a pod's containers listen on, worked out from their specs and states:
///
/// - a built-in server image run as the image means (nginx, httpd, `podlab/echo`,
///   `podlab/probe serve`) listens on `--port N` from its arguments, else `$PORT` (the
///   container's `env` over the image's), else its default port: the rule the servers of
///   `podlab-tools` follow;
/// - every `containerPort` a container declares counts too (that is what it promises);
/// - only running containers listen. Of two running containers that want one port, the one
///   that started first holds it (the other got EADDRINUSE and is on its way out, so it
///   listens on nothing at all).
public enum ListenerModel {
    /// The server program a container runs, with the port it will listen on; nil when the
    /// container runs something else (a shell, curl, a host program, an unknown image).
    public static func server(of container: Container) -> (program: ServerProgram, port: UInt16)? {
        guard let resolved = try? ImageCatalog.resolve(container.image) else { return nil }
        let image = resolved.image
        var environment = image.environment
        for variable in container.env { environment[variable.name] = variable.value }
        guard let command = try? ImageCatalog.command(for: image, command: container.command, args: container.args,
                                                      environment: environment),
              case var .builtin(tool) = command.executable else { return nil }
        var argv = command.argv
        // The images' entrypoint scripts run the rest of argv (`exec "$@"`).
        while tool == "docker-entrypoint.sh" || tool == "entrypoint.sh" {
            argv.removeFirst()
            guard let next = argv.first, case let .builtin(program) = ImageCatalog.executable(for: next, in: image) else { return nil }
            tool = program
        }
        var arguments = Array(argv.dropFirst())
        let program: ServerProgram
        switch tool {
        case "nginx": program = .nginx
        case "httpd", "httpd-foreground": program = .httpd
        case "echo-server": program = .echo
        case "probe":
            // `probe` serves only as `probe` or `probe serve ...`; `probe tcp HOST PORT` is a client.
            guard arguments.isEmpty || arguments.first == "serve" else { return nil }
            arguments = Array(arguments.dropFirst())
            program = .echo
        default:
            return nil
        }
        if let port = portArgument(arguments) { return (program, port) }
        if let text = environment["PORT"], !text.isEmpty {
            guard let port = UInt16(text), port > 0 else { return nil }  // the server exits: invalid $PORT
            return (program, port)
        }
        return (program, program.defaultPort)
    }

    /// `--port N` or `--port=N`, the last one winning, as the servers read it.
    static func portArgument(_ arguments: [String]) -> UInt16? {
        var port: UInt16?
        var index = 0
        while index < arguments.count {
            if arguments[index] == "--port", index + 1 < arguments.count {
                port = UInt16(arguments[index + 1])
                index += 2
            } else if arguments[index].hasPrefix("--port=") {
                port = UInt16(arguments[index].dropFirst("--port=".count))
                index += 1
            } else {
                index += 1
            }
        }
        return port.flatMap { $0 > 0 ? $0 : nil }
    }

    /// The ports a container listens on while it runs: its server's, and its declared ones.
    public static func wanted(by container: Container) -> [Listener] {
        var result: [Listener] = []
        func add(_ listener: Listener) {
            if let index = result.firstIndex(where: { $0.port == listener.port && $0.transport == listener.transport }) {
                if result[index].server == nil { result[index].server = listener.server }
            } else {
                result.append(listener)
            }
        }
        if let (program, port) = server(of: container) {
            for transport in program.transports { add(Listener(container: container.name, port: port, transport: transport, server: program)) }
        }
        for declared in container.ports {
            guard (1...65535).contains(declared.containerPort) else { continue }
            let transport: ImagePort.Transport
            switch declared.effectiveProtocol {
            case .tcp: transport = .tcp
            case .udp: transport = .udp
            default: continue  // SCTP: podlab has no probe for it
            }
            add(Listener(container: container.name, port: UInt16(declared.containerPort), transport: transport))
        }
        return result.sorted { ($0.port, $0.transport.rawValue) < ($1.port, $1.transport.rawValue) }
    }

    /// What listens in `pod` now: running containers only (init containers and sidecars
    /// included while they run), one owner per port.
    public static func listeners(of pod: Pod) -> PodListeners {
        // Running containers, first started first (spec order, init containers first, breaks ties).
        var running: [(order: Int, started: Timestamp?, container: Container)] = []
        for (order, container) in pod.spec.allContainers.enumerated() {
            guard let state = pod.status[container: container.name]?.state.running else { continue }
            running.append((order, state.startedAt, container))
        }
        running.sort { a, b in
            switch (a.started, b.started) {
            case let (x?, y?) where x != y: x < y
            case (nil, _?): false
            case (_?, nil): true
            default: a.order < b.order
            }
        }
        var owners: [String: Listener] = [:]
        var conflicts: [String: PortConflict] = [:]
        for entry in running {
            let ports = wanted(by: entry.container)
            let taken = ports.filter { owners["\($0.port)/\($0.transport.rawValue)"] != nil }
            guard taken.isEmpty else {
                // It could not bind one of its ports and exits, so it holds none of the others either.
                for listener in taken {
                    let key = "\(listener.port)/\(listener.transport.rawValue)"
                    conflicts[key, default: PortConflict(port: listener.port, transport: listener.transport,
                                                         owner: owners[key]!.container, others: [])].others.append(entry.container.name)
                }
                continue
            }
            for listener in ports { owners["\(listener.port)/\(listener.transport.rawValue)"] = listener }
        }
        // Containers that are not running but want a port another holds: they lost it (or will).
        // A regular init container that is not running is done with its ports (or has not
        // started yet); a sidecar that is not running would run again.
        let restarting = pod.spec.initContainers.filter(\.isSidecar) + pod.spec.containers
        for container in restarting where !running.contains(where: { $0.container.name == container.name }) {
            for listener in wanted(by: container) {
                let key = "\(listener.port)/\(listener.transport.rawValue)"
                guard let owner = owners[key] else { continue }
                conflicts[key, default: PortConflict(port: listener.port, transport: listener.transport, owner: owner.container, others: [])]
                    .others.append(container.name)
            }
        }
        let listeners = owners.values.sorted { ($0.port, $0.transport.rawValue) < ($1.port, $1.transport.rawValue) }
        let sortedConflicts = conflicts.values.sorted { ($0.port, $0.transport.rawValue) < ($1.port, $1.transport.rawValue) }
        return PodListeners(listeners: listeners, conflicts: sortedConflicts)
    }
}
