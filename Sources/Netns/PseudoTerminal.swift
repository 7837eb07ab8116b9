#if canImport(Glibc)
import Glibc
#endif
import CNetlink

/// A pseudo-terminal: the master side stays with its creator, the slave side becomes a
/// process's terminal (`StandardIO.terminal`). Whatever the process writes to the slave is
/// read from the master, what is written to the master is the process's input, and once every
/// slave fd is closed (the process and its children are gone) reading the master fails with
/// EIO, the terminal's end of file.
public struct PseudoTerminal: Sendable {
    public let master: Int32
    public let slave: Int32

    /// Opens a new pair; both fds are close-on-exec and belong to the caller.
    public static func open() throws(KernelError) -> PseudoTerminal {
        var master: Int32 = -1, slave: Int32 = -1
        try shimCall("posix_openpt", "/dev/ptmx") { pl_open_pseudo_terminal(&master, &slave) }
        return PseudoTerminal(master: master, slave: slave)
    }

    /// Sets the window size of the terminal behind `fd` (either side); its foreground process
    /// group gets SIGWINCH.
    public static func setWindowSize(fd: Int32, rows: UInt16, columns: UInt16) throws(KernelError) {
        try shimCall("TIOCSWINSZ", "fd \(fd)") { pl_set_window_size(fd, rows, columns) }
    }
}
