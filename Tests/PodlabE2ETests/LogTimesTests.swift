import Foundation
import KernelTestSupport
import PodNet
import Testing

/// `logs --timestamps`, `--since`, `--since-time` (`pods/log` `timestamps`, `sinceSeconds`,
/// `sinceTime`): each line carries the time the agent saw it arrive in the container's log file.
@Suite("logs --timestamps and --since against a lab", .enabled(if: KernelTest.isRoot, KernelTest.rootRequired), .rootNamespaceUnchanged)
struct LogTimesTests {
    /// `2026-12-06T18:00:00.123456789Z text` → (nanoseconds since 1970, text).
    static func stamped(_ line: Substring) throws -> (Int64, String) {
        let parts = line.split(separator: " ", maxSplits: 1)
        let stamp = String(try #require(parts.first))
        #expect(stamp.count == 30 && stamp.hasSuffix("Z") && stamp.dropFirst(19).first == ".", "\(line)")
        let seconds = try Timestamp(parsing: String(stamp.prefix(19)) + "Z").secondsSince1970
        let fraction = try #require(Int64(stamp.dropFirst(20).dropLast()))
        return (seconds * 1_000_000_000 + fraction, parts.count > 1 ? String(parts[1]) : "")
    }

    static func nowNanoseconds() -> Int64 { Int64(Date().timeIntervalSince1970 * 1e9) }

    @Test("each line after the time it was written, in the kubelet's form; --since and sinceTime leave older lines out; tail first; bad values refused")
    func timestampsAndSince() async throws {
        try await TestLab.with { lab in
            let before = Self.nowNanoseconds()
            try lab.run(["run", "stamped", "--image", "busybox", "--restart=Never", "--", "sh", "-c",
                         "echo first; sleep 5; echo second; echo third; sleep 3600"])
            try await lab.eventually("third logged") { try lab.run(["logs", "stamped"], expectSuccess: false).stdout.contains("third") }
            let after = Self.nowNanoseconds()

            let output = try lab.run(["logs", "stamped", "--timestamps"]).stdout
            let lines = try output.split(separator: "\n").map(Self.stamped)
            #expect(lines.map(\.1) == ["first", "second", "third"], "\(output)")
            guard lines.count == 3 else { return }
            for (time, text) in lines {
                #expect(time >= before - 1_000_000_000 && time <= after, "\(text) at \(time): not between \(before) and \(after)")
            }
            let gap = Double(lines[1].0 - lines[0].0) / 1e9
            // A line is stamped when the agent's thread wakes to it, late on a loaded machine: 5 s
            // between the lines leave room for a late first stamp.
            #expect(gap >= 1.5 && gap < 30, "second came \(gap) s after first; the container slept 5 s between them")
            #expect(lines[2].0 >= lines[1].0)
            // Without --timestamps, the lines as written.
            #expect(try lab.run(["logs", "stamped"]).stdout == "first\nsecond\nthird\n")
            // The last line, stamped as before.
            #expect(try lab.run(["logs", "stamped", "--timestamps", "--tail=1"]).stdout == String(output.split(separator: "\n")[2]) + "\n")

            // sinceTime at the second of "second": "first" (5 s earlier) is left out.
            let secondOfSecond = Timestamp(secondsSince1970: lines[1].0 / 1_000_000_000).description
            let since = try #require(try lab.raw(TestLab.request("GET", "/api/v1/namespaces/default/pods/stamped/log?sinceTime=\(secondOfSecond)")))
            #expect(since.code == 200 && since.body == "second\nthird\n", "\(since.code) \(since.body)")
            // --since: everything in the last hour; nothing in the last second once the log is 2 s quiet.
            #expect(try lab.run(["logs", "stamped", "--since=1h"]).stdout == "first\nsecond\nthird\n")
            try await Task.sleep(for: .seconds(2))
            #expect(try lab.run(["logs", "stamped", "--since=1s"]).stdout == "")

            for (query, message) in [
                ("sinceSeconds=0", #"PodLogOptions \"stamped\" is invalid: sinceSeconds: Invalid value: 0: must be greater than 0"#),
                ("sinceSeconds=5&sinceTime=\(secondOfSecond)", "at most one of `sinceTime` or `sinceSeconds` may be specified"),
            ] {
                let refused = try #require(try lab.raw(TestLab.request("GET", "/api/v1/namespaces/default/pods/stamped/log?\(query)")))
                #expect(refused.code == 422 && refused.body.contains(message), "\(query): \(refused.code) \(refused.body)")
            }

            // kubectl prints what podlab prints.
            for binary in KubectlBinary.found {
                let kubectl = try KubectlTests.kubectl(binary, for: lab)
                defer { try? FileManager.default.removeItem(atPath: kubectl.cacheDirectory) }
                #expect(try kubectl.run(["logs", "stamped", "--timestamps"]).stdout == output, "kubectl \(binary.version)")
                #expect(try kubectl.run(["logs", "stamped", "--since-time=\(secondOfSecond)"]).stdout == "second\nthird\n", "kubectl \(binary.version)")
                #expect(try kubectl.run(["logs", "stamped", "--since=1s"]).stdout == "", "kubectl \(binary.version)")
            }
        }
    }

    @Test("a followed log: lines stamped as they come, and the stream ends with the container")
    func followed() async throws {
        try await TestLab.with { lab in
            try lab.run(["run", "ticking", "--image", "busybox", "--restart=Never", "--", "sh", "-c",
                         "for i in 1 2 3 4 5; do echo tick $i; sleep 1; done"])
            try await lab.eventually("ticking started") { try lab.run(["logs", "ticking"], expectSuccess: false).stdout.contains("tick 1") }
            let output = try lab.run(["logs", "ticking", "-f", "--timestamps"]).stdout
            let lines = try output.split(separator: "\n").map(Self.stamped)
            #expect(lines.map(\.1) == (1...5).map { "tick \($0)" }, "\(output)")
            guard lines.count == 5 else { return }
            let spread = Double(lines[4].0 - lines[0].0) / 1e9
            #expect(spread >= 2, "five ticks 1 s apart came within \(spread) s")
            #expect(zip(lines, lines.dropFirst()).allSatisfy { $0.0 <= $1.0 })
        }
    }
}
