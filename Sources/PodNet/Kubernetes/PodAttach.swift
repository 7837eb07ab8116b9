/// The options of an attach request (`PodAttachOptions`, the query of
/// `POST /api/v1/namespaces/{ns}/pods/{name}/attach`): the container, and which of its
/// streams the client takes part in.
public struct PodAttachOptions: Hashable, Sendable {
    /// Empty: the pod's only container.
    public var container: String
    public var stdin: Bool
    public var stdout: Bool
    public var stderr: Bool
    /// The client runs a terminal: the container's one terminal stream comes back as stdout,
    /// and resize frames are acted on.
    public var tty: Bool

    /// The API's defaults: stdout and stderr, no stdin, no terminal.
    public init(container: String = "", stdin: Bool = false, stdout: Bool = true, stderr: Bool = true, tty: Bool = false) {
        self.container = container
        self.stdin = stdin
        self.stdout = stdout
        self.stderr = stderr
        self.tty = tty
    }

    /// The query parameters, as kubectl sends them.
    public var queryItems: [(String, String)] {
        var items: [(String, String)] = []
        if !container.isEmpty { items.append(("container", container)) }
        items += [("stdin", String(stdin)), ("stdout", String(stdout)), ("stderr", String(stderr)), ("tty", String(tty))]
        return items
    }

    /// Reads the query (`value(name)` answers a parameter's value, nil when absent). Booleans
    /// are spelled as Go's `strconv.ParseBool` reads them; anything else, or no stream at all,
    /// is the API server's 400.
    public init(query value: (String) -> String?) throws(APIStatus) {
        func flag(_ name: String, default fallback: Bool) throws(APIStatus) -> Bool {
            guard let text = value(name) else { return fallback }
            switch text {
            case "1", "t", "T", "true", "TRUE", "True": return true
            case "0", "f", "F", "false", "FALSE", "False": return false
            default: throw APIStatus.badRequest("strconv.ParseBool: parsing \(FieldError.goQuoted(text)): invalid syntax (query parameter \(name))")
            }
        }
        self.init(container: value("container") ?? "", stdin: try flag("stdin", default: false), stdout: try flag("stdout", default: true),
                  stderr: try flag("stderr", default: true), tty: try flag("tty", default: false))
        guard stdin || stdout || stderr else {
            throw APIStatus.badRequest("you must specify at least one of stdin, stdout, stderr")
        }
        // The kubelet's rule: a terminal has one output stream, stderr goes with stdout.
        if tty { stderr = false }
    }
}

/// One frame of an attach session, in either direction. HTTP/1.1 carries the session: the
/// request body streams the client's frames (stdin, resizes; its end is the end of stdin),
/// the response body the container's (stdout, stderr, then one error frame with how the
/// session ended). A frame is its channel (1 byte), its payload's length (4 bytes,
/// big-endian), then the payload; the channels are those of Kubernetes' remote command
/// streams.
public struct StreamFrame: Hashable, Sendable {
    public enum Channel: UInt8, Sendable {
        case stdin = 0
        case stdout = 1
        case stderr = 2
        /// The end of the session: a v1 `Status` (`Success`, or `Failure` with a message).
        case error = 3
        /// The client's terminal size, as `{"Width":80,"Height":24}`.
        case resize = 4
    }

    public var channel: Channel
    public var payload: [UInt8]

    public init(_ channel: Channel, _ payload: [UInt8]) {
        self.channel = channel
        self.payload = payload
    }

    /// The media type of an attach session's bodies.
    public static let contentType = "application/vnd.podlab.stream.v1"
    public static let headerSize = 5
    /// No frame is larger: writers send at most this much at a time.
    public static let maximumPayload = 1 << 20

    /// The frame on the wire.
    public var encoded: [UInt8] {
        precondition(payload.count <= Self.maximumPayload, "a stream frame carries at most \(Self.maximumPayload) bytes")
        let length = UInt32(payload.count)
        var bytes = [channel.rawValue, UInt8(length >> 24), UInt8(truncatingIfNeeded: length >> 16),
                     UInt8(truncatingIfNeeded: length >> 8), UInt8(truncatingIfNeeded: length)]
        bytes.append(contentsOf: payload)
        return bytes
    }

