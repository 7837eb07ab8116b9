import Foundation
import Hummingbird
import NIOHTTP1
import PodNet

/// What kubectl's streaming verbs need from the control plane.
protocol StreamingBackend: AttachBackend {
    /// Checks, without side effects, what the API server and the kubelet check before they
    /// upgrade: the pod exists, the container is the pod's and runs (for exec and attach), the
    /// pod has a sandbox (for port-forward, `container` nil). Throws the Status to answer.
    func checkStreaming(namespace: String, name: String, container: String?) async throws
    /// Runs a command in a container (see `Controller.exec`).
    func exec(namespace: String, name: String, options: PodAttachOptions, command: [String]) async throws -> AttachSession
    /// The network namespace a pod's ports are reached in.
    func portForwardNamespace(namespace: String, name: String) async throws -> String
}

/// One of the pod subresources that stream: what the request asks for.
struct StreamingTarget: Sendable {
    enum Kind: Sendable, Equatable {
        case exec(command: [String])
        case attach
        case portForward
    }

    var kind: Kind
    var namespace: String
    var name: String
    var options: PodAttachOptions

    /// Reads `/api/v1/namespaces/{ns}/pods/{name}/exec|attach|portforward?…`; nil for any other
    /// path, the API server's 400 for a bad query.
    static func parse(uri: String) throws(APIStatus) -> StreamingTarget? {
        let parts = uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
        let segments = parts[0].split(separator: "/")
        guard segments.count == 7, segments[0] == "api", segments[1] == "v1", segments[2] == "namespaces", segments[4] == "pods" else { return nil }
        let query = parts.count > 1 ? Self.query(String(parts[1])) : []
        func value(_ name: String) -> String? { query.first { $0.name == name }?.value }
        let namespace = String(segments[3]).removingPercentEncoding ?? String(segments[3])
        let name = String(segments[5]).removingPercentEncoding ?? String(segments[5])
        switch segments[6] {
        case "exec":
            let command = try StreamingRequest.command(query.filter { $0.name == "command" }.map(\.value))
            return StreamingTarget(kind: .exec(command: command), namespace: namespace, name: name, options: try PodAttachOptions(query: value))
        case "attach":
            return StreamingTarget(kind: .attach, namespace: namespace, name: name, options: try PodAttachOptions(query: value))
        case "portforward":
            return StreamingTarget(kind: .portForward, namespace: namespace, name: name, options: PodAttachOptions())
        default:
            return nil
        }
    }

    /// A query's names and values as Go's `url.ParseQuery` reads them (`+` is a space).
    static func query(_ text: String) -> [(name: String, value: String)] {
        text.split(separator: "&").map { pair in
            let halves = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            func decode(_ part: Substring) -> String {
                let spaced = part.replacingOccurrences(of: "+", with: " ")
                return spaced.removingPercentEncoding ?? spaced
            }
            return (decode(halves[0]), halves.count > 1 ? decode(halves[1]) : "")
        }
    }
}

/// A streaming request the server agreed to upgrade: its target and the protocol both sides speak.
struct PreparedStream: Sendable {
    var target: StreamingTarget
    /// The remote command protocol; nil for port-forward.
    var remoteCommand: RemoteCommandProtocol?
    /// The protocol named in the upgrade's answer (`Sec-WebSocket-Protocol` or
    /// `X-Stream-Protocol-Version`); nil when the client offered none.
    var answeredProtocol: String?
}

/// The streaming endpoints of the HTTPS listener: the checks before an upgrade, and the sessions
/// after it (`WebSocketStreams`, `SPDYStreams`).
struct StreamingEndpoints: Sendable {
    enum Transport: Sendable { case webSocket, spdy }

    let backend: any StreamingBackend
    let credentials: ClusterCredentials

