// Pod start as Kubernetes' pod-startup SLI measures it (issue 16, "Performance"): one long-lived
// client of each lab's API, a watch of the benchmark's pods opened before any pod is created;
// per pod, the clock starts when its POST is sent to the agent's unix socket and stops when the
// watch delivers the pod with phase Running. No CLI process is in the figure. The cases (a lab
// and an image each: built-in, runc, crun) are interleaved pod by pod, so a machine that gets
// busier halfway slows every case alike. The labs are brought up, loaded and brought down by
// scripts/bench-images; this only creates pods (labelled `bench=pod-start`) and leaves them.
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
    var seen: [String: ContinuousClock.Instant] = [:]
    var waiters: [String: CheckedContinuation<ContinuousClock.Instant?, Never>] = [:]

    func running(_ key: String, at instant: ContinuousClock.Instant) {
        guard seen[key] == nil else { return }
        seen[key] = instant
        waiters.removeValue(forKey: key)?.resume(returning: instant)
    }

    /// When `key` was seen Running, or nil if not within `timeout`.
    func wait(_ key: String, timeout: Duration) async -> ContinuousClock.Instant? {
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
    let body = try await client.stream("/api/v1/namespaces/default/pods", query: [("watch", "true"), ("labelSelector", "bench=pod-start")])
    Task {
        var pending = Data()
        do {
            for try await chunk in body {
                let now = ContinuousClock.now
                pending.append(contentsOf: chunk.readableBytesView)
                while let newline = pending.firstIndex(of: 0x0A) {
                    let line = pending[pending.startIndex..<newline]
                    pending = Data(pending[(newline + 1)...])
                    guard let event = try? JSONSerialization.jsonObject(with: Data(line)) as? [String: Any],
                          let object = event["object"] as? [String: Any],
                          let name = (object["metadata"] as? [String: Any])?["name"] as? String,
                          (object["status"] as? [String: Any])?["phase"] as? String == "Running" else { continue }
                    await running.running("\(lab)/\(name)", at: now)
                }
            }
        } catch {
            print("  \(lab): watch ended: \(error)")
        }
    }
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
        starts[benchCase.name, default: []].append(milliseconds(seen - sent))
        posts[benchCase.name, default: []].append(milliseconds(answered - sent))
    }
}

func format(_ value: Double) -> String { String(format: "%8.1f", value) }
print("  " + "case".padding(toLength: 12, withPad: " ", startingAt: 0) + "  pods   median      p90      min      max   (POST answered, median)")
for benchCase in cases {
    let values = starts[benchCase.name] ?? []
    print("  " + benchCase.name.padding(toLength: 12, withPad: " ", startingAt: 0)
          + String(format: "  %4d", values.count)
          + format(percentile(values, 50)) + " " + format(percentile(values, 90)) + " "
          + format(values.min() ?? .nan) + " " + format(values.max() ?? .nan)
          + "   (" + format(percentile(posts[benchCase.name] ?? [], 50)).trimmingCharacters(in: .whitespaces) + " ms)")
}
exit(0)
