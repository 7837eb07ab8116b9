#if canImport(Glibc)
import Glibc
#endif
import PodlabImages

/// `exec "$@"` at the end of an image's entrypoint script.
enum CommandRunner {
    /// Replaces the current tool with `argv`, found as the container's own command would be
    /// (`ImageCatalog.executable(for:in:)`): one of the image's programs runs in this process,
    /// a BusyBox applet (`sh`, `wget`) replaces it with BusyBox, anything else with the host
    /// program `execvp` finds. Returns only when nothing could run: 127 when the program does
    /// not exist, 126 when it cannot be executed.
    static func exec(_ argv: [String], image: String, shellName: String) -> Int32 {
        guard let name = argv.first else { return 0 }
        guard let catalogImage = ImageCatalog.images[image] else { return 127 }
        let path: String
        switch ImageCatalog.executable(for: name, in: catalogImage) {
        case let .builtin(tool):
            return PodlabTools.run(tool: tool, arguments: Array(argv.dropFirst()))
        case .busybox:
            path = ImageCatalog.busyboxPath
        case .host:
            path = name
        case let .sibling(program):
            path = siblingPath(program)
        }
        // The tools ignore SIGPIPE; the program that takes over gets the default back.
        signal(SIGPIPE, SIG_DFL)
        _ = withCStringArray(argv) { path.contains("/") ? execv(path, $0) : execvp(path, $0) }
        let error = errno
        signal(SIGPIPE, SIG_IGN)
        let reason: String
        if path == ImageCatalog.busyboxPath && error == ENOENT {
            reason = "\(path) is missing: install the Debian package \(ImageCatalog.busyboxPackage)"
        } else {
            reason = error == ENOENT ? "not found" : String(cString: strerror(error))
        }
        OutputStream.standardError.line("\(shellName): exec: \(name): \(reason)")
        return error == ENOENT ? 127 : 126
    }
}

/// Calls `body` with a NULL-terminated C string array.
func withCStringArray<T>(_ strings: [String], _ body: (UnsafePointer<UnsafeMutablePointer<CChar>?>) -> T) -> T {
    var pointers: [UnsafeMutablePointer<CChar>?] = strings.map { strdup($0) }
    pointers.append(nil)
    defer { for pointer in pointers { free(pointer) } }
    return pointers.withUnsafeBufferPointer { body($0.baseAddress!) }
}

/// `program` in the directory of the running `podlab-tools` (where podlab installs its other
/// executables: `ImageCatalog.siblingExecutables`).
func siblingPath(_ program: String) -> String {
    var buffer = [CChar](repeating: 0, count: 4096)
    let count = readlink("/proc/self/exe", &buffer, buffer.count - 1)
    guard count > 0 else { return program }
    let executable = String(decoding: buffer[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    guard let slash = executable.lastIndex(of: "/") else { return program }
    return String(executable[..<slash]) + "/" + program
}
