import Foundation
import KernelTestSupport
import Netns
import PodlabImages
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Where the built `podlab-tools` executable is: `$PODLAB_TOOLS`, or next to the test
/// bundle in the build directory (`.build/<triple>/debug/podlab-tools`).
enum ToolsBinary {
    static func path() throws -> String {
        try BuiltExecutable.path("podlab-tools", environmentOverride: "PODLAB_TOOLS")
    }
}

/// How a short-lived tool ended and what it printed.
struct ToolResult {
    var status: TerminationStatus
    var stdout: String
    var stderr: String
}

/// A server process started in a lab namespace.
final class ToolsServer: @unchecked Sendable {
    let child: ChildProcess
    let stdoutPath: String
    let stderrPath: String
    let arguments: [String]
    private(set) var status: TerminationStatus?

    init(child: ChildProcess, stdoutPath: String, stderrPath: String, arguments: [String]) {
        self.child = child
        self.stdoutPath = stdoutPath
        self.stderrPath = stderrPath
        self.arguments = arguments
    }

    var stdout: String { (try? String(contentsOfFile: stdoutPath, encoding: .utf8)) ?? "" }
    var stderr: String { (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? "" }

    /// Reaps the process if it ended.
    func poll() -> TerminationStatus? {
        if status == nil { status = try? child.poll() }
        return status
    }

    /// Waits up to 30 s for the process to end by itself; nil if it did not.
    func waitForExit() -> TerminationStatus? {
        for _ in 0..<3000 {
            if let status = poll() { return status }
            usleep(10_000)
        }
        return nil
    }

    /// SIGTERM, then SIGKILL if it is still there after a few seconds; returns how it ended.
    @discardableResult
    func stop(signal: Int32 = SIGTERM) -> TerminationStatus? {
        if let status { return status }
        try? child.signal(signal)
        for _ in 0..<500 {
            if let status = poll() { return status }
            usleep(10_000)
        }
        try? child.signal(SIGKILL)
        status = try? child.wait()
        return status
    }
}

/// One test's private network namespace (lo up, optionally an `eth0` with an address), its
/// processes and log files. Everything is removed on every path.
final class ToolsLab: @unchecked Sendable {
    let namespace: String
    let tools: String
    let directory: URL
    private var servers: [ToolsServer] = []
    private var utsFiles: [String] = []

    /// The address `eth0` gets when the lab is made with `ethernet: true`.
    static let podIP = "10.250.7.2"

    private init(namespace: String, tools: String, directory: URL) {
        self.namespace = namespace
        self.tools = tools
        self.directory = directory
    }

