import Foundation

/// Finds an executable of this package in the build directory: `$<ENV>` if set, else next to
/// the running test binary (`.build/<triple>/debug/<name>`; the test binary may sit inside an
/// `.xctest` bundle directory).
public enum BuiltExecutable {
    public struct Missing: Error, CustomStringConvertible {
        public var name: String
        public var searched: [String]
        public var description: String {
            "\(name) is not built (looked at \(searched.joined(separator: ", "))); run `swift build --build-tests` first"
        }
    }

    public static func path(_ name: String, environmentOverride: String? = nil) throws -> String {
        var candidates: [String] = []
        if let key = environmentOverride, let explicit = ProcessInfo.processInfo.environment[key] { candidates.append(explicit) }
        var directory = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
        for _ in 0..<4 {
            candidates.append(directory.appendingPathComponent(name).path)
            directory = directory.deletingLastPathComponent()
        }
        if let found = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) { return found }
        throw Missing(name: name, searched: candidates)
    }
}
