#if canImport(Glibc)
import Glibc
#endif

/// `pause`: PID 1 of the pid namespace of a pod with `shareProcessNamespace`, as Kubernetes'
/// pause container is. It reaps every process re-parented to it (the orphans of the pod's
/// containers, which the kernel gives to the namespace's init) and exits 0 on SIGTERM or
/// SIGINT, printing what Kubernetes' pause prints; otherwise it sleeps.
///
/// The kernel delivers to a namespace's init only the signals it has a handler for (SIGKILL
/// and SIGSTOP from an ancestor namespace excepted), so both are caught rather than left at
/// their default. When it ends, the kernel kills every other process of the namespace.
///
/// With `--mount-proc`, it first mounts a `/proc` of its own pid namespace in its mount
/// namespace (the pod's, which podlab's built-in containers share): procfs shows the pid
/// namespace of the process that mounts it, and this is the first process in that namespace.
/// Then it writes `ready` and a newline to its standard output (the agent waits for that
/// line; an error is written there instead) and points stdout and stderr at /dev/null.
enum Pause {
    static let main: ToolMain = { context in
        var mountProc = false
        for argument in context.arguments {
            switch argument {
            case "--mount-proc": mountProc = true
            default:
                context.stderr.line("pause: unknown argument \"\(argument)\" (usage: pause [--mount-proc])")
                return 2
            }
        }
        if getpid() != 1 { context.stderr.line("Warning: pause should be the first process") }
        var action = sigaction()
        action.__sigaction_handler.sa_handler = { number in
            // Only async-signal-safe calls: write(2) and _exit(2).
            let message: StaticString = number == SIGINT ? "Shutting down, got signal: Interrupt\n" : "Shutting down, got signal: Terminated\n"
            _ = write(2, message.utf8Start, message.utf8CodeUnitCount)
            _exit(0)
        }
        sigemptyset(&action.sa_mask)
        sigaction(SIGINT, &action, nil)
        sigaction(SIGTERM, &action, nil)
        var reaper = sigaction()
        reaper.__sigaction_handler.sa_handler = { _ in
            let saved = errno
            while waitpid(-1, nil, WNOHANG) > 0 {}
            errno = saved
        }
        sigemptyset(&reaper.sa_mask)
        reaper.sa_flags = SA_NOCLDSTOP | SA_RESTART
        sigaction(SIGCHLD, &reaper, nil)
        var unblocked = sigset_t()
        sigemptyset(&unblocked)
        for signal in [SIGINT, SIGTERM, SIGCHLD] { sigaddset(&unblocked, signal) }
        pthread_sigmask(SIG_UNBLOCK, &unblocked, nil)

        if mountProc, mount("proc", "/proc", "proc", UInt(MS_NOSUID | MS_NODEV | MS_NOEXEC), nil) != 0 {
            context.stderr.line("pause: mount proc on /proc: \(String(cString: strerror(errno)))")
            return 1
        }
        context.stdout.write("ready\n")
        let null = open("/dev/null", O_RDWR | O_CLOEXEC)
        if null >= 0 {
            dup2(null, 1)
            dup2(null, 2)
            close(null)
        }
        // Children that ended before the handler was in place.
        while waitpid(-1, nil, WNOHANG) > 0 {}
        while true { Glibc.pause() }
    }
}
