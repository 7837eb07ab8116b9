#if canImport(Glibc)
import Glibc
#endif

/// The write end of the self-pipe; a signal handler may only touch plain globals.
nonisolated(unsafe) private var signalPipeWriteFD: Int32 = -1

/// Termination signals turned into a readable file descriptor, so a server's poll loop
/// wakes up on SIGTERM/SIGINT and ends cleanly (exit 0, as a container runtime expects)
/// instead of dying mid-write.
final class TerminationSignals {
    /// Poll this for `POLLIN`; `received()` then says which signal arrived.
    let fd: Int32
    private let writeFD: Int32
    private let signals: [Int32]
    private var previous: [Int32: sigaction] = [:]

    /// Installs handlers for `signals` (by default SIGTERM and SIGINT).
    init(_ signals: [Int32] = [SIGTERM, SIGINT]) throws(SystemError) {
        var fds: [Int32] = [0, 0]
        try check("pipe") { pipe(&fds) }
        // pipe2 is hidden from Swift (a _GNU_SOURCE symbol): set the flags right away.
        for fd in fds {
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        }
        fd = fds[0]
        writeFD = fds[1]
        self.signals = signals
        signalPipeWriteFD = writeFD
        for signal in signals {
            var action = sigaction()
            action.__sigaction_handler.sa_handler = { number in
                let saved = errno
                var byte = UInt8(truncatingIfNeeded: number)
                _ = write(signalPipeWriteFD, &byte, 1)
                errno = saved
            }
            action.sa_flags = SA_RESTART
            sigemptyset(&action.sa_mask)
            var old = sigaction()
            sigaction(signal, &action, &old)
            previous[signal] = old
        }
        var set = sigset_t()
        sigemptyset(&set)
        for signal in signals { sigaddset(&set, signal) }
        pthread_sigmask(SIG_UNBLOCK, &set, nil)
    }

    /// The signal that arrived, if any (consumes it).
    func received() -> Int32? {
        var byte: UInt8 = 0
        return read(fd, &byte, 1) == 1 ? Int32(byte) : nil
    }

    deinit {
        for (signal, var action) in previous { sigaction(signal, &action, nil) }
        if signalPipeWriteFD == writeFD { signalPipeWriteFD = -1 }
        close(fd)
        close(writeFD)
    }
}

/// The name nginx and Apache print for a signal: `SIGTERM`.
func signalName(_ signal: Int32) -> String {
    switch signal {
    case SIGTERM: "SIGTERM"
    case SIGINT: "SIGINT"
    case SIGQUIT: "SIGQUIT"
    case SIGHUP: "SIGHUP"
    case SIGWINCH: "SIGWINCH"
    case SIGUSR1: "SIGUSR1"
    default: "signal \(signal)"
    }
}

/// Process-wide settings every tool starts with: writes to a closed socket or pipe fail
/// with EPIPE instead of killing the process, and SIGTERM/SIGINT have their default effect
/// even when the parent blocked or ignored them.
func prepareProcessSignals() {
    signal(SIGPIPE, SIG_IGN)
    signal(SIGTERM, SIG_DFL)
    signal(SIGINT, SIG_DFL)
    var set = sigset_t()
    sigemptyset(&set)
    sigaddset(&set, SIGTERM)
    sigaddset(&set, SIGINT)
    pthread_sigmask(SIG_UNBLOCK, &set, nil)
}
