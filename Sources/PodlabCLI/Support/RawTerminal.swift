#if canImport(Glibc)
import Glibc
#endif
import Foundation
import PodNet

/// The local terminal in raw mode for an attach session with a TTY: every key goes to the
/// container's terminal as typed (^C included), and the container's terminal does the echo
/// and line editing. `restore()` puts the settings back; so does a signal that ends the
/// process (SIGTERM, SIGHUP, SIGINT, SIGQUIT), before it takes its default action.
final class RawTerminal: @unchecked Sendable {
    let fd: Int32

    /// The settings to put back, for the signal handlers (which can reach only globals).
    nonisolated(unsafe) private static var saved = termios()
    nonisolated(unsafe) private static var savedFD: Int32 = -1
    private static let restoringSignals = [SIGTERM, SIGHUP, SIGINT, SIGQUIT]

    private var restored = false
    private var resizes: (any DispatchSourceSignal)?

    /// Switches `fd` to raw mode; nil when it is not a terminal.
    static func enter(fd: Int32) -> RawTerminal? {
        guard isatty(fd) == 1 else { return nil }
        var settings = termios()
        guard tcgetattr(fd, &settings) == 0 else { return nil }
        saved = settings
        savedFD = fd
        for signal in restoringSignals {
            Glibc.signal(signal) { received in
                if RawTerminal.savedFD >= 0 { tcsetattr(RawTerminal.savedFD, TCSANOW, &RawTerminal.saved) }
                Glibc.signal(received, SIG_DFL)
                raise(received)
            }
        }
        cfmakeraw(&settings)
        guard tcsetattr(fd, TCSANOW, &settings) == 0 else {
            restoreHandlers()
            return nil
        }
        return RawTerminal(fd: fd)
    }

    private init(fd: Int32) { self.fd = fd }

    /// The terminal's size, when it knows it.
    var size: TerminalSize? { Self.size(of: fd) }

    static func size(of fd: Int32) -> TerminalSize? {
        var size = winsize()
        guard ioctl(fd, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 0, size.ws_row > 0 else { return nil }
        return TerminalSize(width: size.ws_col, height: size.ws_row)
    }

    /// Calls `changed` with the new size each time the window is resized (SIGWINCH).
    func onResize(_ changed: @escaping @Sendable (TerminalSize) -> Void) {
        signal(SIGWINCH, SIG_IGN)
        let source = DispatchSource.makeSignalSource(signal: SIGWINCH)
        let fd = self.fd
        source.setEventHandler { if let size = RawTerminal.size(of: fd) { changed(size) } }
        source.resume()
        resizes = source
    }

    /// Back to the settings from before; idempotent.
    func restore() {
        guard !restored else { return }
        restored = true
        resizes?.cancel()
        tcsetattr(fd, TCSANOW, &Self.saved)
        Self.restoreHandlers()
    }

    private static func restoreHandlers() {
        savedFD = -1
        for signal in restoringSignals { Glibc.signal(signal, SIG_DFL) }
    }

    deinit { restore() }
}
