import Foundation
import PodNet

/// A failed API call: the server's refusal, or no server at all.
public enum APIError: Error, Sendable, CustomStringConvertible {
    /// The agent answered with an error `Status`.
    case status(APIStatus)
    /// Nothing answers on the lab's socket.
    case unreachable(lab: String, socket: String, reason: String)
    /// The lab is root's (its state is root's alone) and this user is not root.
    case permissionDenied(lab: String)
    /// The connection broke while an answer was being read.
    case interrupted(lab: String, reason: String)
    /// The agent did not answer in time.
    case timeout(lab: String, what: String)
    /// The agent answered with something that is not what the API promises.
    case malformed(what: String, reason: String)

    /// Reads an error answer: a `Status` if the body is one, else what client-go makes of it.
    public static func from(code: Int, body: Data) -> APIError {
        if let json = try? JSONReader.value(from: String(decoding: body, as: UTF8.self)), json["kind"] == .string("Status"),
           var status = try? APIStatus(json: json) {
            if status.code == 0 { status.code = Int32(code) }
            return .status(status)
        }
        return .status(.synthesized(code: code, body: String(decoding: body, as: UTF8.self)
            .trimmingCharacters(in: .whitespacesAndNewlines)))
    }

    /// What a user who is not root is told about a lab run by root (`get`, `up`, `down`, …).
    public static func permissionDeniedLine(lab: String) -> String {
        "podlab: permission denied: the lab \"\(lab)\" is run by root; use sudo"
    }

    /// The server's status when this is one, for branching (`NotFound`, `AlreadyExists`).
    public var serverStatus: APIStatus? {
        if case let .status(status) = self { return status }
        return nil
    }

    /// True for a 404 / `NotFound` answer.
    public var isNotFound: Bool { serverStatus?.reason == .notFound || serverStatus?.code == 404 }

    /// True when this user may not reach the lab's socket.
    public var isPermissionDenied: Bool {
        if case .permissionDenied = self { return true }
        return false
    }

    /// True when nothing answers on the lab's socket.
    public var isUnreachable: Bool {
        if case .unreachable = self { return true }
        return false
    }

    /// What kubectl would print (the server's errors) or podlab's own `error: …` line.
    public var description: String {
        switch self {
        case let .status(status):
            return status.kubectlErrorLine
        case let .unreachable(lab, socket, reason):
            return "error: lab \"\(lab)\" is not running (\(reason) at \(socket)); start it with \"podlab up\(lab == "podlab" ? "" : " --lab \(lab)")\""
        case let .permissionDenied(lab):
            return Self.permissionDeniedLine(lab: lab)
        case let .interrupted(lab, reason):
            return "error: the connection to the agent of lab \"\(lab)\" broke: \(reason)"
        case let .timeout(lab, what):
            return "error: the agent of lab \"\(lab)\" did not answer \(what) in time"
        case let .malformed(what, reason):
            return "error: unexpected answer from the agent for \(what): \(reason)"
        }
    }
}
