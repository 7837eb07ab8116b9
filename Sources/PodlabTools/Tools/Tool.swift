#if canImport(Glibc)
import Glibc
#endif

/// What a tool runs with: its name as invoked and its arguments. Tools write to the
/// process's standard output and error through `stdout`/`stderr`.
struct ToolContext: Sendable {
    /// The tool name (`curl`), used in messages the way argv[0] is.
    var name: String
    /// The arguments after the tool name.
    var arguments: [String]
    var stdout = OutputStream.standardOutput
    var stderr = OutputStream.standardError

    /// An environment variable of the process.
    func environment(_ name: String) -> String? {
        getenv(name).map { String(cString: $0) }
    }
}

/// A tool's entry point: returns the process exit code.
typealias ToolMain = @Sendable (ToolContext) -> Int32

/// The tools of the `podlab-tools` multi-call executable and its dispatcher: the images' own
/// programs (servers, curl, entrypoint scripts). Shells and small utilities are BusyBox's.
public enum PodlabTools {
    /// Every tool, by the name it is invoked as (first argument or argv[0] basename).
    static let tools: [String: ToolMain] = [
        "nginx": Nginx.main,
        "docker-entrypoint.sh": Nginx.dockerEntrypoint,
        "httpd": Httpd.main,
        "httpd-foreground": Httpd.foreground,
        "curl": Curl.main,
        "entrypoint.sh": Curl.imageEntrypoint,
        "echo-server": EchoServer.main,
        "probe": Probe.main,
        "podlab-dns": DNSServer.main,
        "pause": Pause.main,
    ]

    /// The names of all tools, sorted.
    public static var toolNames: [String] { tools.keys.sorted() }

    /// The executable's entry point. The tool is argv[0]'s basename when that names one (the
    /// binary was started through a symlink or with argv[0] set to the tool), otherwise the
    /// first argument. Returns the exit code.
    public static func main(_ argv: [String]) -> Int32 {
        prepareProcessSignals()
        let invoked = argv.first.map(baseName) ?? "podlab-tools"
        if tools[invoked] != nil {
            return run(tool: invoked, arguments: Array(argv.dropFirst()))
        }
        guard argv.count > 1 else {
            usage(to: .standardError)
            return 2
        }
        switch argv[1] {
        case "-h", "--help", "help":
            usage(to: .standardOutput)
            return 0
        case "--list":
            OutputStream.standardOutput.write(toolNames.map { $0 + "\n" }.joined())
            return 0
        default:
            let tool = baseName(argv[1])
            guard tools[tool] != nil else {
                OutputStream.standardError.line("podlab-tools: unknown tool \"\(argv[1])\" (known: \(toolNames.joined(separator: ", ")))")
                return 127
            }
            return run(tool: tool, arguments: Array(argv.dropFirst(2)))
        }
    }

    /// Runs one tool in this process.
    static func run(tool: String, arguments: [String]) -> Int32 {
        guard let main = tools[tool] else { return 127 }
        return main(ToolContext(name: tool, arguments: arguments))
    }

    private static func usage(to stream: OutputStream) {
        stream.write("""
        Usage: podlab-tools TOOL [ARGUMENTS...]
           or: TOOL [ARGUMENTS...]   (through a symlink named like the tool)

        The programs of podlab's built-in container images.
        Tools: \(toolNames.joined(separator: ", "))

        """)
    }
}

/// The last path component: `/usr/bin/curl` → `curl`.
func baseName(_ path: String) -> String {
    path.split(separator: "/").last.map(String.init) ?? path
}