    /// The error frame that ends a session.
    public static func end(_ status: APIStatus) -> StreamFrame {
        StreamFrame(.error, Array(status.json.jsonText(indent: 0).utf8))
    }

    /// The `Success` status of a session that ended normally.
    public static let success = APIStatus(status: "Success", message: "", reason: nil, code: 0)

    /// A resize frame.
    public static func resize(_ size: TerminalSize) -> StreamFrame {
        StreamFrame(.resize, Array(size.json.jsonText(indent: 0).utf8))
    }
}

/// A stream that is not made of frames.
public struct StreamFrameError: Error, Hashable, Sendable, CustomStringConvertible {
    public var description: String
}

/// Cuts a byte stream (HTTP body chunks, whatever their boundaries) into frames.
public struct StreamFrameDecoder: Sendable {
    private var buffer: [UInt8] = []
    private var start = 0

    public init() {}

    public mutating func append(_ bytes: some Sequence<UInt8>) {
        if start > 0 && start == buffer.count {
            buffer.removeAll(keepingCapacity: true)
            start = 0
        }
        buffer.append(contentsOf: bytes)
    }

    /// The next complete frame; nil until one has arrived whole.
    public mutating func next() throws(StreamFrameError) -> StreamFrame? {
        guard buffer.count - start >= StreamFrame.headerSize else { return nil }
        guard let channel = StreamFrame.Channel(rawValue: buffer[start]) else {
            throw StreamFrameError(description: "unknown stream channel \(buffer[start])")
        }
        let length = buffer[(start + 1)..<(start + 5)].reduce(0) { $0 << 8 | Int($1) }
        guard length <= StreamFrame.maximumPayload else {
            throw StreamFrameError(description: "a frame of \(length) bytes is larger than \(StreamFrame.maximumPayload)")
        }
        let end = start + StreamFrame.headerSize + length
        guard buffer.count >= end else { return nil }
        let frame = StreamFrame(channel, Array(buffer[(start + StreamFrame.headerSize)..<end]))
        start = end
        if start >= 64 * 1024 {
            buffer.removeFirst(start)
            start = 0
        }
        return frame
    }

    /// True while part of a frame waits for the rest (a stream that ends here was cut short).
    public var hasPartialFrame: Bool { start < buffer.count }
}

/// A terminal's size in character cells (`remotecommand.TerminalSize`).
public struct TerminalSize: Hashable, Sendable {
    public var width: UInt16
    public var height: UInt16

    public init(width: UInt16, height: UInt16) {
        self.width = width
        self.height = height
    }

    /// Kubernetes' spelling: `{"Height":24,"Width":80}`.
    public var json: JSONValue {
        .object(["Width": .integer(Int64(width)), "Height": .integer(Int64(height))])
    }

    /// Reads a resize frame's payload.
    public init(payload: [UInt8]) throws(StreamFrameError) {
        let text = String(decoding: payload, as: UTF8.self)
        guard let value = try? JSONReader.value(from: text),
              case let .integer(width)? = value["Width"], case let .integer(height)? = value["Height"],
              let columns = UInt16(exactly: width), let rows = UInt16(exactly: height) else {
            throw StreamFrameError(description: "invalid terminal size \(text)")
        }
        self.init(width: columns, height: rows)
    }
}

extension Container {
    /// `stdin`: the container's stdin is kept open for clients that attach.
    public var stdin: Bool { preservedFields["stdin"] == .bool(true) }
    /// `stdinOnce`: the first attach that ends closes stdin (the process reads its end of file).
    public var stdinOnce: Bool { preservedFields["stdinOnce"] == .bool(true) }
    /// `tty`: the container's stdin, stdout and stderr are one terminal.
    public var tty: Bool { preservedFields["tty"] == .bool(true) }
}
