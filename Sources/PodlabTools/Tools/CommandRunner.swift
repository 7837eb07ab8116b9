#if canImport(Glibc)
import Glibc
#endif

/// Runs a command line's argv the way an image's shell would: a built-in tool by name runs
/// in this process; anything else is a host program found through `PATH`.
enum CommandRunner {
    /// Runs `argv` and returns its exit status (128 + signal when a host program was killed,
    /// 127 when nothing by that name exists, 126 when it cannot be executed).
    static func run(_ argv: [String], shellName: String = "sh") -> Int32 {
        guard let name = argv.first else { return 0 }
        if !name.contains("/"), PodlabTools.tools[name] != nil {
            return PodlabTools.run(tool: name, arguments: Array(argv.dropFirst()))
        }
        return spawnHost(argv, shellName: shellName)
    }

    /// Replaces the current tool with `argv` (`exec "$@"` in an entrypoint script): built-ins
    /// run in this process, host programs replace it through `execvp`.
    static func exec(_ argv: [String], shellName: String) -> Int32 {
        guard let name = argv.first else { return 0 }
        if !name.contains("/"), PodlabTools.tools[name] != nil {
            return PodlabTools.run(tool: name, arguments: Array(argv.dropFirst()))
        }
        signal(SIGPIPE, SIG_DFL)
        let code = withCStringArray(argv) { execvp(name, $0) }
        let error = errno
        signal(SIGPIPE, SIG_IGN)
        _ = code
        OutputStream.standardError.line("\(shellName): exec: \(name): \(error == ENOENT ? "not found" : String(cString: strerror(error)))")
        return error == ENOENT ? 127 : 126
    }

    private static func spawnHost(_ argv: [String], shellName: String) -> Int32 {
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        // The tools ignore SIGPIPE; a child must get the default back.
        var defaults = sigset_t()
        sigemptyset(&defaults)
        sigaddset(&defaults, SIGPIPE)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGDEF))
        var pid = pid_t()
        let rc = withCStringArray(argv) { cArgv in
            posix_spawnp(&pid, argv[0], nil, &attributes, cArgv, environ)
        }
        if rc != 0 {
            let reason = rc == ENOENT ? "not found" : String(cString: strerror(rc))
            OutputStream.standardError.line("\(shellName): \(argv[0]): \(reason)")
            return rc == ENOENT ? 127 : 126
        }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 {
            if errno != EINTR { return 1 }
        }
        // WIFEXITED / WEXITSTATUS / WTERMSIG are C macros Swift does not import.
        let signal = status & 0x7F
        return signal == 0 ? (status >> 8) & 0xFF : 128 + signal
    }
}

/// Calls `body` with a NULL-terminated C string array.
func withCStringArray<T>(_ strings: [String], _ body: (UnsafePointer<UnsafeMutablePointer<CChar>?>) -> T) -> T {
    var pointers: [UnsafeMutablePointer<CChar>?] = strings.map { strdup($0) }
    pointers.append(nil)
    defer { for pointer in pointers { free(pointer) } }
    return pointers.withUnsafeBufferPointer { body($0.baseAddress!) }
}
