import Foundation
import KernelTestSupport
import Netns
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// A Deployment rolled out behind a Service while clients in a pod keep asking it (a new
/// connection per request, and one keep-alive connection after another): readiness
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
    /// It starts counting once each URL answered (the rules of its node carry the endpoints).
    static func client(clusterIP: String, stopFile: String) -> String {
        let loop = """
            for url in http://\(clusterIP)/ http://web/; do until curl -s -m 1 -o /dev/null "$url"; do sleep 0.2; done; done; \
            ask() { while [ ! -e \(stopFile) ]; do for url in http://\(clusterIP)/ http://web/; do \
            out=$(curl -s -m 20 "$url"); echo "$? $out"; done; done; }; ask & ask & ask & wait; echo finished
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

    /// A keep-alive HTTP client: requests one after another on one connection to the
    /// ClusterIP, from inside the client pod's network namespace, on a thread of its own. A
    /// server closing an idle reused connection (a terminating one does) is not a failure:
    /// the request had not been taken, and is sent again on a new connection, as HTTP
    /// clients retry idempotent requests. A failure is anything else: a new connection that
    /// fails, or an answer cut short or wrong.
    final class KeepAliveClient: Sendable {
        struct Counts {
            var requests = 0
            var connections = 0
            var closedWhileIdle = 0
            var failures: [String] = []
            var stopped = false
            var finished = false
        }

        let counts = Locked(Counts())
        let namespace: String
        let address: String

        init(namespace: String, address: String) {
            self.namespace = namespace
            self.address = address
        }

        func start() {
            Thread.detachNewThread { self.run() }
        }

        /// The requests answered so far.
        var requests: Int { counts.withLock { $0.requests } }

        /// Stops after the request in progress; waits up to 30 s for it.
        func stop() -> Counts {
            counts.withLock { $0.stopped = true }
            for _ in 0..<3000 {
                if counts.withLock({ $0.finished }) { break }
                usleep(10_000)
            }
            return counts.withLock { $0 }
        }

        private func connect() -> Int32? {
            guard let fd = try? NetworkNamespace.open(namespace).perform({ socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0) }),
                  fd >= 0 else { return nil }
            // An answer may be slow on a loaded machine, but not lost: 20 s for the connection
            // (SO_SNDTIMEO bounds connect) and for each answer.
            var timeout = timeval(tv_sec: 20, tv_usec: 0)
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            var target = sockaddr_in()
            target.sin_family = sa_family_t(AF_INET)
            target.sin_port = UInt16(80).bigEndian
            inet_pton(AF_INET, address, &target.sin_addr)
            let rc = withUnsafePointer(to: &target) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            guard rc == 0 else { close(fd); return nil }
            return fd
        }

        private enum Outcome { case answered(keepAlive: Bool), closedBeforeAnswer, failed(String) }

        /// One request and its whole answer (the echo server's JSON, by Content-Length).
        private func exchange(_ fd: Int32) -> Outcome {
            let request = "GET / HTTP/1.1\r\nHost: web\r\n\r\n"
            let sent = request.withCString { send(fd, $0, strlen($0), Int32(MSG_NOSIGNAL)) }
            guard sent == request.utf8.count else { return .closedBeforeAnswer }
            var received: [UInt8] = []
            var buffer = [UInt8](repeating: 0, count: 8192)
            while true {
                let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
                if n <= 0 {
                    let reason = n == 0 ? "closed" : String(cString: strerror(errno))
                    if received.isEmpty && (n == 0 || errno == ECONNRESET) { return .closedBeforeAnswer }
                    return .failed("\(reason) after \(received.count) bytes of an answer")
                }
                received += buffer[0..<n]
                let text = String(decoding: received, as: UTF8.self)
                guard let headEnd = text.range(of: "\r\n\r\n") else { continue }
                let head = text[..<headEnd.lowerBound]
                guard let lengthLine = head.split(separator: "\r\n").first(where: { $0.lowercased().hasPrefix("content-length:") }),
                      let length = Int(lengthLine.dropFirst("content-length:".count).trimmingCharacters(in: .whitespaces)) else {
                    return .failed("an answer without Content-Length: \(head)")
                }
                let bodyBytes = received.count - text[..<headEnd.upperBound].utf8.count
                if bodyBytes < length { continue }
                guard head.hasPrefix("HTTP/1.1 200 OK"), text.contains("\"hostname\":\"web-") else { return .failed("unexpected answer: \(text)") }
                return .answered(keepAlive: !head.lowercased().contains("connection: close"))
            }
        }

        private func run() {
            var fd: Int32?
            var fresh = true
            while !counts.withLock({ $0.stopped }) {
                if fd == nil {
                    fd = connect()
                    fresh = true
                    guard fd != nil else {
                        counts.withLock { $0.failures.append("connect to \(address):80 failed: \(String(cString: strerror(errno)))") }
                        usleep(10_000)
                        continue
                    }
                    counts.withLock { $0.connections += 1 }
                }
                switch exchange(fd!) {
                case let .answered(keepAlive):
                    counts.withLock { $0.requests += 1 }
                    fresh = false
                    if !keepAlive { close(fd!); fd = nil }
                    // A thousand requests a second at most: enough to be inside an answer when
                    // a server stops, without taking a core from the pods and the agent.
                    usleep(1_000)
                case .closedBeforeAnswer:
                    counts.withLock { counts in
                        if fresh { counts.failures.append("a new connection closed before answering") } else { counts.closedWhileIdle += 1 }
                    }
                    close(fd!)
                    fd = nil
                case let .failed(reason):
                    counts.withLock { $0.failures.append(reason) }
                    close(fd!)
                    fd = nil
                }
            }
            if let fd { close(fd) }
            counts.withLock { $0.finished = true }
        }
    }

    /// A thousand Services without selectors (no endpoints to keep): each sync of a node's rules
    /// then takes a tenth of a second or more here, the window in which a pod told to stop
    /// before its node's rules left it would refuse the requests still sent to it.
    static let otherServices = (0..<1000).map { index in
        "apiVersion: v1\nkind: Service\nmetadata: {name: other-\(index)}\nspec: {ports: [{port: 80}]}"
    }.joined(separator: "\n---\n")

    @Test("a client looping requests to the ClusterIP and the DNS name sees no failure through two rolling updates")
    func noFailedRequest() async throws {
        try await TestLab.with { lab in
            try lab.apply(Self.otherServices, as: "other-services.yaml")
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
            let keepAlive = KeepAliveClient(namespace: lab.podNamespace("client"), address: clusterIP)
            keepAlive.start()

            let clock = ContinuousClock()
            let secondStart = clock.now
            let keptBefore = keepAlive.requests
            let second = try await Self.roll(lab, to: 2)
            let between = try Self.requests(lab)
            let keptBetween = keepAlive.requests
            let thirdStart = clock.now
            let third = try await Self.roll(lab, to: 3)
            let during = try Self.requests(lab)
            let keptDuring = keepAlive.requests
            let rollouts = [(between.total - before.total, thirdStart - secondStart), (during.total - between.total, clock.now - thirdStart)]
            let rolloutText = rollouts.map { "\($0.0) requests in \($0.1.formatted(.units(allowed: [.seconds], fractionalPart: .show(length: 1))))" }
                .joined(separator: ", then ")
            let after = try await Self.requests(lab, moreThan: during.total, by: 60)
            let kept = keepAlive.stop()
            try "".write(toFile: stopFile, atomically: true, encoding: .utf8)
            var result = after
            try await lab.eventually("the client stopped") {
                result = try Self.requests(lab)
                return result.finished
            }

            let rolling = during.total - before.total
            print("rolling updates: \(result.total) requests (\(rolling) during the two rollouts: \(rolloutText)), \(result.failed.count) failed; "
                + "answers per pod: \(result.answers.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " "))")
            #expect(result.failed.isEmpty, "failed requests:\n\(result.failed.prefix(20).joined(separator: "\n"))")
            print("keep-alive client: \(kept.requests) requests on \(kept.connections) connections, "
                + "\(kept.closedWhileIdle) closed by a terminating server between requests, \(kept.failures.count) failed")
            #expect(kept.failures.isEmpty, "keep-alive failures:\n\(kept.failures.prefix(20).joined(separator: "\n"))")
            for (rollout, requests) in [keptBetween - keptBefore, keptDuring - keptBetween].enumerated() {
                #expect(requests >= 10, "the keep-alive client made only \(requests) requests during rollout \(rollout + 1)")
            }
            // Its first server was one of the first pods, all gone: it closed the connection.
            #expect(kept.connections >= 2)
            // Requests kept flowing through each rollout (each lasts 6 s or more: three new pods,
            // each serving 2 s before an old one goes); how many depends on the machine's speed,
            // the claim is that none failed.
            for (requests, _) in rollouts {
                #expect(requests >= 10, "too few requests during a rollout to tell: \(rolloutText)")
            }
            // Every pod of the first and the last generation answered; the middle one served
            // while it lived (each of its pods was ready before an old one went).
            #expect(Set(first).count == 3 && Set(second).count == 3 && Set(third).count == 3)
            #expect(Set(first).isDisjoint(with: second) && Set(second).isDisjoint(with: third))
            for pod in first + third { #expect(result.answers[pod, default: 0] > 0, "\(pod) never answered") }
            #expect(Set(result.answers.keys).isSubset(of: Set(first + second + third)), "\(result.answers)")
        }
    }
}
