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
/// An image is made of two kinds of programs. Its own programs (the servers, curl, the
/// entrypoint scripts) are tools of the `podlab-tools` multi-call executable; `programs` says
/// where each sits inside the image. Its shell and small utilities are BusyBox's: every image's
/// `/bin/sh` is BusyBox's `sh`, and every BusyBox applet runs by name (see `ImageCatalog.command`).
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
    /// The image's own programs, by their absolute path inside the image: `/usr/sbin/nginx` →
    /// the `podlab-tools` tool `nginx`.
    public var programs: [String: String]
    /// The image's programs that are executables of their own beside `podlab-tools`
    /// (`ImageCatalog.siblingExecutables`), by their path inside the image.
    public var siblings: [String: String] = [:]
    /// One line saying what the image is.
    public var summary: String

    /// The image's own programs that a name finds through the image's `PATH` (`nginx` →
    /// `nginx`); `/docker-entrypoint.sh` sits outside it, as in the real image.
    public var commands: [String: String] {
        let search = Set((environment["PATH"] ?? "").split(separator: ":").map(String.init))
        var commands: [String: String] = [:]
        for (path, tool) in programs {
            guard let slash = path.lastIndex(of: "/") else { continue }
            let directory = slash == path.startIndex ? "/" : String(path[..<slash])
            if search.contains(directory) { commands[String(path[path.index(after: slash)...])] = tool }
        }
        return commands
    }
}

/// How a container's process starts: which program, with which argv.
public struct ImageCommand: Hashable, Sendable {
    /// The program that runs.
    public enum Executable: Hashable, Sendable {
        /// A tool of the `podlab-tools` executable; start it with `argv[0]` as argv[0] (the
        /// executable dispatches on its basename) or pass the tool name as first argument.
        case builtin(tool: String)
        /// A BusyBox applet: `ImageCatalog.busyboxPath` started with argv as it is, since
        /// BusyBox dispatches on the basename of argv[0] (`sh`, `/bin/sh`, `wget`).
        case busybox(applet: String)
        /// A program of the host: an absolute path, or a name looked up in the container's `PATH`.
        case host(String)
        /// An executable of podlab's own installed next to `podlab-tools` (`podlab-proxy`, built on
        /// SwiftNIO, which the tools' fast-starting binary does not link); argv[0] is its name.
        case sibling(String)
    }

    /// What runs: a built-in tool, a BusyBox applet or a host program.
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
    /// The image ID the reference pinned (`nginx@sha256:…`); nil when it names no digest (the
    /// agent then reports the digest of what runs).
    public var pinnedImageID: String? { reference.digest.map { "\(image.repository)@\($0)" } }
}

/// The catalog of built-in images: their own programs served by `podlab-tools`, their shell
/// and utilities by the host's BusyBox.
public enum ImageCatalog {
    /// Where BusyBox is: Debian's `busybox-static` package installs it here (`scripts/install-deps`
    /// installs the package).
    public static let busyboxPath = "/bin/busybox"
    /// The Debian package that provides `busyboxPath`.
    public static let busyboxPackage = "busybox-static"

