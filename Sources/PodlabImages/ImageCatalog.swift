/// A port an image declares (Docker's `EXPOSE`), e.g. `80/TCP`.
public struct ImagePort: Hashable, Sendable, CustomStringConvertible {
    /// The transport protocol, spelled as Kubernetes spells it.
    public enum Transport: String, Hashable, Sendable {
        case tcp = "TCP"
        case udp = "UDP"
    }

    /// The port number.
    public var port: UInt16
    /// TCP or UDP.
    public var transport: Transport

    /// `ImagePort(8080, .udp)`; TCP unless told otherwise.
    public init(_ port: UInt16, _ transport: Transport = .tcp) {
        self.port = port
        self.transport = transport
    }

    public var description: String { "\(port)/\(transport.rawValue)" }
}

/// One image of the built-in catalog: what runs when a container uses it.
///
/// Every program of a catalog image is a tool of the `podlab-tools` multi-call executable;
/// `tools` says which of them the image "contains", and `files` where they sit inside it,
/// so that `command: ["/bin/sh", "-c", …]` finds the built-in shell, as it would in the image.
public struct CatalogImage: Hashable, Sendable {
    /// The short name the catalog lists (`nginx`, `curlimages/curl`).
    public var name: String
    /// The normalised repository (`docker.io/library/nginx`).
    public var repository: String
    /// The image's ENTRYPOINT (Kubernetes: what `command` replaces).
    public var entrypoint: [String]
    /// The image's CMD (Kubernetes: what `args` replaces).
    public var cmd: [String]
    /// Ports the image declares.
    public var ports: [ImagePort]
    /// Environment variables the image sets; the container's `env` overrides them.
    public var environment: [String: String]
    /// The built-in tools present in the image, by program name.
    public var tools: Set<String>
    /// Absolute paths inside the image that are built-in tools: `/bin/sh` → `sh`.
    public var files: [String: String]
    /// One line saying what the image is.
    public var summary: String

    /// A fake but stable image ID, the way the kubelet reports one:
    /// `docker.io/library/nginx@sha256:<hex>`, the hex being the SHA-256 of the repository name.
    public var imageID: String { "\(repository)@sha256:\(SHA256.hex(repository))" }
}

/// How a container's process starts: which program, with which argv.
public struct ImageCommand: Hashable, Sendable {
    /// The program that runs.
    public enum Executable: Hashable, Sendable {
        /// A tool of the `podlab-tools` executable; start it with `argv[0]` as argv[0] (the
        /// executable dispatches on its basename) or pass the tool name as first argument.
        case builtin(tool: String)
        /// A program of the host: an absolute path, or a name looked up in the container's `PATH`.
        case host(String)
    }

    /// What runs: a built-in tool or a host program.
    public var executable: Executable
    /// The full argument vector as Kubernetes composes it (entrypoint/command, then cmd/args).
    public var argv: [String]

    /// Everything after argv[0].
    public var arguments: [String] { Array(argv.dropFirst()) }
}

/// The result of looking a container's image up in the catalog.
public struct ResolvedImage: Hashable, Sendable {
    /// The reference as written, parsed and normalised.
    public var reference: ImageReference
    /// The catalog entry it names.
    public var image: CatalogImage
    /// The image ID to report: the catalog's, or the digest the reference pinned.
    public var imageID: String {
        if let digest = reference.digest { return "\(image.repository)@\(digest)" }
        return image.imageID
    }
}

/// The catalog of built-in images served by `podlab-tools`.
public enum ImageCatalog {
    /// The shell basics that the Debian-based server images carry.
    static let basics: Set<String> = ["sh", "sleep", "cat", "echo", "env", "true", "false", "hostname"]

    /// BusyBox applets that `podlab-tools` implements (also callable as `busybox APPLET`).
    public static let busyboxApplets: Set<String> = [
        "sh", "sleep", "wget", "nc", "hostname", "ifconfig", "ip", "cat", "echo", "env", "true", "false",
    ]

