import Foundation
import PodNet
import PodlabCLI
import Synchronization

/// A small in-memory pods API behind `FakeAgent`: create, get, list (with label
/// selectors), update (with resourceVersion checks), delete (the pod lingers for a few
/// reads with its deletionTimestamp set, as a pod whose containers are stopping does),
/// logs, and sandboxes. Create, update and delete with `dryRun=All` answer and change nothing.
final class FakeCluster: Sendable {
    struct State {
        var pods: [String: Pod] = [:]
        var logs: [String: String] = [:]
        var events: [Event] = []
        /// Reads left before a deleted pod disappears.
        var lingering: [String: Int] = [:]
        var nextVersion = 10
        var nextUID = 1
    }

    let state = Mutex(State())
    /// Reads a deleted pod stays visible for.
    let lingerReads: Int
    /// Applied to a pod when it is created (e.g. to mark it running, or terminated).
    let onCreate: @Sendable (inout Pod) -> Void
    static let created = Timestamp(secondsSince1970: 1_700_000_000 - 3600)

    init(lingerReads: Int = 2, onCreate: @escaping @Sendable (inout Pod) -> Void = FakeCluster.running) {
        self.lingerReads = lingerReads
        self.onCreate = onCreate
    }

    /// Marks every container running and ready, on node podlab-n1 with IP 10.244.1.5.
    static let running: @Sendable (inout Pod) -> Void = { pod in
        pod.spec.nodeName = "podlab-n1"
        pod.status.phase = .running
        pod.status.hostIP = "192.168.200.11"
        pod.status.podIP = "10.244.1.5"
        pod.status.podIPs = [PodIP(ip: "10.244.1.5")]
        pod.status.startTime = created
        pod.status.conditions = [
            PodCondition(type: .initialized, status: .true, lastTransitionTime: created),
            PodCondition(type: .ready, status: .true, lastTransitionTime: created),
            PodCondition(type: .containersReady, status: .true, lastTransitionTime: created),
            PodCondition(type: .podScheduled, status: .true, lastTransitionTime: created),
        ]
        pod.status.containerStatuses = pod.spec.containers.map { container in
            ContainerStatus(name: container.name, state: .running(startedAt: created.adding(seconds: 2)), ready: true, started: true,
                            image: container.image, imageID: (try? ImageCatalog.resolve(container.image)).map { $0.pinnedImageID ?? "\($0.image.repository)@sha256:" + String(repeating: "0", count: 64) } ?? "",
                            containerID: "podlab://\(pod.metadata.namespace)-\(pod.metadata.name)-\(container.name)")
        }
    }

    /// Adds a pod as if created earlier (created an hour before the tests' fixed "now").
    func add(_ pod: Pod, running: Bool = true) {
        var pod = pod
        if pod.metadata.namespace.isEmpty { pod.metadata.namespace = "default" }
        state.withLock { state in
            pod.metadata.uid = "uid-\(state.nextUID)"
            state.nextUID += 1
            pod.metadata.resourceVersion = String(state.nextVersion)
            state.nextVersion += 1
            pod.metadata.creationTimestamp = FakeCluster.created
            if running { FakeCluster.running(&pod) }
            state.pods["\(pod.metadata.namespace)/\(pod.metadata.name)"] = pod
        }
    }

    func setLog(namespace: String = "default", pod: String, container: String, _ text: String) {
        state.withLock { $0.logs["\(namespace)/\(pod)/\(container)"] = text }
    }

    func pod(_ namespace: String, _ name: String) -> Pod? {
        state.withLock { $0.pods["\(namespace)/\(name)"] }
    }