    /// The applets of the BusyBox that runs the images' shells: `busybox --list` of Debian
    /// bookworm's busybox-static 1.35.0. Its `sh` runs these by name before it searches `PATH`
    /// (the build prefers its applets), so a container's command does the same.
    public static let busyboxApplets: Set<String> = Set("""
        [ [[ acpid adjtimex ar arch arp arping ascii ash awk base64 basename bc blkdiscard blockdev brctl bunzip2
        busybox bzcat bzip2 cal cat chgrp chmod chown chroot chvt clear cmp cp cpio crc32 crond crontab cttyhack cut
        date dc dd deallocvt depmod devmem df diff dirname dmesg dnsdomainname dos2unix dpkg dpkg-deb du dumpkmap
        dumpleases echo ed egrep env expand expr factor fallocate false fatattr fdisk fgrep find findfs fold free
        freeramdisk fsfreeze fstrim ftpget ftpput getopt getty grep groups gunzip gzip halt head hexdump hostid
        hostname httpd hwclock i2cdetect i2cdump i2cget i2cset i2ctransfer id ifconfig ifdown ifup init insmod ionice
        ip ipcalc ipneigh kill killall klogd last less link linux32 linux64 linuxrc ln loadfont loadkmap logger login
        logname logread losetup ls lsmod lsscsi lzcat lzma lzop md5sum mdev microcom mim mkdir mkdosfs mke2fs mkfifo
        mknod mkpasswd mkswap mktemp modinfo modprobe more mount mt mv nameif nc netstat nl nologin nproc nsenter
        nslookup nuke od openvt partprobe passwd paste patch pidof ping ping6 pivot_root poweroff printf ps pwd rdate
        readlink realpath reboot renice reset resume rev rm rmdir rmmod route rpm rpm2cpio run-init run-parts sed seq
        setkeycodes setpriv setsid sh sha1sum sha256sum sha3sum sha512sum shred shuf sleep sort ssl_client
        start-stop-daemon stat strings stty su sulogin svc svok swapoff swapon switch_root sync sysctl syslogd tac
        tail tar taskset tc tee telnet telnetd test tftp time timeout top touch tr traceroute traceroute6 true
        truncate ts tty tunctl ubirename udhcpc udhcpd uevent umount uname uncompress unexpand uniq unix2dos unlink
        unlzma unshare unxz unzip uptime usleep uudecode uuencode vconfig vi w watch watchdog wc wget which who
        whoami xargs xxd xz xzcat yes zcat
        """.split(whereSeparator: { $0 == " " || $0 == "\n" }).map(String.init))

    /// Every tool name of the `podlab-tools` executable.
    public static let builtinTools: Set<String> = [
        "nginx", "docker-entrypoint.sh", "httpd", "httpd-foreground", "curl", "entrypoint.sh", "echo-server", "probe",
        "podlab-dns",
    ]

    /// Tools of the `podlab-tools` executable that no image runs: the pod's pause process
    /// (PID 1 of the pid namespace of a pod with `shareProcessNamespace`), which the agent starts.
    public static let sandboxTools: Set<String> = ["pause"]

    /// podlab's executables other than `podlab-tools` that images run, installed in the same
    /// directory: the mesh's proxy is built on SwiftNIO, which the tools do not link.
    public static let siblingExecutables: Set<String> = ["podlab-proxy"]

    static let standardPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

