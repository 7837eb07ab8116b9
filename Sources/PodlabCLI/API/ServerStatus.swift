/// A Kubernetes v1 `Status` as the agent returns it with every error, read leniently:
/// whatever the server sends, the CLI must still be able to print it.
public struct ServerStatus: Codable, Sendable, Equatable {
    public var kind: String?
    public var apiVersion: String?
    /// `Failure` or `Success`.
    public var status: String?
    public var message: String?
    /// `NotFound`, `AlreadyExists`, `Conflict`, `Invalid`, `BadRequest`, ...
    public var reason: String?
    public var details: Details?
    public var code: Int?

    /// Which object the status is about, and for `Invalid`, each field at fault.
    public struct Details: Codable, Sendable, Equatable {
        public var name: String?
        public var group: String?
        public var kind: String?
        public var causes: [Cause]?

        public init(name: String? = nil, group: String? = nil, kind: String? = nil, causes: [Cause]? = nil) {
            self.name = name
            self.group = group
            self.kind = kind
            self.causes = causes
        }
    }

    /// One reason an object was refused: `spec.containers[0].image: Required value`.
    public struct Cause: Codable, Sendable, Equatable {
        public var reason: String?
        public var message: String?
        public var field: String?

        public init(reason: String? = nil, message: String? = nil, field: String? = nil) {
            self.reason = reason
            self.message = message
            self.field = field
        }
    }

    public init(message: String, reason: String?, code: Int, details: Details? = nil) {
        kind = "Status"
        apiVersion = "v1"
        status = "Failure"
        self.message = message
        self.reason = reason
        self.details = details
        self.code = code
    }

    /// The status client-go makes up when an error answer has no `Status` body.
    public static func synthesized(code: Int, body: String) -> ServerStatus {
        let (reason, message): (String, String) = switch code {
        case 400: ("BadRequest", body.isEmpty ? "the server rejected our request for an unknown reason" : body)
        case 401: ("Unauthorized", "the server has asked for the client to provide credentials")
        case 403: ("Forbidden", body.isEmpty ? "the server does not allow access to the requested resource" : body)
        case 404: ("NotFound", "the server could not find the requested resource")
        case 405: ("MethodNotAllowed", "the server does not allow this method on the requested resource")
        case 409: ("Conflict", body.isEmpty ? "the server reported a conflict" : body)
        case 422: ("Invalid", body.isEmpty ? "the server rejected our request due to an error in our request" : body)
        case 500: ("InternalError", body.isEmpty ? "an error on the server has prevented the request from succeeding" : body)
        case 503: ("ServiceUnavailable", "the server is currently unable to handle the request")
        default: ("Unknown", body.isEmpty ? "an error on the server (\"unknown\") has prevented the request from succeeding" : body)
        }
        return ServerStatus(message: message, reason: reason, code: code)
    }

    /// The text kubectl prints for this status (its `cmdutil.CheckErr`):
    /// `Error from server (NotFound): pods "x" not found`, or for `Invalid` with details
    /// `The Pod "x" is invalid: spec.containers[0].image: Required value`.
    public var kubectlMessage: String {
        if reason == "Invalid", let details {
            var text = "The request is invalid"
            let causes = (details.causes ?? []).map { cause -> String in
                guard let field = cause.field, !field.isEmpty else { return cause.message ?? "" }
                return "\(field): \(cause.message ?? "")"
            }
            if !(details.kind ?? "").isEmpty || !(details.name ?? "").isEmpty {
                text = "The \(details.kind ?? "") \"\(details.name ?? "")\" is invalid"
            }
            switch causes.count {
            case 0: return text
            case 1: return "\(text): \(causes[0])"
            default: return "\(text): \n* " + causes.joined(separator: "\n* ")
            }
        }
        if reason == "Unauthorized" {
            return "error: You must be logged in to the server (\(message ?? ""))"
        }
        if let reason, !reason.isEmpty {
            return "Error from server (\(reason)): \(message ?? "")"
        }
        return "Error from server: \(message ?? "")"
    }
}
