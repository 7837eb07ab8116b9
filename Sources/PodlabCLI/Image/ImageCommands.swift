import ArgumentParser
import Foundation
import PodlabAgent
import PodNet
import PodlabImages

/// `podlab image load|ls|rm|prune`: the lab's OCI images (`ImageStore`). The store is files
/// under the lab's state directory, read by the agent when it starts a container, so these
/// commands work on it directly.
public struct ImageCommands: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "image",
        abstract: "Manage the lab's OCI images: pull from registries, load docker save archives and OCI layouts, list, remove, prune.",
        subcommands: [ImageLoad.self, ImagePull.self, ImageList.self, ImageRemove.self, ImagePrune.self])

    public init() {}

    /// The store of `lab`, which must exist (its state directory is made by `podlab up`).
    static func store(_ context: CommandContext, lab: String?) throws -> ImageStore {
        let paths = context.labPaths(lab)
        var status = stat()
        guard stat(paths.directory, &status) == 0 else {
            throw CLIError("lab \"\(paths.lab)\" is not running (start it with \"podlab up\(paths.lab == "podlab" ? "" : " --lab \(paths.lab)")\")")
        }
        return ImageStore(paths: paths)
    }
}

/// `podlab image load -i FILE`.
public struct ImageLoad: PodlabCommand {
    public static let configuration = CommandConfiguration(
        commandName: "load",
        abstract: "Load images from a docker save archive or an OCI layout (a directory or a tar archive, optionally gzip-compressed).")

    @Option(help: "The lab's name (default: $PODLAB_LAB or \"podlab\").")
    public var lab: String?

    @Option(name: [.customShort("i"), .customLong("input")], help: "The archive or OCI layout directory to load.")
    public var input: String

    public init() {}

    public func execute(_ context: CommandContext) async throws -> Int32 {
        let store = try ImageCommands.store(context, lab: lab)
        let names: [String]
        do {
            names = try store.load(path: input)
        } catch {
            throw CLIError(error.message)
        }
        for name in names {
            context.stdout.line(name.hasPrefix("sha256:") ? "Loaded image ID: \(name)" : "Loaded image: \(name)")
        }
        return 0
    }
}

/// `podlab image pull REFERENCE`: from a registry, with podman's progress lines.
public struct ImagePull: PodlabCommand {
    public static let configuration = CommandConfiguration(
        commandName: "pull",
        abstract: "Pull an image from a registry (a registry on the loopback is spoken to in plain HTTP).")

    @Option(help: "The lab's name (default: $PODLAB_LAB or \"podlab\").")
    public var lab: String?

    @Option(name: .customLong("registry-config"), help: "A Docker config.json with the registries' credentials (default: $DOCKER_CONFIG/config.json or ~/.docker/config.json).")
    public var registryConfig: String?

    @Argument(help: "The image: [registry/]repository[:tag] or [registry/]repository@sha256:digest.")
    public var reference: String

    public init() {}

    public func execute(_ context: CommandContext) async throws -> Int32 {
        let store = try ImageCommands.store(context, lab: lab)
        var puller = RegistryPuller(credentials: RegistryPuller.dockerConfigCredentials(path: registryConfig, environment: context.environment))
        do throws(OCIImageError) {
            puller.scope = try RegistryScope(environment: context.environment["PODLAB_REGISTRIES"])
            if let registry = try? ImageReference(parsing: reference).registry, let refusal = puller.scope.refusal(registry) {
                throw OCIImageError(refusal)
            }
        } catch {
            throw CLIError(error.message)
        }
        let stderr = context.stderr
        stderr.line("Trying to pull \((try? ImageStore.storedName(reference)) ?? reference)...")
        let image: ImageStore.Image
        do {
            image = try await puller.pull(reference, into: store) { progress in
                switch progress {
                case .resolved:
                    stderr.line("Getting image source signatures")
                case let .blob(kind, digest, _, present):
                    stderr.line("Copying \(kind) \(digest.hex.prefix(12)) \(present ? "skipped: already exists" : "done")")
                case let .resuming(kind, digest, offset, size):
                    stderr.line("Copying \(kind) \(digest.hex.prefix(12)): resuming at \(offset) of \(size) bytes")
                case .unpacking:
                    stderr.line("Writing manifest to image destination")
                }
            }
        } catch {
            throw CLIError(error.message)
        }
        context.stdout.line(image.configDigest.hex)
        return 0
    }
}