    /// All images, by their catalog name.
    public static let images: [String: CatalogImage] = {
        let curlPrograms = ["/entrypoint.sh": "entrypoint.sh", "/usr/bin/curl": "curl"]
        let list = [
            CatalogImage(
                name: "nginx", repository: "docker.io/library/nginx",
                entrypoint: ["/docker-entrypoint.sh"], cmd: ["nginx", "-g", "daemon off;"],
                ports: [ImagePort(80)],
                environment: ["PATH": standardPath, "NGINX_VERSION": "1.27.0", "PKG_RELEASE": "2~bookworm"],
                programs: ["/docker-entrypoint.sh": "docker-entrypoint.sh", "/usr/sbin/nginx": "nginx", "/usr/bin/curl": "curl"],
                summary: "nginx 1.27.0: HTTP on :80 serving the \"Welcome to nginx!\" page"),
            CatalogImage(
                name: "httpd", repository: "docker.io/library/httpd",
                entrypoint: [], cmd: ["httpd-foreground"],
                ports: [ImagePort(80)],
                environment: ["PATH": "/usr/local/apache2/bin:" + standardPath, "HTTPD_PREFIX": "/usr/local/apache2", "HTTPD_VERSION": "2.4.62"],
                programs: ["/usr/local/bin/httpd-foreground": "httpd-foreground", "/usr/local/apache2/bin/httpd": "httpd"],
                summary: "Apache httpd 2.4.62: HTTP on :80 serving \"It works!\""),
            CatalogImage(
                name: "busybox", repository: "docker.io/library/busybox",
                entrypoint: [], cmd: ["sh"], ports: [],
                environment: ["PATH": standardPath],
                programs: [:],
                summary: "BusyBox: sh and the applets of Debian's busybox-static (wget, nc, ping, nslookup, ip, ...)"),
            CatalogImage(
                name: "curlimages/curl", repository: "docker.io/curlimages/curl",
                entrypoint: ["/entrypoint.sh"], cmd: ["curl"], ports: [],
                environment: ["PATH": standardPath, "CURL_VERSION": "8.9.1"],
                programs: curlPrograms,
                summary: "curl 8.9.1 (http only) with BusyBox"),
            CatalogImage(
                name: "curl", repository: "docker.io/library/curl",
                entrypoint: ["/entrypoint.sh"], cmd: ["curl"], ports: [],
                environment: ["PATH": standardPath, "CURL_VERSION": "8.9.1"],
                programs: curlPrograms,
                summary: "curl 8.9.1 (http only) with BusyBox"),
            CatalogImage(
                name: "podlab/echo", repository: "docker.io/podlab/echo",
                entrypoint: ["echo-server"], cmd: [],
                ports: [ImagePort(8080), ImagePort(8080, .udp)],
                environment: ["PATH": standardPath, "PORT": "8080"],
                programs: ["/usr/local/bin/echo-server": "echo-server"],
                summary: "TCP/UDP/HTTP echo on $PORT (8080): HTTP answers with JSON about the request"),
            CatalogImage(
                name: "podlab/probe", repository: "docker.io/podlab/probe",
                entrypoint: ["probe"], cmd: ["serve"],
                ports: [ImagePort(8080), ImagePort(8080, .udp)],
                environment: ["PATH": standardPath, "PORT": "8080"],
                programs: ["/usr/local/bin/probe": "probe", "/usr/bin/curl": "curl"],
                summary: "connectivity probe: echo on $PORT (8080); `probe tcp|udp|http HOST PORT` checks a target"),
            CatalogImage(
                name: "podlab/dns", repository: "docker.io/podlab/dns",
                entrypoint: ["podlab-dns"], cmd: [],
                ports: [ImagePort(53, .udp), ImagePort(53)],
                environment: ["PATH": standardPath],
                programs: ["/usr/local/bin/podlab-dns": "podlab-dns"],
                summary: "cluster DNS on :53 (UDP, TCP): services, endpoints and pods of cluster.local from the agent's watch"),
            CatalogImage(
                name: "podlab/proxy", repository: "docker.io/podlab/proxy",
                entrypoint: ["/usr/local/bin/podlab-proxy"], cmd: [],
                ports: [ImagePort(15001), ImagePort(15006), ImagePort(15021), ImagePort(15090)],
                environment: ["PATH": standardPath],
                programs: [:], siblings: ["/usr/local/bin/podlab-proxy": "podlab-proxy"],
                summary: "the mesh's sidecar: captured TCP forwarded (outbound :15001, inbound :15006), HTTP/1.1 aware, metrics on :15090"),
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
    /// argv[0] is resolved by `executable(for:in:)`.
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
        return ImageCommand(executable: executable(for: first, in: image), argv: argv)
    }

    /// What a command's argv[0] names inside `image`, the way the image's BusyBox `sh` would
    /// find it (containers share the host's file system, so the host stands in for the rest
    /// of the image):
    ///
    /// - an absolute path: the image's own program there (`/usr/sbin/nginx`), BusyBox for
    ///   `/bin/busybox` and `/bin/APPLET` (the busybox image's layout: `/bin/sh`, `/bin/wget`),
    ///   else the host's file;
    /// - a name: the image's own program on its `PATH` (`nginx`, `curl`), else a BusyBox applet
    ///   (`sh`, `wget`, `ping`), else a host program found through the container's `PATH`.
    ///
    /// The image's programs come before the applets so that `httpd` in the httpd image is
    /// Apache, not BusyBox's httpd.
    public static func executable(for first: String, in image: CatalogImage) -> ImageCommand.Executable {
        if first.hasPrefix("/") {
            if let tool = image.programs[first] { return .builtin(tool: tool) }
            if let sibling = image.siblings[first] { return .sibling(sibling) }
            if first.hasPrefix("/bin/"), case let name = String(first.dropFirst("/bin/".count)), busyboxApplets.contains(name) {
                return .busybox(applet: name)
            }
            return .host(first)
        }
        if let tool = image.commands[first] { return .builtin(tool: tool) }
        if image.siblings.values.contains(first) { return .sibling(first) }
        if busyboxApplets.contains(first) { return .busybox(applet: first) }
        return .host(first)
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
