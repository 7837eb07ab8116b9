import PodNet

extension APIStatus {
    /// The status client-go makes up when an error answer carries no `Status` body.
    public static func synthesized(code: Int, body: String) -> APIStatus {
        let (reason, message): (StatusReason, String) = switch code {
        case 400: (.badRequest, body.isEmpty ? "the server rejected our request for an unknown reason" : body)
        case 401: ("Unauthorized", "the server has asked for the client to provide credentials")
        case 403: ("Forbidden", body.isEmpty ? "the server does not allow access to the requested resource" : body)
        case 404: (.notFound, "the server could not find the requested resource")
        case 405: ("MethodNotAllowed", "the server does not allow this method on the requested resource")
        case 409: (.conflict, body.isEmpty ? "the server reported a conflict" : body)
        case 422: (.invalid, body.isEmpty ? "the server rejected our request due to an error in our request" : body)
        case 500: (.internalError, body.isEmpty ? "an error on the server (\"unknown\") has prevented the request from succeeding" : body)
        case 503: ("ServiceUnavailable", "the server is currently unable to handle the request")
        default: ("Unknown", body.isEmpty ? "an error on the server (\"unknown\") has prevented the request from succeeding" : body)
        }
        return APIStatus(message: message, reason: reason, code: Int32(code))
    }

    /// The line kubectl prints for this error (its `cmdutil.CheckErr`):
    /// `Error from server (NotFound): pods "x" not found`, and for `Invalid` with details
    /// `The Pod "x" is invalid: spec.containers[0].image: Required value`.
    public var kubectlErrorLine: String {
        if reason == .invalid, let details {
            if !details.causes.isEmpty { return kubectlMessage }
            if !details.kind.isEmpty || !details.name.isEmpty { return "The \(details.kind) \"\(details.name)\" is invalid" }
            return "The request is invalid"
        }
        if reason?.rawValue == "Unauthorized" { return "error: You must be logged in to the server (\(message))" }
        if let reason, !reason.rawValue.isEmpty { return "Error from server (\(reason.rawValue)): \(message)" }
        return "Error from server: \(message)"
    }

    /// The same status with kubectl's note on which file the object came from
    /// (`error when creating "pod.yaml": …`).
    public func fromSource(_ verb: String, _ source: String?) -> APIStatus {
        guard let source, !source.isEmpty else { return self }
        var status = self
        status.message = "error when \(verb) \"\(source)\": \(message)"
        return status
    }
}
