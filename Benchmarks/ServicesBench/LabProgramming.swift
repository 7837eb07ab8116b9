// Network programming latency through the agent, in a real lab (issue 11: "a pod turning Ready →
// its endpoint answering through the ClusterIP, with 10 000 services present"). The lab is
// brought up by scripts/bench-services (`--lab`) under a unique name and brought down there.

#if canImport(Glibc)
import Glibc
#endif
import Foundation
import NIOCore
import NIOHTTP1
import Netns
import PodlabAgent
import PodlabCLI
import PodNet

/// A pod's Ready condition as the agent's watch reported it, with when the event arrived here.
struct ReadyEvent: Sendable {
    var ready: Bool
    var at: ContinuousClock.Instant
}

/// The pods of `selector` watched through the agent: each change of their Ready condition, timed
/// on arrival (the moment the agent published it, give or take the socket).
func watchReadiness(_ client: APIClient, selector: String) async throws -> AsyncStream<ReadyEvent> {
    let lines = try await client.arrivingLines("/api/v1/namespaces/default/pods", query: [("watch", "true"), ("labelSelector", selector)])
    let (events, continuation) = AsyncStream.makeStream(of: ReadyEvent.self)
    Task {
        var last: Bool?
        do {
            for try await line in lines {
                guard let event = try? JSONSerialization.jsonObject(with: line.text) as? [String: Any],
                      let object = event["object"] as? [String: Any], let status = object["status"] as? [String: Any] else { continue }
                let conditions = status["conditions"] as? [[String: Any]] ?? []
                let ready = conditions.first { $0["type"] as? String == "Ready" }?["status"] as? String == "True"
                if ready != last {
                    last = ready
                    continuation.yield(ReadyEvent(ready: ready, at: line.arrived))
                }
            }
        } catch {
            print("  watch ended: \(error)")
        }
        continuation.finish()
    }
    return events
}

/// A TCP listener on `port` inside `namespace` (the caller closes it).
func listen(in namespace: NetworkNamespace, port: UInt16) throws -> Int32 {
    let listener: Int32 = try namespace.perform { socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0) }
    try check(listener, "socket")
    var one: Int32 = 1
    setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
    var any = socketAddress(IPv4Address.any, port)
    do {
        try check(withUnsafePointer(to: &any) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }, "bind")
        try check(Glibc.listen(listener, 64), "listen")
    } catch {
        close(listener)
        throw error
    }
    return listener
}

/// Connects from `namespace` to `address:port` every millisecond until a connect is refused
/// (the endpoint left the Service's rules); false if it never is within `deadline`.
func waitUntilRefused(from namespace: NetworkNamespace, to address: IPv4Address, port: UInt16, deadline: Duration = .seconds(10)) throws -> Bool {
    var target = socketAddress(address, port)
    let end = ContinuousClock.now + deadline
    while ContinuousClock.now < end {
        let fd: Int32 = try namespace.perform { socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0) }
        try check(fd, "socket")
        let result = withUnsafePointer(to: &target) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        let refused = result < 0 && errno == ECONNREFUSED
        var linger = Glibc.linger(l_onoff: 1, l_linger: 0)
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<Glibc.linger>.size))
        close(fd)
        if refused { return true }
        usleep(1_000)
    }
    return false
}

/// Accepts one connection (and closes it): when it arrived, or nil after `timeout`.
func acceptOne(_ listener: Int32, timeout: Duration) -> ContinuousClock.Instant? {
    var entry = pollfd(fd: listener, events: Int16(POLLIN), revents: 0)
    guard poll(&entry, 1, Int32(timeout.components.seconds * 1_000)) == 1 else { return nil }
    let at = ContinuousClock.now
    let accepted = accept(listener, nil, nil)
    if accepted >= 0 { close(accepted) }
    return at
}

/// Sockets made ahead in `namespace`, so the timed loop only connects.
func tcpSockets(in namespace: NetworkNamespace, count: Int) throws -> [Int32] {
    let sockets: [Int32] = try namespace.perform { (0..<count).map { _ in socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0) } }
    for fd in sockets { try check(fd, "socket") }
    return sockets
}