    /// Answers one request; nil for paths this fake does not serve.
    func handle(_ request: FakeRequest) -> FakeResponse {
        let parts = request.path.split(separator: "/").map(String.init)
        switch (request.method, parts.count) {
        case ("GET", 3) where parts == ["api", "v1", "pods"]:
            return list(namespace: nil, request)
        case ("GET", 3) where parts == ["api", "v1", "events"]:
            return events(namespace: nil, request)
        case ("GET", 5) where parts[4] == "events":
            return events(namespace: parts[3], request)
        case ("GET", 5) where parts[4] == "pods":
            return list(namespace: parts[3], request)
        case ("POST", 5) where parts[4] == "pods":
            return create(namespace: parts[3], request)
        case ("GET", 6) where parts[4] == "pods":
            return get(parts[3], parts[5])
        case ("PUT", 6) where parts[4] == "pods":
            return update(parts[3], parts[5], request)
        case ("DELETE", 6) where parts[4] == "pods":
            return delete(parts[3], parts[5], request)
        case ("GET", 7) where parts[0] == "api" && parts[6] == "log":
            return log(parts[3], parts[5], request)
        case ("GET", 7) where parts[0] == "podlab" && parts[6] == "sandbox":
            return sandbox(parts[3], parts[5])
        case ("POST", 3) where parts == ["api", "v1", "namespaces"]:
            // Namespaces are not modelled here: any is taken as created.
            return .json(201, String(decoding: request.body, as: UTF8.self))
        default:
            return .status(APIStatus.synthesized(code: 404, body: ""))
        }
    }

    /// Events of a namespace, narrowed by `involvedObject.name=` and `involvedObject.uid=` as
    /// `describe` asks.
    private func events(namespace: String?, _ request: FakeRequest) -> FakeResponse {
        var wanted: [String: String] = [:]
        for term in (request.query["fieldSelector"] ?? "").split(separator: ",") {
            let parts = term.split(separator: "=", maxSplits: 1).map(String.init)
            if parts.count == 2 { wanted[parts[0]] = parts[1] }
        }
        let items = state.withLock { $0.events }.filter { event in
            (namespace == nil || event.metadata.namespace == namespace)
                && wanted["involvedObject.name"].map { $0 == event.involvedObject.name } ?? true
                && wanted["involvedObject.uid"].map { $0 == event.involvedObject.uid } ?? true
        }
        return .object(EventList(items: items))
    }

    private func list(namespace: String?, _ request: FakeRequest) -> FakeResponse {
        let selector = request.query["labelSelector"].flatMap { try? LabelSelector(parsing: $0) }
        let (items, version) = state.withLock { state in
            (state.pods.values.filter { pod in
                (namespace == nil || pod.metadata.namespace == namespace) && (selector?.matches(pod.metadata.labels) ?? true)
            }.sorted { $0.metadata.name < $1.metadata.name }, String(state.nextVersion))
        }
        return .object(PodList(items: items, resourceVersion: version))
    }

    private func get(_ namespace: String, _ name: String) -> FakeResponse {
        let key = "\(namespace)/\(name)"
        let pod: Pod? = state.withLock { state in
            if let left = state.lingering[key] {
                if left <= 0 {
                    state.pods[key] = nil
                    state.lingering[key] = nil
                    return nil
                }
                state.lingering[key] = left - 1
            }
            return state.pods[key]
        }
        guard let pod else { return .notFound("pods", name) }
        return .object(pod)
    }

    private func create(namespace: String, _ request: FakeRequest) -> FakeResponse {
        guard let json = try? JSONReader.value(from: request.text), var pod = try? Pod(json: json) else {
            return .status(.badRequest("cannot read the pod"))
        }
        // The agent's validation, so that its errors reach the commands as they would.
        let errors = pod.applyingDefaults().validate().errors
        if !errors.isEmpty { return .status(.invalid(kind: "Pod", name: pod.metadata.name, errors: errors)) }
        pod.metadata.namespace = namespace
        if request.query["dryRun"] == "All" { return .object(pod, code: 201) }
        let key = "\(namespace)/\(pod.metadata.name)"
        return state.withLock { state in
            if state.pods[key] != nil { return .status(.alreadyExists(resource: "pods", name: pod.metadata.name)) }
            pod.metadata.uid = "uid-\(state.nextUID)"
            state.nextUID += 1
            pod.metadata.resourceVersion = String(state.nextVersion)
            state.nextVersion += 1
            pod.metadata.creationTimestamp = FakeCluster.created
            if pod.spec.restartPolicy == nil { pod.spec.restartPolicy = .always }
            if pod.spec.terminationGracePeriodSeconds == nil { pod.spec.terminationGracePeriodSeconds = 30 }
            onCreate(&pod)
            state.pods[key] = pod
            return .object(pod, code: 201)
        }
    }

