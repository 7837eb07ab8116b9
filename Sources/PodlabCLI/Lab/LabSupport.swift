#if canImport(Glibc)
import Glibc
#endif
import Foundation
import PodlabAgent

/// Helpers shared by the lab verbs: the agent's pid file, its log, our own executable.
enum LabFiles {
    /// The agent process named by `agent.pid` if that very process is alive: the file holds its
    /// start time too, so a pid reused by another process after the agent was killed is not it.
    static func liveAgent(_ paths: LabPaths) -> ProcessIdentity? {
        AgentPIDFile.liveAgent(paths)
    }

    /// The last `count` lines of `agent.log`, to show why a lab did not come up.
    static func logTail(_ paths: LabPaths, lines count: Int = 20) -> [String] {
        guard let data = FileManager.default.contents(atPath: paths.logFile) else { return [] }
        let tail = data.suffix(64 * 1024)
        var lines = String(decoding: tail, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        if lines.last == "" { lines.removeLast() }
        return Array(lines.suffix(count))
    }

    /// Prints the log tail to stderr under a heading.
    static func printLogTail(_ paths: LabPaths, to context: CommandContext) {
        let tail = logTail(paths)
        guard !tail.isEmpty else {
            context.stderr.line("(\(paths.logFile) is empty)")
            return
        }
        context.stderr.line("Last lines of \(paths.logFile):")
        for line in tail { context.stderr.line("  " + line) }
    }

    /// This executable, as the kernel knows it (`/proc/self/exe`).
    static func ownExecutable() throws -> String {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let n = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        guard n > 0 else { throw CLIError("cannot find the podlab executable: readlink /proc/self/exe: \(String(cString: strerror(errno)))") }
        return String(decoding: buffer[..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// The directory holding this executable (where `podlab-tools` is built too).
    static func executableDirectory() throws -> String {
        let exe = try ownExecutable()
        return (exe as NSString).deletingLastPathComponent
    }

    /// `--lab NAME` as the user would type it, or nothing for the default lab.
    static func labFlag(_ lab: String) -> String { lab == "podlab" ? "" : " --lab \(lab)" }
}