/// `podlab image ls`: `crictl images`' columns.
public struct ImageList: PodlabCommand {
    public static let configuration = CommandConfiguration(commandName: "ls", abstract: "List the lab's OCI images.", aliases: ["list"])

    @Option(help: "The lab's name (default: $PODLAB_LAB or \"podlab\").")
    public var lab: String?

    @Flag(help: "Show the full image IDs and the manifest digests.")
    public var digests = false

    public init() {}

    public func execute(_ context: CommandContext) async throws -> Int32 {
        let store = try ImageCommands.store(context, lab: lab)
        let images: [ImageStore.Image]
        do {
            images = try store.images()
        } catch {
            throw CLIError(error.message)
        }
        context.stdout.write(Self.render(images, digests: digests))
        return 0
    }

    static func render(_ images: [ImageStore.Image], digests: Bool) -> String {
        var rows: [[String]] = []
        for image in images {
            for name in image.names {
                var repository = "<none>"
                var tag = "<none>"
                if !name.hasPrefix("sha256:"), let reference = try? ImageReference(parsing: name) {
                    repository = reference.name
                    tag = reference.tag ?? "<none>"
                }
                let id = digests ? image.configDigest.description : String(image.configDigest.hex.prefix(13))
                rows.append([repository, tag] + (digests ? [image.manifestDigest.description] : []) + [id, Self.size(image.size)])
            }
        }
        return TextTable(headers: ["IMAGE", "TAG"] + (digests ? ["DIGEST"] : []) + ["IMAGE ID", "SIZE"], rows: rows).render()
    }

    /// Decimal units, as crictl prints sizes (`5.73MB`).
    static func size(_ bytes: Int64) -> String {
        let units = ["B", "kB", "MB", "GB", "TB"]
        var value = Double(bytes)
        var unit = 0
        while value >= 1000 && unit < units.count - 1 {
            value /= 1000
            unit += 1
        }
        return unit == 0 ? "\(bytes)B" : String(format: "%.3g", value) + units[unit]
    }
}

/// `podlab image rm NAME...`.
public struct ImageRemove: PodlabCommand {
    public static let configuration = CommandConfiguration(commandName: "rm", abstract: "Remove image names (blobs and layers stay until prune).")

    @Option(help: "The lab's name (default: $PODLAB_LAB or \"podlab\").")
    public var lab: String?

    @Argument(help: "Image names, name@digest or image IDs.")
    public var images: [String]

    public init() {}

    public func execute(_ context: CommandContext) async throws -> Int32 {
        let store = try ImageCommands.store(context, lab: lab)
        var failed = false
        for image in images {
            do {
                for name in try store.remove(image) { context.stdout.line("Untagged: \(name)") }
            } catch {
                context.stderr.line("error: \(error.message)")
                failed = true
            }
        }
        return failed ? 1 : 0
    }
}

/// `podlab image prune`.
public struct ImagePrune: PodlabCommand {
    public static let configuration = CommandConfiguration(commandName: "prune", abstract: "Remove blobs and unpacked layers no image name uses.")

    @Option(help: "The lab's name (default: $PODLAB_LAB or \"podlab\").")
    public var lab: String?

    public init() {}

    public func execute(_ context: CommandContext) async throws -> Int32 {
        let store = try ImageCommands.store(context, lab: lab)
        do {
            let removed = try store.prune()
            context.stdout.line("Deleted \(removed.blobs) blobs and \(removed.layers) unpacked layers"
                + (removed.ingests > 0 ? "; removed \(removed.ingests) partial downloads" : ""))
        } catch {
            throw CLIError(error.message)
        }
        return 0
    }
}
