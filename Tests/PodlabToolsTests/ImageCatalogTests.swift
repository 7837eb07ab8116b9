import PodNet
@testable import PodlabTools
import Testing

@Suite("Image catalog")
struct ImageCatalogTests {
    @Test("references resolve to catalog images, whatever the tag, digest or spelling", arguments: [
        ("nginx", "nginx"), ("nginx:1.25", "nginx"), ("nginx:latest", "nginx"), ("docker.io/library/nginx:latest", "nginx"),
        ("index.docker.io/library/nginx", "nginx"), ("library/nginx", "nginx"),
        ("nginx@sha256:" + String(repeating: "a", count: 64), "nginx"),
        ("curlimages/curl", "curlimages/curl"), ("docker.io/curlimages/curl:8.9.1", "curlimages/curl"), ("curl", "curl"),
        ("httpd", "httpd"), ("httpd:2.4", "httpd"), ("busybox", "busybox"), ("busybox:1.36", "busybox"),
        ("podlab/echo", "podlab/echo"), ("podlab/probe:v1", "podlab/probe"),
    ])
    func resolves(reference: String, name: String) throws {
        let resolved = try ImageCatalog.resolve(reference)
        #expect(resolved.image.name == name)
    }

    @Test("unknown images are ErrImagePull with the kubelet-like message", arguments: ["nginxx", "ghcr.io/library/nginx", "library/nginxx", "redis:7", "podlab/echo2"])
    func unknown(reference: String) {
        #expect {
            try ImageCatalog.resolve(reference)
        } throws: { error in
            guard let error = error as? ImageError, case .notFound = error else { return false }
            return error.waitingReason == "ErrImagePull" && error.description.hasPrefix("Failed to pull image \"\(reference)\": image not found in the podlab catalog")
        }
    }

    @Test("the not-found message lists the catalog")
    func notFoundMessage() {
        #expect(throws: ImageError.notFound("nginxx", known: ImageCatalog.knownNames)) { try ImageCatalog.resolve("nginxx") }
        #expect(ImageError.notFound("nginxx", known: ImageCatalog.knownNames).description ==
            "Failed to pull image \"nginxx\": image not found in the podlab catalog (known: busybox, curl, curlimages/curl, httpd, nginx, podlab/dns, podlab/echo, podlab/probe, podlab/proxy)")
    }

    @Test("malformed references are InvalidImageName", arguments: [
        "", "Nginx", "nginx:", "nginx:-bad", "nginx@sha256:abc", "nginx@md5:" + String(repeating: "a", count: 64), "a b",
        "nginx//x", "-nginx", "nginx-", "ngi..nx", "registry.local:99999/app",
    ])
    func invalid(reference: String) {
        #expect {
            try ImageCatalog.resolve(reference)
        } throws: { error in
            guard let error = error as? ImageError, case .invalidReference = error else { return false }
            return error.waitingReason == "InvalidImageName"
        }
    }

    @Test("upper-case names get the reference library's message")
    func uppercase() {
        #expect(throws: ImageError.invalidReference("Nginx", reason: "repository name (library/Nginx) must be lowercase")) {
            try ImageReference(parsing: "Nginx")
        }
    }

    @Test("references normalise like Docker's", arguments: [
        ("nginx", "docker.io/library/nginx:latest", "nginx"),
        ("nginx:1.25", "docker.io/library/nginx:1.25", "nginx"),
        ("curlimages/curl", "docker.io/curlimages/curl:latest", "curlimages/curl"),
        ("registry.local:5000/team/app:v2", "registry.local:5000/team/app:v2", "registry.local:5000/team/app"),
        ("localhost/app", "localhost/app:latest", "localhost/app"),
    ])
    func normalisation(text: String, full: String, familiar: String) throws {
        let reference = try ImageReference(parsing: text)
        #expect(reference.description == full)
        #expect(reference.familiarName == familiar)
    }

    @Test("a digest the reference pins is its image ID; otherwise the agent reports the digest of what runs")
    func pinnedImageID() throws {
        #expect(try ImageCatalog.resolve("nginx").pinnedImageID == nil)
        #expect(try ImageCatalog.resolve("nginx:1.25").pinnedImageID == nil)
        let digest = "sha256:" + String(repeating: "b", count: 64)
        #expect(try ImageCatalog.resolve("nginx@\(digest)").pinnedImageID == "docker.io/library/nginx@\(digest)")
    }

    @Test("SHA-256 matches the FIPS 180-4 test vectors", arguments: [
        ("", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
        ("abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
        ("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"),
    ])
    func sha256(input: String, hex: String) {
        #expect(SHA256.hex(input) == hex)
    }

    @Test("the catalog declares the documented ports")
    func ports() throws {
        #expect(try ImageCatalog.resolve("nginx").image.ports == [ImagePort(80)])
        #expect(try ImageCatalog.resolve("httpd").image.ports.map(\.description) == ["80/TCP"])
        #expect(try ImageCatalog.resolve("podlab/echo").image.ports.map(\.description) == ["8080/TCP", "8080/UDP"])
        #expect(try ImageCatalog.resolve("busybox").image.ports.isEmpty)
    }

    struct CommandCase: Sendable, CustomTestStringConvertible {
        var image: String
        var command: [String]?
        var args: [String]?
        var argv: [String]
        var executable: ImageCommand.Executable
        var testDescription: String { "\(image) command=\(command ?? []) args=\(args ?? [])" }
    }

    @Test("command replaces ENTRYPOINT and drops CMD; args replace CMD", arguments: [
        CommandCase(image: "nginx", command: nil, args: nil, argv: ["/docker-entrypoint.sh", "nginx", "-g", "daemon off;"], executable: .builtin(tool: "docker-entrypoint.sh")),
        CommandCase(image: "nginx", command: [], args: [], argv: ["/docker-entrypoint.sh", "nginx", "-g", "daemon off;"], executable: .builtin(tool: "docker-entrypoint.sh")),
        CommandCase(image: "nginx", command: nil, args: ["nginx-debug"], argv: ["/docker-entrypoint.sh", "nginx-debug"], executable: .builtin(tool: "docker-entrypoint.sh")),
        CommandCase(image: "nginx", command: ["nginx"], args: nil, argv: ["nginx"], executable: .builtin(tool: "nginx")),
        CommandCase(image: "httpd", command: nil, args: nil, argv: ["httpd-foreground"], executable: .builtin(tool: "httpd-foreground")),
        CommandCase(image: "busybox", command: nil, args: nil, argv: ["sh"], executable: .busybox(applet: "sh")),
        CommandCase(image: "busybox", command: ["sleep", "3600"], args: nil, argv: ["sleep", "3600"], executable: .busybox(applet: "sleep")),
        CommandCase(image: "busybox", command: ["sh", "-c"], args: ["echo hi"], argv: ["sh", "-c", "echo hi"], executable: .busybox(applet: "sh")),
        CommandCase(image: "busybox", command: ["/bin/sh", "-c", "wget -qO- 10.0.0.1"], args: nil, argv: ["/bin/sh", "-c", "wget -qO- 10.0.0.1"], executable: .busybox(applet: "sh")),
        CommandCase(image: "busybox", command: nil, args: ["sleep", "10"], argv: ["sleep", "10"], executable: .busybox(applet: "sleep")),
        CommandCase(image: "busybox", command: ["/usr/bin/python3", "-V"], args: nil, argv: ["/usr/bin/python3", "-V"], executable: .host("/usr/bin/python3")),
        CommandCase(image: "busybox", command: ["python3"], args: nil, argv: ["python3"], executable: .host("python3")),
        CommandCase(image: "busybox", command: ["curl", "x"], args: nil, argv: ["curl", "x"], executable: .host("curl")),
        CommandCase(image: "busybox", command: ["httpd", "-f"], args: nil, argv: ["httpd", "-f"], executable: .busybox(applet: "httpd")),
        CommandCase(image: "curlimages/curl", command: nil, args: ["curl", "http://10.244.1.2"], argv: ["/entrypoint.sh", "curl", "http://10.244.1.2"], executable: .builtin(tool: "entrypoint.sh")),
        CommandCase(image: "curlimages/curl", command: ["curl", "-s", "http://10.244.1.2"], args: nil, argv: ["curl", "-s", "http://10.244.1.2"], executable: .builtin(tool: "curl")),
        CommandCase(image: "curlimages/curl", command: ["/usr/bin/curl", "-s", "x"], args: nil, argv: ["/usr/bin/curl", "-s", "x"], executable: .builtin(tool: "curl")),
        CommandCase(image: "curl", command: ["nc", "10.0.0.1", "80"], args: nil, argv: ["nc", "10.0.0.1", "80"], executable: .busybox(applet: "nc")),
        CommandCase(image: "httpd", command: ["wget", "x"], args: nil, argv: ["wget", "x"], executable: .busybox(applet: "wget")),
        CommandCase(image: "httpd", command: ["httpd", "-DFOREGROUND"], args: nil, argv: ["httpd", "-DFOREGROUND"], executable: .builtin(tool: "httpd")),
        CommandCase(image: "httpd", command: ["/usr/local/apache2/bin/httpd"], args: nil, argv: ["/usr/local/apache2/bin/httpd"], executable: .builtin(tool: "httpd")),
        CommandCase(image: "nginx", command: ["sh", "-c", "nginx -g 'daemon off;'"], args: nil, argv: ["sh", "-c", "nginx -g 'daemon off;'"], executable: .busybox(applet: "sh")),
        CommandCase(image: "nginx", command: ["/bin/sh"], args: nil, argv: ["/bin/sh"], executable: .busybox(applet: "sh")),
        CommandCase(image: "nginx", command: ["/bin/bash", "-c", "true"], args: nil, argv: ["/bin/bash", "-c", "true"], executable: .host("/bin/bash")),
        CommandCase(image: "nginx", command: ["/usr/bin/sh"], args: nil, argv: ["/usr/bin/sh"], executable: .host("/usr/bin/sh")),
        CommandCase(image: "nginx", command: ["/bin/busybox", "ls"], args: nil, argv: ["/bin/busybox", "ls"], executable: .busybox(applet: "busybox")),
        CommandCase(image: "nginx", command: ["docker-entrypoint.sh"], args: nil, argv: ["docker-entrypoint.sh"], executable: .host("docker-entrypoint.sh")),
        CommandCase(image: "podlab/echo", command: nil, args: ["--port", "9000"], argv: ["echo-server", "--port", "9000"], executable: .builtin(tool: "echo-server")),
        CommandCase(image: "podlab/probe", command: nil, args: nil, argv: ["probe", "serve"], executable: .builtin(tool: "probe")),
    ])
    func command(_ c: CommandCase) throws {
        let image = try ImageCatalog.resolve(c.image).image
        let command = try ImageCatalog.command(for: image, command: c.command, args: c.args)
        #expect(command.argv == c.argv)
        #expect(command.executable == c.executable)
        #expect(command.arguments == Array(c.argv.dropFirst()))
    }

    @Test("$(VAR) in command and args expands from the container's environment", arguments: [
        ("$(GREETING) world", "hello world"), ("$(MISSING)", "$(MISSING)"), ("$$(GREETING)", "$(GREETING)"), ("cost $$5", "cost $5"),
        ("$(GREETING", "$(GREETING"), ("tail $", "tail $"), ("$HOME", "$HOME"), ("$(GREETING)$(PORT)", "hello8080"),
    ])
    func references(input: String, output: String) {
        #expect(ImageCatalog.expandReferences(input, ["GREETING": "hello", "PORT": "8080"]) == output)
    }

    @Test("expansion applies to the container's command and args, not the image's")
    func expansionScope() throws {
        let busybox = try ImageCatalog.resolve("busybox").image
        let command = try ImageCatalog.command(for: busybox, command: ["sh", "-c"], args: ["echo $(POD_NAME) $HOME"], environment: ["POD_NAME": "web-1"])
        #expect(command.argv == ["sh", "-c", "echo web-1 $HOME"])
    }

    @Test("an empty argv[0] is refused")
    func emptyCommand() throws {
        let image = try ImageCatalog.resolve("busybox").image
        #expect(throws: ImageError.noCommand(image: "busybox")) { try ImageCatalog.command(for: image, command: [""], args: nil) }
    }

    @Test("every program the catalog names is a tool of podlab-tools, and the other way round")
    func toolsMatch() {
        #expect(Set(PodlabTools.toolNames) == ImageCatalog.builtinTools.union(ImageCatalog.sandboxTools))
        #expect(ImageCatalog.builtinTools.isDisjoint(with: ImageCatalog.sandboxTools))
        var used: Set<String> = []
        for image in ImageCatalog.images.values {
            #expect(Set(image.programs.values).isSubset(of: ImageCatalog.builtinTools), "\(image.name)")
            used.formUnion(image.programs.values)
            // podlab-tools dispatches on argv[0]: a program found by name must be named like its tool.
            for (name, tool) in image.commands { #expect(name == tool, "\(image.name): \(name) runs \(tool)") }
            let argv0 = (image.entrypoint + image.cmd).first!
            let command = try? ImageCatalog.command(for: image, command: nil, args: nil)
            switch command?.executable {
            case let .builtin(tool)?: #expect(ImageCatalog.builtinTools.contains(tool))
            case .busybox("sh")?: #expect(image.name == "busybox")
            case let .sibling(program)?: #expect(ImageCatalog.siblingExecutables.contains(program), "\(image.name)")
            default: Issue.record("\(image.name): default command \(argv0) is neither a program of the image nor BusyBox's sh")
            }
        }
        #expect(used == ImageCatalog.builtinTools, "a tool no image has")
    }

    @Test("an image's commands are its programs on its PATH", arguments: [
        ("nginx", ["nginx", "curl"]), ("httpd", ["httpd", "httpd-foreground"]), ("busybox", []), ("curlimages/curl", ["curl"]),
        ("curl", ["curl"]), ("podlab/echo", ["echo-server"]), ("podlab/probe", ["probe", "curl"]),
    ])
    func commands(image: String, names: [String]) throws {
        #expect(Set(try ImageCatalog.resolve(image).image.commands.keys) == Set(names))
    }

    @Test("a missing BusyBox is ErrImagePull for the busybox image and CreateContainerError elsewhere, naming the package")
    func busyboxMissing() {
        let image = ImageError.busyboxMissing(reference: "busybox:1.36", image: "busybox", applet: "sh", path: "/bin/busybox")
        #expect(image.waitingReason == "ErrImagePull")
        #expect(image.description == "Failed to pull image \"busybox:1.36\": the image is the host's BusyBox, and /bin/busybox is missing: "
            + "install the Debian package busybox-static (scripts/install-deps does)")
        let shell = ImageError.busyboxMissing(reference: "nginx", image: "nginx", applet: "sh", path: "/bin/busybox")
        #expect(shell.waitingReason == "CreateContainerError")
        #expect(shell.description == "Error: failed to create container: \"sh\" is the host's BusyBox, and /bin/busybox is missing: "
            + "install the Debian package busybox-static (scripts/install-deps does)")
    }
}
