// Pod start as Kubernetes' pod-startup SLI measures it (issue 16, "Performance"): one long-lived
// client of each lab's API, a watch of the benchmark's pods opened before any pod is created;
// per pod, the clock starts when its POST is sent to the agent's unix socket and stops when the
// watch delivers the pod with phase Running. No CLI process is in the figure. The cases (a lab
// and an image each: built-in, runc, crun) are interleaved pod by pod, so a machine that gets
// busier halfway slows every case alike. The labs are brought up, loaded and brought down by
// scripts/bench-images; this only creates pods (labelled `bench=pod-start`) and leaves them.
//
// A container of an OCI image is Running once the runtime has written its pid file (created and
// started it), as Kubernetes' kubelet reports it Running after CRI StartContainer returned. The
// run also times POST sent → the container's process started, which checks that: a descendant of the runtime's `run` for the container's ID (a
// child of the agent) that has exec'd the image's entrypoint (its `comm` no longer the
// runtime's), polled from /proc every 0.25 ms once the watch said Running.
//
//   pod-start-bench --pods N CASE=LAB:IMAGE [CASE=LAB:IMAGE ...]

#if canImport(Glibc)
import Glibc
#endif
import Foundation
import NIOCore
import PodlabAgent
import PodlabCLI

struct Case {
    var name: String
    var lab: String
    var image: String
}

var pods = 20
var cases: [Case] = []
var arguments = Array(CommandLine.arguments.dropFirst())
while let argument = arguments.first {
    arguments.removeFirst()
    if argument == "--pods", let value = arguments.first.flatMap({ Int($0) }), value > 0 {
        arguments.removeFirst()
        pods = value
        continue
    }
    let parts = argument.split(separator: "=", maxSplits: 1)
    let target = parts.count == 2 ? parts[1].split(separator: ":", maxSplits: 1) : []
    guard target.count == 2 else {
        print("usage: pod-start-bench [--pods N] CASE=LAB:IMAGE [CASE=LAB:IMAGE ...]")
        exit(2)
    }
    cases.append(Case(name: String(parts[0]), lab: String(target[0]), image: String(target[1])))
}
if cases.isEmpty {
    print("usage: pod-start-bench [--pods N] CASE=LAB:IMAGE [CASE=LAB:IMAGE ...]")
    exit(2)
}

/// When each pod was first seen Running on a watch, and who waits for it.
actor RunningPods {
    typealias Seen = (at: ContinuousClock.Instant, containerID: String)
    var seen: [String: Seen] = [:]
    var waiters: [String: CheckedContinuation<Seen?, Never>] = [:]

    func running(_ key: String, at instant: ContinuousClock.Instant, containerID: String) {
        guard seen[key] == nil else { return }
        seen[key] = (instant, containerID)
        waiters.removeValue(forKey: key)?.resume(returning: (instant, containerID))
    }

    /// When `key` was seen Running (and its container's ID), or nil if not within `timeout`.
    func wait(_ key: String, timeout: Duration) async -> Seen? {
        if let instant = seen[key] { return instant }
        Task {
            try? await Task.sleep(for: timeout)
            self.giveUp(key)
        }
        return await withCheckedContinuation { waiters[key] = $0 }
    }

    func giveUp(_ key: String) {
        waiters.removeValue(forKey: key)?.resume(returning: nil)
    }
}

let running = RunningPods()

/// Reads a lab's watch of the benchmark's pods; each pod's first event with phase Running is
/// timed on arrival.
func watch(_ client: APIClient, lab: String) async throws {
    let lines = try await client.arrivingLines("/api/v1/namespaces/default/pods", query: [("watch", "true"), ("labelSelector", "bench=pod-start")])
    Task {
        do {
            for try await line in lines {
                guard let event = try? JSONSerialization.jsonObject(with: line.text) as? [String: Any],
                      let object = event["object"] as? [String: Any],
                      let name = (object["metadata"] as? [String: Any])?["name"] as? String,
                      let status = object["status"] as? [String: Any], status["phase"] as? String == "Running" else { continue }
                let containerID = (status["containerStatuses"] as? [[String: Any]])?.first?["containerID"] as? String ?? ""
                await running.running("\(lab)/\(name)", at: line.arrived, containerID: containerID)
            }
        } catch {
            print("  \(lab): watch ended: \(error)")
        }
    }
}

/// A small /proc file's contents (no Foundation on the polling path).
func readProc(_ path: String) -> String? {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var buffer = [UInt8](repeating: 0, count: 4096)
    let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress!, $0.count) }
    return count < 0 ? nil : String(decoding: buffer[0..<count], as: UTF8.self)
}

/// The children of every thread of `pid` (the agent spawns from its namespace worker).
func children(_ pid: Int32) -> [Int32] {
    guard let directory = opendir("/proc/\(pid)/task") else { return [] }
    defer { closedir(directory) }
    var result: [Int32] = []
    while let entry = readdir(directory) {
        let tid = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        guard Int32(tid) != nil else { continue }
        result += (readProc("/proc/\(pid)/task/\(tid)/children") ?? "").split(separator: " ").compactMap { Int32($0) }
    }
    return result
}