/// Connects to `address:port` through `prepared` sockets (and more made as needed) until one
/// connect succeeds: when it did, and how many tries it took. Every socket is closed.
func firstConnect(from namespace: NetworkNamespace, to address: IPv4Address, port: UInt16, prepared: [Int32],
                  deadline: Duration = .seconds(10)) throws -> (at: ContinuousClock.Instant?, tries: Int) {
    var target = socketAddress(address, port)
    let end = ContinuousClock.now + deadline
    var sockets = prepared
    var tries = 0
    defer { for fd in sockets { close(fd) } }
    while ContinuousClock.now < end {
        for fd in sockets {
            tries += 1
            let result = withUnsafePointer(to: &target) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
            if result != 0 {
                // Refused (the rules are not there yet): a short pause leaves the CPU to the agent.
                usleep(50)
                continue
            }
            let at = ContinuousClock.now
            var linger = Glibc.linger(l_onoff: 1, l_linger: 0)
            setsockopt(fd, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<Glibc.linger>.size))
            return (at, tries)
        }
        for fd in sockets { close(fd) }
        sockets = []
        sockets = try tcpSockets(in: namespace, count: 64)
    }
    return (nil, tries)
}

func json(_ object: [String: Any]) throws -> Data { try JSONSerialization.data(withJSONObject: object) }

/// Pods of `selector` (their names), once `condition` holds for each.
func waitForPods(_ client: APIClient, selector: String, count: Int, timeout: Duration = .seconds(120),
                 _ condition: ([String: Any]) -> Bool) async throws -> [String] {
    let end = ContinuousClock.now + timeout
    while ContinuousClock.now < end {
        let list = try JSONSerialization.jsonObject(with: try await client.send(.GET, "/api/v1/namespaces/default/pods", query: [("labelSelector", selector)]).body) as? [String: Any]
        let items = (list?["items"] as? [[String: Any]] ?? []).filter(condition)
        if items.count == count { return items.compactMap { ($0["metadata"] as? [String: Any])?["name"] as? String } }
        try await Task.sleep(for: .milliseconds(200))
    }
    throw BenchError("pods \(selector) did not get there in \(timeout)")
}

func isRunning(_ pod: [String: Any]) -> Bool { (pod["status"] as? [String: Any])?["phase"] as? String == "Running" }