    static func with<T>(ethernet: Bool = false, _ body: (ToolsLab) throws -> T) throws -> T {
        let tools = try ToolsBinary.path()
        let name = KernelTest.uniqueName("pltt")
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("podlab-tools-\(name)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let lab = ToolsLab(namespace: name, tools: tools, directory: directory)
        defer { lab.tearDown() }
        _ = try NetworkNamespace.create(name)
        try Command.check("ip", ["-n", name, "link", "set", "lo", "up"])
        if ethernet {
            // Both ends of the pair stay in the lab namespace: eth0 gets an address, nothing leaves.
            try Command.check("ip", ["-n", name, "link", "add", "eth0", "type", "veth", "peer", "name", "peer0"])
            try Command.check("ip", ["-n", name, "addr", "add", "\(podIP)/24", "dev", "eth0"])
            try Command.check("ip", ["-n", name, "link", "set", "eth0", "up"])
            try Command.check("ip", ["-n", name, "link", "set", "peer0", "up"])
        }
        return try body(lab)
    }

    private func tearDown() {
        for server in servers { server.stop(signal: SIGKILL) }
        try? NetworkNamespace.delete(namespace, ignoreMissing: true)
        for file in utsFiles { try? NamespaceFile.remove(at: file) }
        try? FileManager.default.removeItem(at: directory)
    }

    /// A UTS namespace whose hostname is `hostname`, removed with the lab.
    func utsNamespace(hostname: String) throws -> String {
        let path = "\(NamespaceFile.runDirectory)/\(namespace)-uts"
        try NamespaceFile.createUTS(at: path, hostname: hostname)
        utsFiles.append(path)
        return path
    }

    private func file(_ name: String) -> String { directory.appendingPathComponent(name).path }

    private func request(_ arguments: [String], executable: String? = nil, argv0: String?, stdin: StandardIO, stdout: String, stderr: String,
                         environment: [String: String], uts: String?) -> SpawnRequest {
        SpawnRequest(executable: executable ?? tools, arguments: arguments, argv0: argv0,
                     environment: ["PATH": Spawner.defaultPath].merging(environment) { $1 },
                     stdin: stdin, stdout: .file(stdout, append: false), stderr: .file(stderr, append: false),
                     networkNamespace: namespace, utsNamespace: uts)
    }

    /// Starts a long-running tool and waits until `marker` shows in its stdout or stderr.
    func start(_ arguments: [String], readyWhen marker: String, environment: [String: String] = [:]) throws -> ToolsServer {
        let id = UUID().uuidString.prefix(8)
        let out = file("server-\(id).out"), err = file("server-\(id).err")
        let child = try Spawner.spawn(request(arguments, argv0: nil, stdin: .null, stdout: out, stderr: err, environment: environment, uts: nil))
        let server = ToolsServer(child: child, stdoutPath: out, stderrPath: err, arguments: arguments)
        servers.append(server)
        for _ in 0..<1000 {
            if server.stdout.contains(marker) || server.stderr.contains(marker) { return server }
            if let status = server.poll() {
                throw ServerFailed(arguments: arguments, reason: "ended (\(status)) before it was ready: \(server.stderr)")
            }
            usleep(5_000)
        }
        throw ServerFailed(arguments: arguments, reason: "never printed \"\(marker)\": \(server.stderr)")
    }

    struct ServerFailed: Error, CustomStringConvertible {
        var arguments: [String]
        var reason: String
        var description: String { "podlab-tools \(arguments.joined(separator: " ")) \(reason)" }
    }

    /// Starts a tool without waiting for anything; `ToolsServer.stop` or `waitForExit` ends it.
    func launch(_ arguments: [String]) throws -> ToolsServer {
        let id = UUID().uuidString.prefix(8)
        let out = file("launch-\(id).out"), err = file("launch-\(id).err")
        let child = try Spawner.spawn(request(arguments, argv0: nil, stdin: .null, stdout: out, stderr: err, environment: [:], uts: nil))
        let server = ToolsServer(child: child, stdoutPath: out, stderrPath: err, arguments: arguments)
        servers.append(server)
        return server
    }

    /// Runs a BusyBox applet (`["nc", "127.0.0.1", "80"]`) to completion, the way a container
    /// runs one: `/bin/busybox` with the applet as argv[0].
    func busybox(_ argv: [String], stdin: String? = nil, environment: [String: String] = [:], uts: String? = nil) throws -> ToolResult {
        try run(Array(argv.dropFirst()), stdin: stdin, executable: ImageCatalog.busyboxPath, argv0: argv[0], environment: environment, uts: uts)
    }

    /// Runs a short-lived tool (or `executable`) to completion (killed after 30 s, which fails the test).
    func run(_ arguments: [String], stdin: String? = nil, executable: String? = nil, argv0: String? = nil, environment: [String: String] = [:],
             uts: String? = nil) throws -> ToolResult {
        let id = UUID().uuidString.prefix(8)
        let out = file("run-\(id).out"), err = file("run-\(id).err")
        var input = StandardIO.null
        if let stdin {
            let path = file("run-\(id).in")
            try stdin.write(toFile: path, atomically: false, encoding: .utf8)
            input = .file(path, append: false)
        }
        let child = try Spawner.spawn(request(arguments, executable: executable, argv0: argv0, stdin: input, stdout: out, stderr: err,
                                              environment: environment, uts: uts))
        var status: TerminationStatus?
        for _ in 0..<3000 {
            status = try child.poll()
            if status != nil { break }
            usleep(10_000)
        }
        if status == nil {
            try? child.signal(SIGKILL)
            _ = try? child.wait()
            Issue.record("\(argv0 ?? "podlab-tools") \(arguments.joined(separator: " ")) did not finish within 30 s")
            status = .signaled(SIGKILL)
        }
        return ToolResult(status: status!,
                             stdout: (try? String(contentsOfFile: out, encoding: .utf8)) ?? "",
                             stderr: (try? String(contentsOfFile: err, encoding: .utf8)) ?? "")
    }

    /// A TCP socket made inside the lab's namespace, and 127.0.0.1:`port` as its address.
    private func loopbackSocket(port: UInt16) throws -> (fd: Int32, address: sockaddr_in) {
        let fd = try NetworkNamespace.open(namespace).perform { () -> Int32 in
            socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        return (fd, address)
    }

    /// A TCP connection to 127.0.0.1:`port` from inside the lab's namespace (blocking connect);
    /// the caller closes it.
    func connectToLoopback(port: UInt16) throws -> Int32 {
        var (fd, address) = try loopbackSocket(port: port)
        let rc = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard rc == 0 else {
            let code = errno
            close(fd)
            throw KernelError(operation: "connect", object: "127.0.0.1:\(port)", namespace: namespace, errno: Errno(code))
        }
        return fd
    }

    /// A TCP socket listening on 127.0.0.1:`port` inside the lab's namespace that nothing
    /// accepts from unless the test does; the caller closes it.
    func listenOnLoopback(port: UInt16, backlog: Int32) throws -> Int32 {
        var (fd, address) = try loopbackSocket(port: port)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(fd, backlog) == 0 else {
            let code = errno
            close(fd)
            throw KernelError(operation: "bind/listen", object: "127.0.0.1:\(port)", namespace: namespace, errno: Errno(code))
        }
        return fd
    }

    /// Open file descriptors of a process.
    static func openDescriptors(_ pid: Int32) -> Int {
        (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd").count) ?? -1
    }
}

/// A TCP listener inside a lab namespace, served from a test thread with canned replies:
/// for each scripted step it accepts one connection, reads the request head, then answers,
/// closes, or resets. Lets curl meet server behaviour no built-in server has.
final class ScriptedServer: @unchecked Sendable {
    enum Step {
        case reply(String)
        /// Close without answering (curl: empty reply).
        case close
        /// Close with RST (SO_LINGER 0): the client's read fails with ECONNRESET.
        case reset
    }

    private let fd: Int32
    private let lock = NSLock()
    private var received: [String] = []
    private let done = DispatchSemaphore(value: 0)
    private var finished = false

    init(lab: ToolsLab, port: UInt16, steps: [Step]) throws {
        let namespace = try NetworkNamespace.open(lab.namespace)
        fd = try namespace.perform { () -> Int32 in socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0) }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        let bound = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard bound == 0, listen(fd, 8) == 0 else {
            close(fd)
            throw ToolsLab.ServerFailed(arguments: ["scripted :\(port)"], reason: "bind/listen failed: errno \(errno)")
        }
        let listener = fd
        Thread.detachNewThread { [self] in
            for step in steps {
                var poller = pollfd(fd: listener, events: Int16(POLLIN), revents: 0)
                guard poll(&poller, 1, 30_000) > 0 else { break }
                let client = accept(listener, nil, nil)
                guard client >= 0 else { break }
                var timeout = timeval(tv_sec: 10, tv_usec: 0)
                setsockopt(client, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
                var request: [UInt8] = []
                var buffer = [UInt8](repeating: 0, count: 4096)
                while !String(decoding: request, as: UTF8.self).contains("\r\n\r\n") {
                    let n = buffer.withUnsafeMutableBytes { recv(client, $0.baseAddress, $0.count, 0) }
                    if n <= 0 { break }
                    request += buffer[0..<n]
                }
                // A body announced by Content-Length is read too, so the client is not reset.
                let text = String(decoding: request, as: UTF8.self)
                if let line = text.split(separator: "\r\n").first(where: { $0.lowercased().hasPrefix("content-length:") }),
                   let length = Int(line.split(separator: ":")[1].trimmingCharacters(in: .whitespaces)),
                   let headEnd = text.range(of: "\r\n\r\n") {
                    var body = text[headEnd.upperBound...].utf8.count
                    while body < length {
                        let n = buffer.withUnsafeMutableBytes { recv(client, $0.baseAddress, $0.count, 0) }
                        if n <= 0 { break }
                        request += buffer[0..<n]
                        body += n
                    }
                }
                lock.withLock { received.append(String(decoding: request, as: UTF8.self)) }
                switch step {
                case let .reply(text):
                    _ = text.withCString { send(client, $0, strlen($0), Int32(MSG_NOSIGNAL)) }
                case .close:
                    break
                case .reset:
                    var linger = Glibc.linger(l_onoff: 1, l_linger: 0)
                    setsockopt(client, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<Glibc.linger>.size))
                }
                close(client)
            }
            done.signal()
        }
    }

    /// The requests received so far, as text.
    var requests: [String] { lock.withLock { received } }

    /// Waits for the script to finish (up to 30 s), then closes the listener. Idempotent.
    func finish() {
        guard lock.withLock({ () -> Bool in defer { finished = true }; return !finished }) else { return }
        _ = done.wait(timeout: .now() + 30)
        close(fd)
    }
}
