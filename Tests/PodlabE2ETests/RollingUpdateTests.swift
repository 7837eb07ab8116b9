import Foundation
import KernelTestSupport
import Testing

/// A Deployment rolled out behind a Service while a client in a pod keeps asking it: readiness
/// gates new endpoints, a deleted pod leaves every node's Service rules before its containers
/// hear SIGTERM, and the servers finish what they were answering. Not one request may fail.
@Suite("Rolling updates behind a Service", .serialized, .enabled(if: KernelTest.isRoot, KernelTest.rootRequired), .rootNamespaceUnchanged)
struct RollingUpdateTests {
    static func json(_ lab: TestLab, _ arguments: [String]) throws -> [String: Any] {
        let result = try lab.run(arguments + ["-o", "json"])
        return (try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any]) ?? [:]
    }

    /// The Deployment `web` (3 echo servers, ready once they answer HTTP) and its Service;
    /// `version` is an environment variable of the template, so changing it rolls the pods.
    static func deployment(version: Int) -> String {
        """
        apiVersion: apps/v1
        kind: Deployment
        metadata: {name: web}
        spec:
          replicas: 3
          # Each new pod serves 2 s before the next old one goes: longer rollouts, more requests in them.
          minReadySeconds: 2
          selector: {matchLabels: {app: web}}
          template:
            metadata: {labels: {app: web}}
            spec:
              containers:
              - name: echo
                image: podlab/echo
                env: [{name: VERSION, value: "\(version)"}]
                ports: [{name: http, containerPort: 8080}]
                readinessProbe:
                  httpGet: {path: /, port: 8080}
                  periodSeconds: 1
        ---
        apiVersion: v1
        kind: Service
        metadata: {name: web}
        spec:
          selector: {app: web}
          ports: [{name: http, port: 80, targetPort: http}]
        """
    }

    /// A client that asks the Service in three loops at once, a new connection per request,
    /// alternately by its ClusterIP and by its DNS name, until `stopFile` exists. One line per
    /// request: curl's exit status, then the answer (the echo server's JSON, naming the pod).
    static func client(clusterIP: String, stopFile: String) -> String {
        let loop = """
            ask() { while [ ! -e \(stopFile) ]; do for url in http://\(clusterIP)/ http://web/; do \
            out=$(curl -s -m 5 "$url"); echo "$? $out"; done; done; }; ask & ask & ask & wait; echo finished
            """
        return """
        apiVersion: v1
        kind: Pod
        metadata: {name: client}
        spec:
          restartPolicy: Never
          containers:
          - name: client
            image: curl
            command: ["sh", "-c", \(String(reflecting: loop))]
        """
    }

    /// The client's requests so far, from its log.
    struct Requests {
        var total = 0
        var failed: [String] = []
        /// Answers per pod (the echo server's `hostname`).
        var answers: [String: Int] = [:]
        var finished = false

        init(log: String) {
            for line in log.split(separator: "\n").map(String.init) {
                if line == "finished" { finished = true; continue }
                total += 1
                guard line.hasPrefix("0 {"), let range = line.range(of: #""hostname":""#),
                      let end = line[range.upperBound...].firstIndex(of: "\"") else {
                    failed.append(line)
                    continue
                }
                answers[String(line[range.upperBound..<end]), default: 0] += 1
            }
        }
    }

    static func requests(_ lab: TestLab) throws -> Requests {
        Requests(log: try lab.run(["logs", "client"]).stdout)
    }

    /// The names of the Deployment's pods that are not being deleted, and whether all of them
    /// are ready; `all` counts the terminating ones too.
    static func webPods(_ lab: TestLab) throws -> (active: [String], ready: Bool, all: Int) {
        let items = (try json(lab, ["get", "pods", "-l", "app=web"]))["items"] as? [[String: Any]] ?? []
        var active: [String] = []
        var ready = true
        for item in items {
            let metadata = item["metadata"] as? [String: Any] ?? [:]
            guard metadata["deletionTimestamp"] == nil else { continue }
            active.append(metadata["name"] as? String ?? "")
            let conditions = (item["status"] as? [String: Any])?["conditions"] as? [[String: Any]] ?? []
            ready = ready && conditions.contains { $0["type"] as? String == "Ready" && $0["status"] as? String == "True" }
        }
        return (active.sorted(), ready, items.count)
    }

    /// Applies the template of `version`, waits for the rollout to finish and for the old pods
    /// to be gone; returns the new pods.
    static func roll(_ lab: TestLab, to version: Int) async throws -> [String] {
        try lab.apply(deployment(version: version), as: "web-\(version).yaml")
        try lab.run(["rollout", "status", "deployment/web", "--timeout", "120s"])
        var pods: [String] = []
        try await lab.eventually("the old pods are gone", timeout: .seconds(90)) {
            let current = try webPods(lab)
            pods = current.active
            return current.all == 3 && current.active.count == 3 && current.ready
        }
        return pods
    }

    /// Waits until the client made `count` more requests than `since`.
    static func requests(_ lab: TestLab, moreThan since: Int, by count: Int) async throws -> Requests {
        var latest = try requests(lab)
        try await lab.eventually("\(count) more requests", timeout: .seconds(120)) {
            latest = try requests(lab)
            return latest.total >= since + count
        }
        return latest
    }

    @Test("a client looping requests to the ClusterIP and the DNS name sees no failure through two rolling updates")
    func noFailedRequest() async throws {
        try await TestLab.with { lab in
            try lab.apply(Self.deployment(version: 1), as: "web-1.yaml")
            var first: [String] = []
            try await lab.eventually("3 pods ready", timeout: .seconds(90)) {
                let current = try Self.webPods(lab)
                first = current.active
                return current.active.count == 3 && current.ready
            }
            let clusterIP = (try Self.json(lab, ["get", "svc", "web"])["spec"] as? [String: Any])?["clusterIP"] as? String ?? ""
            #expect(!clusterIP.isEmpty)
            let stopFile = lab.stateRoot + "/stop-client"
            try lab.apply(Self.client(clusterIP: clusterIP, stopFile: stopFile), as: "client.yaml")
            let before = try await Self.requests(lab, moreThan: 0, by: 60)

            let second = try await Self.roll(lab, to: 2)
            let third = try await Self.roll(lab, to: 3)
            let during = try Self.requests(lab)
            let after = try await Self.requests(lab, moreThan: during.total, by: 60)
            try "".write(toFile: stopFile, atomically: true, encoding: .utf8)
            var result = after
            try await lab.eventually("the client stopped") {
                result = try Self.requests(lab)
                return result.finished
            }

            let rolling = during.total - before.total
            print("rolling updates: \(result.total) requests (\(rolling) during the two rollouts), \(result.failed.count) failed; "
                + "answers per pod: \(result.answers.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " "))")
            #expect(result.failed.isEmpty, "failed requests:\n\(result.failed.prefix(20).joined(separator: "\n"))")
            #expect(rolling >= 200, "only \(rolling) requests were made during the rollouts")
            // Every pod of the first and the last generation answered; the middle one served
            // while it lived (each of its pods was ready before an old one went).
            #expect(Set(first).count == 3 && Set(second).count == 3 && Set(third).count == 3)
            #expect(Set(first).isDisjoint(with: second) && Set(second).isDisjoint(with: third))
            for pod in first + third { #expect(result.answers[pod, default: 0] > 0, "\(pod) never answered") }
            #expect(Set(result.answers.keys).isSubset(of: Set(first + second + third)), "\(result.answers)")
        }
    }
}