/// The lab-level measurement: `count` selector-less Services made through the API, one Service
/// with a Deployment of one pod behind it (readiness: a TCP probe every second on a port this
/// benchmark opens and closes inside the pod), and a client pod. Each transition: the port opens,
/// the probe connects to it (the clock starts as this benchmark accepts that connection), the
/// agent marks the pod Ready, its endpoint slice and every node's rules follow, and a client in
/// the client pod connects through the ClusterIP (the clock stops); the Ready watch event's
/// arrival is noted beside it. Then the port closes, the pod turns not ready, and the ClusterIP
/// refuses again before the next transition.
func labProgrammingLatency(lab: String, services count: Int, transitions: Int) async throws {
    let client = APIClient(paths: LabPaths(lab: lab))
    print("network programming latency through the agent (lab \(lab)): a pod turns Ready → it answers through the ClusterIP from a client pod, "
          + "\(count) other services present, \(transitions) transitions (p50 / p99 / max)")

    // The Services, a few requests in flight (as many clients would send them).
    let created = ContinuousClock.now
    let inFlight = 8
    try await withThrowingTaskGroup(of: Void.self) { group in
        for worker in 0..<inFlight {
            group.addTask {
                for index in stride(from: worker, to: count, by: inFlight) {
                    let body = try json(["apiVersion": "v1", "kind": "Service", "metadata": ["name": "bulk-\(index)"],
                                         "spec": ["ports": [["port": 80, "protocol": "TCP"]]]])
                    _ = try await client.send(.POST, "/api/v1/namespaces/default/services", body: body)
                }
            }
        }
        try await group.waitForAll()
    }
    print("  " + pad("\(count) services created through the API", 44) + ms(seconds(ContinuousClock.now - created)) + " in all")

    let app = "plbench-target"
    let service = try JSONSerialization.jsonObject(with: try await client.send(.POST, "/api/v1/namespaces/default/services", body: try json([
        "apiVersion": "v1", "kind": "Service", "metadata": ["name": app],
        "spec": ["selector": ["app": app], "ports": [["port": 80, "targetPort": 8080, "protocol": "TCP"]]],
    ])).body) as? [String: Any]
    guard let clusterIP = ((service?["spec"] as? [String: Any])?["clusterIP"] as? String).flatMap(IPv4Address.init) else {
        throw BenchError("no clusterIP in \(String(describing: service))")
    }
    let probePort: UInt16 = 9000
    _ = try await client.send(.POST, "/apis/apps/v1/namespaces/default/deployments", body: try json([
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": ["name": app],
        "spec": ["replicas": 1, "selector": ["matchLabels": ["app": app]], "template": [
            "metadata": ["labels": ["app": app]],
            "spec": ["containers": [[
                "name": "echo", "image": "podlab/echo", "ports": [["containerPort": 8080]],
                "readinessProbe": ["tcpSocket": ["port": Int(probePort)], "periodSeconds": 1, "failureThreshold": 1, "successThreshold": 1, "timeoutSeconds": 1],
            ]]],
        ]],
    ]))
    _ = try await client.send(.POST, "/api/v1/namespaces/default/pods", body: try json([
        "apiVersion": "v1", "kind": "Pod", "metadata": ["name": "plbench-client", "labels": ["app": "plbench-client"]],
        "spec": ["containers": [["name": "client", "image": "curl", "command": ["sleep", "36000"]]]],
    ]))
    guard let target = try await waitForPods(client, selector: "app=\(app)", count: 1, isRunning).first else { throw BenchError("no target pod") }
    _ = try await waitForPods(client, selector: "app=plbench-client", count: 1, isRunning)
    let targetNamespace = try NetworkNamespace.open("\(lab)_pod_default_\(target)")
    let clientNamespace = try NetworkNamespace.open("\(lab)_pod_default_plbench-client")
    print("  " + pad("target \(target), Service \(app) at \(clusterIP)", 44))

    var events = try await watchReadiness(client, selector: "app=\(app)").makeAsyncIterator()
    // The watch starts with the pod as it is: not ready (nothing listens on the probe's port).
    guard let initial = await events.next(), !initial.ready else { throw BenchError("the target pod is ready before its probe port opened") }

    var latencies: [Double] = [], eventAfterProbe: [Double] = [], attempts: [Int] = []
    for transition in 0..<transitions {
        let prepared = try tcpSockets(in: clientNamespace, count: 64)
        let listener = try listen(in: targetNamespace, port: probePort)
        // The probe's connection is the moment the pod's readiness passes: the clock starts there.
        guard let probed = acceptOne(listener, timeout: .seconds(5)) else {
            close(listener)
            throw BenchError("transition \(transition): no readiness probe reached port \(probePort) in 5 s")
        }
        let (connected, tries) = try firstConnect(from: clientNamespace, to: clusterIP, port: 80, prepared: prepared)
        guard let connected else { close(listener); throw BenchError("transition \(transition): the ClusterIP never answered") }
        guard let ready = await events.next(), ready.ready else { close(listener); throw BenchError("transition \(transition): no Ready event") }
        latencies.append(seconds(connected - probed))
        eventAfterProbe.append(seconds(ready.at - probed))
        attempts.append(tries)
        close(listener)
        guard let unready = await events.next(), !unready.ready else { throw BenchError("transition \(transition): no not-Ready event") }
        guard try waitUntilRefused(from: clientNamespace, to: clusterIP, port: 80) else {
            throw BenchError("transition \(transition): the ClusterIP still answered 10 s after the pod turned not ready")
        }
    }
    func percentile(_ values: [Double], _ p: Int) -> Double { values.sorted()[min(values.count - 1, values.count * p / 100)] }
    print("  " + pad("probe passed → answering through the ClusterIP", 48) + ms(percentile(latencies, 50)) + " / " + ms(percentile(latencies, 99))
          + " / " + ms(latencies.max() ?? 0) + "   connects refused before it answered: median \(attempts.sorted()[attempts.count / 2])")
    print("  " + pad("(probe passed → the Ready watch event", 48) + ms(percentile(eventAfterProbe, 50)) + " / " + ms(percentile(eventAfterProbe, 99)) + ")")
}