    /// Every tool name of the `podlab-tools` executable.
    public static let builtinTools: Set<String> = busyboxApplets.union([
        "busybox", "nginx", "docker-entrypoint.sh", "httpd", "httpd-foreground", "curl", "entrypoint.sh", "echo-server", "probe",
    ])

    static let standardPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

    static func binFiles(_ tools: Set<String>) -> [String: String] {
        var files: [String: String] = [:]
        for tool in tools { files["/bin/\(tool)"] = tool; files["/usr/bin/\(tool)"] = tool }
        files["/usr/bin/env"] = "env"
        return files
    }

    /// All images, by their catalog name.
    public static let images: [String: CatalogImage] = {
        let busyboxTools = busyboxApplets.union(["busybox"])
        let curlTools = busyboxTools.union(["curl", "entrypoint.sh"])
        let list = [
            CatalogImage(
                name: "nginx", repository: "docker.io/library/nginx",
                entrypoint: ["/docker-entrypoint.sh"], cmd: ["nginx", "-g", "daemon off;"],
                ports: [ImagePort(80)],
                environment: ["PATH": standardPath, "NGINX_VERSION": "1.27.0", "PKG_RELEASE": "2~bookworm"],
                tools: basics.union(["nginx", "docker-entrypoint.sh", "curl"]),
                files: binFiles(basics.union(["curl"])).merging(["/docker-entrypoint.sh": "docker-entrypoint.sh", "/usr/sbin/nginx": "nginx"]) { $1 },
                summary: "nginx 1.27.0: HTTP on :80 serving the \"Welcome to nginx!\" page"),
            CatalogImage(
                name: "httpd", repository: "docker.io/library/httpd",
                entrypoint: [], cmd: ["httpd-foreground"],
                ports: [ImagePort(80)],
                environment: ["PATH": "/usr/local/apache2/bin:" + standardPath, "HTTPD_PREFIX": "/usr/local/apache2", "HTTPD_VERSION": "2.4.62"],
                tools: basics.union(["httpd", "httpd-foreground"]),
                files: binFiles(basics).merging(["/usr/local/bin/httpd-foreground": "httpd-foreground", "/usr/local/apache2/bin/httpd": "httpd"]) { $1 },
                summary: "Apache httpd 2.4.62: HTTP on :80 serving \"It works!\""),
            CatalogImage(
                name: "busybox", repository: "docker.io/library/busybox",
                entrypoint: [], cmd: ["sh"], ports: [],
                environment: ["PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
                tools: busyboxTools, files: binFiles(busyboxTools),
                summary: "BusyBox: sh, sleep, wget, nc, hostname, ifconfig, ip, cat, echo, env"),
            CatalogImage(
                name: "curlimages/curl", repository: "docker.io/curlimages/curl",
                entrypoint: ["/entrypoint.sh"], cmd: ["curl"], ports: [],
                environment: ["PATH": standardPath, "CURL_VERSION": "8.9.1"],
                tools: curlTools, files: binFiles(curlTools).merging(["/entrypoint.sh": "entrypoint.sh"]) { $1 },
                summary: "curl 8.9.1 (http only) with BusyBox applets"),
            CatalogImage(
                name: "curl", repository: "docker.io/library/curl",
                entrypoint: ["/entrypoint.sh"], cmd: ["curl"], ports: [],
                environment: ["PATH": standardPath, "CURL_VERSION": "8.9.1"],
                tools: curlTools, files: binFiles(curlTools).merging(["/entrypoint.sh": "entrypoint.sh"]) { $1 },
                summary: "curl 8.9.1 (http only) with BusyBox applets"),
            CatalogImage(
                name: "podlab/echo", repository: "docker.io/podlab/echo",
                entrypoint: ["echo-server"], cmd: [],
                ports: [ImagePort(8080), ImagePort(8080, .udp)],
                environment: ["PATH": standardPath, "PORT": "8080"],
                tools: basics.union(["echo-server"]),
                files: binFiles(basics).merging(["/usr/local/bin/echo-server": "echo-server"]) { $1 },
                summary: "TCP/UDP/HTTP echo on $PORT (8080): HTTP answers with JSON about the request"),
            CatalogImage(
                name: "podlab/probe", repository: "docker.io/podlab/probe",
                entrypoint: ["probe"], cmd: ["serve"],
                ports: [ImagePort(8080), ImagePort(8080, .udp)],
                environment: ["PATH": standardPath, "PORT": "8080"],
                tools: curlTools.union(["probe"]),
                files: binFiles(curlTools).merging(["/usr/local/bin/probe": "probe"]) { $1 },
                summary: "connectivity probe: echo on $PORT (8080); `probe tcp|udp|http HOST PORT` checks a target"),
        ]
        return Dictionary(uniqueKeysWithValues: list.map { ($0.name, $0) })
    }()

    /// The catalog names, sorted: what the "not found" message lists.
    public static var knownNames: [String] { images.keys.sorted() }

    /// Looks an image reference up. Any tag or digest is accepted: the catalog holds one
    /// version of each image.
    public static func resolve(_ reference: String) throws(ImageError) -> ResolvedImage {
        let parsed = try ImageReference(parsing: reference)
        guard let image = images.values.first(where: { $0.repository == parsed.name }) else {
            throw .notFound(reference, known: knownNames)
        }
        return ResolvedImage(reference: parsed, image: image)
    }

    /// The process a container runs, with Kubernetes' rules for `command` and `args`:
    /// `command` replaces the image's ENTRYPOINT and drops its CMD; `args` replaces the CMD.
    /// An empty list counts as not given, as in Kubernetes.
    ///
    /// `$(VAR)` in the container's `command` and `args` is replaced from `environment` (the
    /// container's variables), `$$` stands for a literal `$`, as the kubelet does.
    ///
    /// argv[0] names a built-in when it is one of the image's tools, or an absolute path
    /// the image holds (`/bin/sh`); any other absolute path or name is a host program.
    public static func command(for image: CatalogImage, command: [String]?, args: [String]?,
                               environment: [String: String] = [:]) throws(ImageError) -> ImageCommand {
        let command = command.flatMap { $0.isEmpty ? nil : $0.map { expandReferences($0, environment) } }
        let args = args.flatMap { $0.isEmpty ? nil : $0.map { expandReferences($0, environment) } }
        let argv: [String]
        if let command {
            argv = command + (args ?? [])
        } else {
            argv = image.entrypoint + (args ?? image.cmd)
        }
        guard let first = argv.first, !first.isEmpty else { throw .noCommand(image: image.name) }
        let executable: ImageCommand.Executable
        if first.hasPrefix("/") {
            executable = image.files[first].map { .builtin(tool: $0) } ?? .host(first)
        } else if image.tools.contains(first) {
            executable = .builtin(tool: first)
        } else {
            executable = .host(first)
        }
        return ImageCommand(executable: executable, argv: argv)
    }

    /// Kubernetes' `$(VAR_NAME)` expansion: a defined variable is replaced by its value; an
    /// undefined one, or an unclosed `$(`, stays as written; `$$` is one literal `$`.
    public static func expandReferences(_ input: String, _ environment: [String: String]) -> String {
        var output = ""
        var rest = Substring(input)
        while let dollar = rest.firstIndex(of: "$") {
            output += rest[..<dollar]
            let next = rest.index(after: dollar)
            guard next < rest.endIndex else { output += "$"; rest = rest[next...]; break }
            switch rest[next] {
            case "$":
                output += "$"
                rest = rest[rest.index(after: next)...]
            case "(":
                let nameStart = rest.index(after: next)
                guard let close = rest[nameStart...].firstIndex(of: ")") else {
                    output += rest[dollar...]
                    rest = rest[rest.endIndex...]
                    continue
                }
                let name = String(rest[nameStart..<close])
                output += environment[name] ?? "$(\(name))"
                rest = rest[rest.index(after: close)...]
            default:
                output += "$"
                rest = rest[next...]
            }
        }
        return output + rest
    }
}
