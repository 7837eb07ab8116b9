import Foundation

/// An API failure, rendered as a Kubernetes v1 `Status` object with its HTTP code.
public struct APIError: Error, Sendable, CustomStringConvertible {
    /// HTTP status code (404, 409, 422, 400, 500, …).
    public var code: Int
    /// Kubernetes reason: NotFound, AlreadyExists, Conflict, Invalid, BadRequest, InternalError, MethodNotAllowed.
    public var reason: String
    public var message: String
    public var details: Details?

    public struct Details: Sendable, Codable {
        public var name: String?
        public var kind: String?
        public var causes: [Cause]?

        public init(name: String? = nil, kind: String? = nil, causes: [Cause]? = nil) {
            self.name = name
            self.kind = kind
            self.causes = causes
        }
    }

    public struct Cause: Sendable, Codable {
        public var reason: String?
        public var message: String?
        public var field: String?

        public init(reason: String? = nil, message: String? = nil, field: String? = nil) {
            self.reason = reason
            self.message = message
            self.field = field
        }
    }

    public init(code: Int, reason: String, message: String, details: Details? = nil) {
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details
    }

    public var description: String { message }

    public static func notFound(_ resource: String, _ name: String, kind: String) -> APIError {
        APIError(code: 404, reason: "NotFound", message: "\(resource) \"\(name)\" not found", details: Details(name: name, kind: resource))
    }

    public static func alreadyExists(_ resource: String, _ name: String) -> APIError {
        APIError(code: 409, reason: "AlreadyExists", message: "\(resource) \"\(name)\" already exists", details: Details(name: name, kind: resource))
    }

    public static func badRequest(_ message: String) -> APIError {
        APIError(code: 400, reason: "BadRequest", message: message)
    }

    public static func internalError(_ message: String) -> APIError {
        APIError(code: 500, reason: "InternalError", message: "Internal error occurred: \(message)")
    }

    /// The v1 Status JSON body.
    public var statusJSON: Data {
        struct Status: Encodable {
            var kind = "Status"
            var apiVersion = "v1"
            var metadata: [String: String] = [:]
            var status = "Failure"
            var message: String
            var reason: String
            var details: Details?
            var code: Int
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return (try? encoder.encode(Status(message: message, reason: reason, details: details, code: code))) ?? Data(message.utf8)
    }
}
