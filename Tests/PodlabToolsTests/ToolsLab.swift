import Foundation
import KernelTestSupport
import Netns
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Where the built `podlab-tools` executable is: `$PODLAB_TOOLS`, or next to the test
/// bundle in the build directory (`.build/<triple>/debug/podlab-tools`).
enum ToolsBinary {
    struct Missing: Error, CustomStringConvertible {
        var searched: [String]
        var description: String {
            "podlab-tools is not built (looked at \(searched.joined(separator: ", "))); run `swift build --build-tests` first, or set PODLAB_TOOLS"
        }
    }

    static func path() throws -> String {
        var candidates: [String] = []
        if let explicit = ProcessInfo.processInfo.environment["PODLAB_TOOLS"] { candidates.append(explicit) }
        let exe = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        var directory = exe.deletingLastPathComponent()
        // The test executable may sit inside an .xctest bundle directory.
        for _ in 0..<4 {
            candidates.append(directory.appendingPathComponent("podlab-tools").path)
            directory = directory.deletingLastPathComponent()
        }
        if let found = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) { return found }
        throw Missing(searched: candidates)
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

    private func request(_ arguments: [String], argv0: String?, stdin: StandardIO, stdout: String, stderr: String,
                         environment: [String: String], uts: String?) -> SpawnRequest {
        SpawnRequest(executable: tools, arguments: arguments, argv0: argv0, environment: ["PATH": Spawner.defaultPath].merging(environment) { $1 },
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

    /// Runs a short-lived tool to completion (killed after 30 s, which fails the test).
    func run(_ arguments: [String], stdin: String? = nil, argv0: String? = nil, environment: [String: String] = [:],
             uts: String? = nil) throws -> ToolResult {
        let id = UUID().uuidString.prefix(8)
        let out = file("run-\(id).out"), err = file("run-\(id).err")
        var input = StandardIO.null
        if let stdin {
            let path = file("run-\(id).in")
            try stdin.write(toFile: path, atomically: false, encoding: .utf8)
            input = .file(path, append: false)
        }
        let child = try Spawner.spawn(request(arguments, argv0: argv0, stdin: input, stdout: out, stderr: err, environment: environment, uts: uts))
        var status: TerminationStatus?
        for _ in 0..<3000 {
            status = try child.poll()
            if status != nil { break }
            usleep(10_000)
        }
        if status == nil {
            try? child.signal(SIGKILL)
            _ = try? child.wait()
            Issue.record("podlab-tools \(arguments.joined(separator: " ")) did not finish within 30 s")
            status = .signaled(SIGKILL)
        }
        return ToolResult(status: status!,
                             stdout: (try? String(contentsOfFile: out, encoding: .utf8)) ?? "",
                             stderr: (try? String(contentsOfFile: err, encoding: .utf8)) ?? "")
    }

    /// Open file descriptors of a process.
    static func openDescriptors(_ pid: Int32) -> Int {
        (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd").count) ?? -1
    }
}
