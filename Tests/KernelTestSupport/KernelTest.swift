import Foundation
import Netns
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Facts and helpers shared by the integration tests that run against the real kernel.
public enum KernelTest {
    /// True when the tests run as root, which every integration test needs.
    public static let isRoot: Bool = geteuid() == 0

    /// Why integration tests are skipped when they are.
    public static let rootRequired: Comment = "needs root (CAP_NET_ADMIN, CAP_SYS_ADMIN) to create network namespaces"

    /// True when `nft` is installed (tests use it to read back what podlab programmed).
    public static let hasNft: Bool = FileManager.default.isExecutableFile(atPath: "/usr/sbin/nft")

    /// A name no other test (or test run) uses: `<prefix><8 hex>`, at most 15 bytes so it also
    /// fits an interface name.
    public static func uniqueName(_ prefix: String = "plt") -> String {
        let suffix = String(UInt32.random(in: .min ... .max), radix: 16)
        let padded = String(repeating: "0", count: 8 - suffix.count) + suffix
        return String((prefix + padded).prefix(15))
    }

    /// Creates `count` uniquely named network namespaces, runs `body`, and deletes them on every path.
    public static func withNamespaces<T>(_ count: Int, prefix: String = "plt", _ body: ([NetworkNamespace]) async throws -> T) async throws -> T {
        var created: [NetworkNamespace] = []
        defer { for ns in created { try? NetworkNamespace.delete(ns.name, ignoreMissing: true) } }
        for _ in 0..<count { created.append(try NetworkNamespace.create(uniqueName(prefix))) }
        return try await body(created)
    }

    /// A whole file read with `read` until its end. Files under /proc report size 0, and
    /// Foundation's `String(contentsOfFile:)` then stops after the first page: a mount table of
    /// more than 4 KiB would be cut short.
    public static func readWholeFile(_ path: String) -> String {
        MountTable.readFile(path) ?? ""
    }

    /// The mount points at or under `prefix` in this process's mount table (`/proc/self/mounts`).
    public static func mountPoints(under prefix: String) -> [String] {
        readWholeFile("/proc/self/mounts").split(separator: "\n").compactMap { line in
            let fields = line.split(separator: " ")
            guard fields.count > 1 else { return nil }
            return fields[1] == prefix || fields[1].hasPrefix(prefix.hasSuffix("/") ? prefix : prefix + "/") ? String(fields[1]) : nil
        }
    }

    /// Synchronous form of `withNamespaces`.
    public static func withNamespacesSync<T>(_ count: Int, prefix: String = "plt", _ body: ([NetworkNamespace]) throws -> T) throws -> T {
        var created: [NetworkNamespace] = []
        defer { for ns in created { try? NetworkNamespace.delete(ns.name, ignoreMissing: true) } }
        for _ in 0..<count { created.append(try NetworkNamespace.create(uniqueName(prefix))) }
        return try body(created)
    }
}

/// Result of running a command-line tool from a test.
public struct CommandResult: Sendable {
    public var status: TerminationStatus
    public var stdout: String
    public var stderr: String
    public var succeeded: Bool { status == .exited(0) }
}

/// Runs independent checkers (`ip`, `nft`) from tests. Product code never does this.
public enum Command {
    /// Runs `executable` with `arguments` in the caller's namespaces (or `netns`) and collects its output;
    /// its stdin reads `input` (else /dev/null).
    public static func run(_ executable: String, _ arguments: [String], netns: String? = nil, environment: [String: String] = ["PATH": Spawner.defaultPath],
                           input: String? = nil) throws -> CommandResult {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("podlab-cmd-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent("out").path, err = dir.appendingPathComponent("err").path
        var stdin = StandardIO.null
        if let input {
            let path = dir.appendingPathComponent("in").path
            try input.write(toFile: path, atomically: false, encoding: .utf8)
            stdin = .file(path)
        }
        let child = try Spawner.spawn(SpawnRequest(executable: executable, arguments: arguments, environment: environment, stdin: stdin,
                                                   stdout: .file(out, append: false), stderr: .file(err, append: false),
                                                   networkNamespace: netns, newSession: false))
        let status = try child.wait()
        return CommandResult(status: status,
                             stdout: (try? String(contentsOfFile: out, encoding: .utf8)) ?? "",
                             stderr: (try? String(contentsOfFile: err, encoding: .utf8)) ?? "")
    }

    /// Runs a command that must succeed, returning stdout.
    @discardableResult
    public static func check(_ executable: String, _ arguments: [String], netns: String? = nil) throws -> String {
        let result = try run(executable, arguments, netns: netns)
        guard result.succeeded else {
            throw CommandFailure(command: ([executable] + arguments).joined(separator: " "), result: result)
        }
        return result.stdout
    }

    /// `ip -n NS -j ARGS…` parsed as a JSON array of objects.
    public static func ipJSON(_ namespace: String?, _ arguments: [String]) throws -> [[String: Any]] {
        let args = (namespace.map { ["-n", $0] } ?? []) + ["-j"] + arguments
        let text = try check("ip", args)
        guard let data = text.data(using: .utf8), !text.isEmpty else { return [] }
        return (try JSONSerialization.jsonObject(with: data) as? [[String: Any]]) ?? []
    }

    /// `nft -j list ruleset` (inside `namespace`) parsed into its `nftables` array.
    public static func nftJSON(_ namespace: String?, _ arguments: [String] = ["list", "ruleset"]) throws -> [[String: Any]] {
        let text = try check("nft", ["-j"] + arguments, netns: namespace)
        guard let data = text.data(using: .utf8),
              let root = try JSONSerialization.jsonObject(with: data) as? [String: Any] else { return [] }
        return root["nftables"] as? [[String: Any]] ?? []
    }
}

public struct CommandFailure: Error, CustomStringConvertible {
    public var command: String
    public var result: CommandResult
    public var description: String { "\(command) failed (\(result.status)): \(result.stderr)\(result.stdout)" }
}