    /// Decides whether `head` is upgraded: the lab's token, a streaming path, a protocol both
    /// sides speak, and the backend's checks. Throws (and the request then goes on as plain
    /// HTTP, where the router answers it with the Status) when not.
    func prepare(_ head: HTTPRequestHead, transport: Transport) async throws -> PreparedStream {
        guard credentials.authorizes(head.headers.first(name: "Authorization")) else { throw StreamingRefusal.unauthorized }
        guard let target = try StreamingTarget.parse(uri: head.uri) else { throw StreamingRefusal.notStreaming }
        let offered: [String]
        switch transport {
        case .webSocket: offered = head.headers[canonicalForm: "Sec-WebSocket-Protocol"].map(String.init)
        case .spdy: offered = head.headers[canonicalForm: "X-Stream-Protocol-Version"].map(String.init)
        }
        var prepared = PreparedStream(target: target, remoteCommand: nil, answeredProtocol: nil)
        switch target.kind {
        case .portForward:
            // Port-forward is SPDY: over its own upgrade (kubectl before 1.31), or tunnelled in
            // WebSocket binary messages (`SPDY/3.1+portforward.k8s.io`, kubectl ≥ 1.31).
            let wanted = transport == .spdy ? PortForwardProtocol.name : PortForwardProtocol.webSocketTunnelName
            if !offered.isEmpty || transport == .webSocket {
                guard offered.flatMap({ $0.split(separator: ",") }).contains(where: { $0.filter { $0 != " " } == wanted }) else {
                    throw StreamingRefusal.unsupportedProtocol
                }
                prepared.answeredProtocol = wanted
            }
            try await backend.checkStreaming(namespace: target.namespace, name: target.name, container: nil)
        case .exec, .attach:
            let served = transport == .spdy ? RemoteCommandProtocol.spdy : RemoteCommandProtocol.webSocket
            if offered.isEmpty {
                prepared.remoteCommand = .v1
            } else {
                guard let chosen = RemoteCommandProtocol.negotiate(offered, among: served) else { throw StreamingRefusal.unsupportedProtocol }
                prepared.remoteCommand = chosen
                prepared.answeredProtocol = chosen.rawValue
            }
            try await backend.checkStreaming(namespace: target.namespace, name: target.name, container: target.options.container)
        }
        return prepared
    }

    /// Starts the session of an upgraded exec or attach; what cannot start is told on its error
    /// channel.
    func openRemoteCommand(_ target: StreamingTarget) async -> AttachSession {
        do {
            switch target.kind {
            case let .exec(command):
                return try await backend.exec(namespace: target.namespace, name: target.name, options: target.options, command: command)
            case .attach:
                return try await backend.attach(namespace: target.namespace, name: target.name, options: target.options)
            case .portForward:
                return AttachSession(failure: APIStatus.badRequest("port-forward is not a remote command"))
            }
        } catch let status as APIStatus {
            return AttachSession(failure: status)
        } catch {
            return AttachSession(failure: APIStatus.internalError("\(error)"))
        }
    }

    /// The same paths asked for without an upgrade (or with one that was refused): the checks'
    /// Status, else kube-apiserver's `Upgrade request required`. The router runs these after
    /// the bearer token's check.
    static func register(on router: Router<BasicRequestContext>, backend: any StreamingBackend) {
        for subresource in ["exec", "attach", "portforward"] {
            let path = RouterPath("/api/v1/namespaces/:namespace/pods/:name/\(subresource)")
            let answer: @Sendable (Request, BasicRequestContext) async throws -> Response = { request, _ in
                try await APIServer.handle {
                    var uri = request.uri.path
                    if let query = request.uri.query { uri += "?" + query }
                    guard let target = try StreamingTarget.parse(uri: uri) else { throw APIStatus.notFound(resource: "pods", name: "") }
                    try await backend.checkStreaming(namespace: target.namespace, name: target.name,
                                                     container: target.kind == .portForward ? nil : target.options.container)
                    throw StreamingRequest.upgradeRequired
                }
            }
            router.get(path, use: answer)
            // podlab's own attach (its frame protocol over a plain POST) keeps its route.
            if subresource != "attach" { router.post(path, use: answer) }
        }
    }
}

/// Why an upgrade was refused (the router then answers the request as plain HTTP).
enum StreamingRefusal: Error {
    case unauthorized
    case notStreaming
    case unsupportedProtocol
}

extension Controller: StreamingBackend {
    func checkStreaming(namespace: String, name: String, container: String?) async throws {
        let pod = try pod(namespace, name)
        guard let container else {
            guard let runtime = runtimes[pod.metadata.uid], !runtime.deleting, !pod.status.podIP.isEmpty else {
                throw APIStatus.badRequest("pod \(name) does not have a running sandbox to forward ports into")
            }
            return
        }
        let chosen = try Self.streamingContainer(of: pod, requested: container)
        guard let runtime = runtimes[pod.metadata.uid], !runtime.deleting, runtime.processes[chosen] != nil || runtime.streams[chosen] != nil else {
            throw Self.containerNotRunning(chosen)
        }
    }

    func portForwardNamespace(namespace: String, name: String) async throws -> String {
        let pod = try pod(namespace, name)
        guard let runtime = runtimes[pod.metadata.uid], !runtime.deleting else {
            throw APIStatus.badRequest("pod \(name) does not have a running sandbox to forward ports into")
        }
        return runtime.sandbox.netns
    }
}