/// Whether the process of the runtime's container `id` has started: a descendant of the
/// runtime's `run` for it that is no longer the runtime (runc's `runc:[2:INIT]`, crun's child)
/// but the image's entrypoint.
func containerStarted(agent: Int32, id: String) -> Bool {
    for child in children(agent) {
        guard let command = readProc("/proc/\(child)/cmdline"), command.contains(id) else { continue }
        var queue = children(child)
        while let pid = queue.popLast() {
            if let name = readProc("/proc/\(pid)/comm")?.filter({ $0 != "\n" }), !name.hasPrefix("runc"), name != "crun" { return true }
            queue += children(pid)
        }
    }
    return false
}

func agentPID(_ lab: String) -> Int32? {
    (try? String(contentsOfFile: LabPaths(lab: lab).pidFile, encoding: .utf8))
        .flatMap { $0.split(whereSeparator: \.isWhitespace).first.flatMap { Int32($0) } }
}

func milliseconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) * 1000 + Double(duration.components.attoseconds) / 1e15
}

/// The nearest-rank percentile of `values`.
func percentile(_ values: [Double], _ p: Double) -> Double {
    let sorted = values.sorted()
    guard !sorted.isEmpty else { return .nan }
    let rank = Int((p / 100 * Double(sorted.count)).rounded(.up))
    return sorted[min(sorted.count - 1, max(0, rank - 1))]
}

let clients = Dictionary(cases.map { ($0.lab, APIClient(paths: LabPaths(lab: $0.lab))) }) { first, _ in first }
for (lab, client) in clients.sorted(by: { $0.key < $1.key }) {
    try await watch(client, lab: lab)
}
// A pod the watch could miss would hang the run: the watch is open once its head arrived (above).

var starts: [String: [Double]] = [:]
var posts: [String: [Double]] = [:]
var processes: [String: [Double]] = [:]
let run = String(UInt32(truncatingIfNeeded: getpid()), radix: 36)
for index in 1...pods {
    for benchCase in cases {
        let name = "ps-\(run)-\(benchCase.name)-\(index)"
        let pod: [String: Any] = [
            "apiVersion": "v1", "kind": "Pod",
            "metadata": ["name": name, "labels": ["bench": "pod-start", "case": benchCase.name]],
            "spec": ["restartPolicy": "Never", "containers": [["name": "main", "image": benchCase.image]]],
        ]
        let body = try JSONSerialization.data(withJSONObject: pod)
        let client = clients[benchCase.lab]!
        let sent = ContinuousClock.now
        _ = try await client.send(.POST, "/api/v1/namespaces/default/pods", body: body)
        let answered = ContinuousClock.now
        guard let seen = await running.wait("\(benchCase.lab)/\(name)", timeout: .seconds(60)) else {
            print("  \(benchCase.name): pod \(name) in lab \(benchCase.lab) not Running within 60 s")
            exit(1)
        }
        starts[benchCase.name, default: []].append(milliseconds(seen.at - sent))
        if let separator = seen.containerID.range(of: "://"), ["runc", "crun"].contains(seen.containerID[..<separator.lowerBound]),
           let agent = agentPID(benchCase.lab) {
            let id = String(seen.containerID[separator.upperBound...])
            let deadline = ContinuousClock.now + .seconds(10)
            while !containerStarted(agent: agent, id: id), ContinuousClock.now < deadline {
                usleep(250)
            }
            let started = ContinuousClock.now
            if started < deadline { processes[benchCase.name, default: []].append(milliseconds(started - sent)) }
        }
        posts[benchCase.name, default: []].append(milliseconds(answered - sent))
    }
}

func format(_ value: Double) -> String { String(format: "%8.1f", value) }
print("  POST sent → Running seen on the watch, ms")
print("  " + "case".padding(toLength: 12, withPad: " ", startingAt: 0) + "  pods   median      p90      min      max   (POST answered, median)")
for benchCase in cases {
    let values = starts[benchCase.name] ?? []
    print("  " + benchCase.name.padding(toLength: 12, withPad: " ", startingAt: 0)
          + String(format: "  %4d", values.count)
          + format(percentile(values, 50)) + " " + format(percentile(values, 90)) + " "
          + format(values.min() ?? .nan) + " " + format(values.max() ?? .nan)
          + "   (" + format(percentile(posts[benchCase.name] ?? [], 50)).trimmingCharacters(in: .whitespaces) + " ms)")
}
if !processes.isEmpty {
    print("  POST sent → the container's process started (the runtime's create + start done), ms")
    for benchCase in cases {
        guard let values = processes[benchCase.name] else { continue }
        print("  " + benchCase.name.padding(toLength: 12, withPad: " ", startingAt: 0)
              + String(format: "  %4d", values.count)
              + format(percentile(values, 50)) + " " + format(percentile(values, 90)) + " "
              + format(values.min() ?? .nan) + " " + format(values.max() ?? .nan))
    }
}
exit(0)