    private func update(_ namespace: String, _ name: String, _ request: FakeRequest) -> FakeResponse {
        guard let json = try? JSONReader.value(from: request.text), var pod = try? Pod(json: json) else {
            return .status(.badRequest("cannot read the pod"))
        }
        let key = "\(namespace)/\(name)"
        return state.withLock { state in
            guard let live = state.pods[key] else { return .notFound("pods", name) }
            guard pod.metadata.resourceVersion == live.metadata.resourceVersion else {
                return .status(.conflict(resource: "pods", name: name))
            }
            var changed = live.spec
            changed.containers = zip(changed.containers, pod.spec.containers).map { old, new in
                var container = old
                container.image = new.image
                return container
            }
            if changed != pod.spec {
                return .status(.invalid(kind: "Pod", name: name, errors: [
                    .forbidden("spec", "pod updates may not change fields other than `spec.containers[*].image`"),
                ]))
            }
            pod.status = live.status
            if request.query["dryRun"] == "All" { return .object(pod) }
            pod.metadata.resourceVersion = String(state.nextVersion)
            state.nextVersion += 1
            state.pods[key] = pod
            return .object(pod)
        }
    }

    private func delete(_ namespace: String, _ name: String, _ request: FakeRequest) -> FakeResponse {
        let key = "\(namespace)/\(name)"
        return state.withLock { state in
            guard var pod = state.pods[key] else { return .notFound("pods", name) }
            pod.metadata.deletionTimestamp = Timestamp(secondsSince1970: 1_700_000_000)
            pod.metadata.deletionGracePeriodSeconds = 30
            if request.query["dryRun"] == "All" { return .object(pod) }
            state.pods[key] = pod
            state.lingering[key] = lingerReads
            return .object(pod)
        }
    }

    private func log(_ namespace: String, _ name: String, _ request: FakeRequest) -> FakeResponse {
        guard let pod = self.pod(namespace, name) else { return .notFound("pods", name) }
        let container = request.query["container"] ?? pod.spec.containers.first?.name ?? ""
        guard pod.spec.containers.contains(where: { $0.name == container }) else {
            return .status(.badRequest("container \(container) is not valid for pod \(name)"))
        }
        var text = state.withLock { $0.logs["\(namespace)/\(name)/\(container)"] } ?? ""
        if let tail = request.query["tailLines"].flatMap(Int.init) {
            var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            if lines.last == "" { lines.removeLast() }
            text = lines.suffix(tail).map { $0 + "\n" }.joined()
        }
        if request.query["follow"] == "true" {
            let pieces = text.split(separator: "\n", omittingEmptySubsequences: false).dropLast().map { Data(($0 + "\n").utf8) }
            return .chunks(200, pieces, pause: .milliseconds(2))
        }
        return .body(200, Data(text.utf8))
    }

    private func sandbox(_ namespace: String, _ name: String) -> FakeResponse {
        guard let pod = self.pod(namespace, name) else { return .notFound("pods", name) }
        let sandbox = PodSandbox(netns: "podlab-\(namespace)-\(name)", uts: "/run/podlab/ns/uts-\(name)", ipc: "/run/podlab/ns/ipc-\(name)",
                                 hostname: name, podIP: pod.status.podIP,
                                 containers: pod.spec.containers.map { .init(name: $0.name, env: Dictionary($0.env.map { ($0.name, $0.value) }) { a, _ in a }) })
        return .body(200, try! JSONEncoder().encode(sandbox))
    }
}
