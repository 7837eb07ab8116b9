import Foundation
import Netns
import PodNet
#if canImport(Glibc)
import Glibc
#endif

/// Where a container's shell finds its image's own programs.
///
/// Containers share the host's file system, so `/usr/sbin/nginx` of the nginx image is not on
/// it: a BusyBox `sh -c 'nginx …'` would search the host. Each image with programs on its
/// `PATH` gets a directory of links to `podlab-tools`, one per program, named like it
/// (`podlab-tools` dispatches on argv[0]); the directory comes first on the container's `PATH`.
/// The busybox image has none, so its `PATH` is the real image's.
public enum ImagePrograms {
    /// `<root>/<image>/bin` (`curlimages/curl` → `curlimages_curl`) with a link to `tools` for
    /// each of the image's commands, made or repaired as needed; nil when the image has no
    /// program on its `PATH`.
    public static func directory(for image: CatalogImage, root: String, tools: String) throws -> String? {
        let commands = image.commands
        guard !commands.isEmpty else { return nil }
        let directory = path(for: image, root: root)
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        for name in commands.keys.sorted() {
            let link = "\(directory)/\(name)"
            if (try? FileManager.default.destinationOfSymbolicLink(atPath: link)) == tools { continue }
            // A fresh link renamed over the old one: a container starting meanwhile finds one or the other.
            let temporary = "\(link).\(getpid()).new"
            unlink(temporary)
            guard symlink(tools, temporary) == 0 else {
                throw KernelError(operation: "symlink", object: temporary, errno: .current)
            }
            guard rename(temporary, link) == 0 else {
                let error = Errno.current
                unlink(temporary)
                throw KernelError(operation: "rename", object: link, errno: error)
            }
        }
        return directory
    }

    /// The directory the agent made for `image` when a container of it started (`exec` uses
    /// it as it is, so its links keep pointing at the agent's `podlab-tools`); nil if none.
    public static func existingDirectory(for image: CatalogImage, root: String) -> String? {
        let directory = path(for: image, root: root)
        var isDirectory: ObjCBool = false
        return FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory) && isDirectory.boolValue ? directory : nil
    }

    static func path(for image: CatalogImage, root: String) -> String {
        "\(root)/\(image.name.replacingOccurrences(of: "/", with: "_"))/bin"
    }

    /// `PATH` with the image's program directory first (unchanged when there is none).
    public static func searchPath(_ path: String?, programs directory: String?) -> String {
        let path = path ?? Spawner.defaultPath
        guard let directory else { return path }
        return path.isEmpty ? directory : "\(directory):\(path)"
    }
}
