/// Kubernetes' remote command protocols (`exec` and `attach`): which one a client and the server
/// agree on, and what each says on its error channel.
///
/// Over WebSocket the client offers them as subprotocols (`Sec-WebSocket-Protocol`), over SPDY as
/// `X-Stream-Protocol-Version` headers; the server takes the first the client lists that it
/// speaks (`httpstream.Handshake`). Every version carries stdin, stdout, stderr and an error
/// channel; v3 adds terminal resizes, v4 makes the error channel a `v1 Status` that carries the
/// exit code, and v5 (WebSocket only) lets the client close its stdin with a close signal.
public enum RemoteCommandProtocol: String, CaseIterable, Sendable {
    case v5 = "v5.channel.k8s.io"
    case v4 = "v4.channel.k8s.io"
    case v3 = "v3.channel.k8s.io"
    case v2 = "v2.channel.k8s.io"
    case v1 = "channel.k8s.io"

    /// The versions served over SPDY, most preferred first (v5's close signal is WebSocket's).
    public static let spdy: [RemoteCommandProtocol] = [.v4, .v3, .v2, .v1]
    /// The versions served over WebSocket.
    public static let webSocket: [RemoteCommandProtocol] = allCases

    /// The client's first offer the server speaks; nil when none (`offered` as a client sends
    /// it: one or several headers, each a comma-separated list).
    public static func negotiate(_ offered: [String], among served: [RemoteCommandProtocol]) -> RemoteCommandProtocol? {
        for name in offered.flatMap({ $0.split(separator: ",") }) {
            let name = String(name.filter { $0 != " " && $0 != "\t" })
            if let chosen = served.first(where: { $0.rawValue == name }) { return chosen }
        }
        return nil
    }

    /// The error channel carries a `Status` (not a plain message).
    public var reportsStatus: Bool { self == .v4 || self == .v5 }
    /// Resize frames exist.
    public var resizes: Bool { self != .v1 && self != .v2 }

    /// What the error channel carries when a session ends with `status`; nil: nothing (a plain
    /// protocol's success). v4 and v5 send the Status itself, the older ones its message.
    public func errorChannelPayload(_ status: APIStatus) -> [UInt8]? {
        if reportsStatus { return Array(status.json.jsonText(indent: 0).utf8) }
        return status.status == "Success" ? nil : Array(status.message.utf8)
    }

    /// The same from a session's last frame (`StreamFrame.end`, the Status as JSON).
    public func errorChannelPayload(statusJSON: [UInt8]) -> [UInt8]? {
        if reportsStatus { return statusJSON }
        guard let value = try? JSONReader.value(from: String(decoding: statusJSON, as: UTF8.self)),
              case let .string(status)? = value["status"], status != "Success" else { return nil }
        if case let .string(message)? = value["message"] { return Array(message.utf8) }
        return Array("command failed".utf8)
    }
}

extension APIStatus {
    /// How an exec'd command ended, as the kubelet reports it: `Success`, or `Failure` with
    /// reason `NonZeroExitCode` and the code as an `ExitCode` cause, which kubectl passes on as
    /// its own exit status.
    public static func commandExit(code: Int32, command: [String]) -> APIStatus {
        guard code != 0 else { return StreamFrame.success }
        return APIStatus(message: "command terminated with non-zero exit code: error executing command [\(command.joined(separator: " "))], exit code \(code)",
                         reason: "NonZeroExitCode",
                         details: Details(causes: [Cause(reason: "ExitCode", message: String(code), field: "")]), code: 0)
    }
}

/// One message of a WebSocket remote command or port-forward session: the channel's number in
/// the first byte, then its bytes.
public enum WebSocketChannelMessage {
    /// v5: the client closes one of its channels (stdin), named in the byte after this one.
    public static let closeChannel: UInt8 = 255

    public static func encode(_ frame: StreamFrame) -> [UInt8] {
        [frame.channel.rawValue] + frame.payload
    }

    /// A client's message as a frame; nil for an empty message or a close signal (see `closedChannel`).
    public static func decode(_ message: [UInt8]) throws(StreamFrameError) -> StreamFrame? {
        guard let first = message.first, first != closeChannel else { return nil }
        guard let channel = StreamFrame.Channel(rawValue: first) else {
            throw StreamFrameError(description: "unknown stream channel \(first)")
        }
        return StreamFrame(channel, Array(message.dropFirst()))
    }

    /// The channel a v5 close signal closes; nil for any other message.
    public static func closedChannel(_ message: [UInt8]) -> StreamFrame.Channel? {
        guard message.count >= 2, message[0] == closeChannel else { return nil }
        return StreamFrame.Channel(rawValue: message[1])
    }
}

/// What the API server requires of a streaming request before it upgrades it, with its messages.
public enum StreamingRequest {
    /// A streaming endpoint asked for without an upgrade (kube-apiserver's 400).
    public static let upgradeRequired = APIStatus.badRequest("Upgrade request required")

    /// The `command` query parameters of an exec request: at least one.
    public static func command(_ values: [String]) throws(APIStatus) -> [String] {
        guard !values.isEmpty, !(values.count == 1 && values[0].isEmpty) else {
            throw APIStatus.badRequest("you must specify at least 1 command")
        }
        return values
    }
}

/// The port-forward protocol (`portforward.k8s.io`): the client opens, per connection it
/// forwards, an error stream and a data stream with the same `requestID` and the pod's `port`.
public enum PortForwardProtocol {
    public static let name = "portforward.k8s.io"
    /// The same protocol tunnelled over WebSocket, as kubectl ≥ 1.31 asks for it first.
    public static let webSocketTunnelName = "SPDY/3.1+portforward.k8s.io"

    /// The pod port a stream's `port` header names (1–65535), or the error kubelet sends.
    public static func port(_ header: String?) throws(APIStatus) -> UInt16 {
        guard let header, !header.isEmpty else { throw APIStatus.badRequest("\"port\" header is required") }
        guard let port = UInt16(header), port > 0 else {
            throw APIStatus.badRequest("\"port\" header \(FieldError.goQuoted(header)) is not a valid port")
        }
        return port
    }
}
