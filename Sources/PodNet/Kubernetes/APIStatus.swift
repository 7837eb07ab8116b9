/// Why a request failed, in machine-readable form (`StatusReason`).
public struct StatusReason: StringValue {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }

    public static let notFound: StatusReason = "NotFound"
    public static let alreadyExists: StatusReason = "AlreadyExists"
    public static let invalid: StatusReason = "Invalid"
    public static let badRequest: StatusReason = "BadRequest"
    public static let conflict: StatusReason = "Conflict"
    public static let internalError: StatusReason = "InternalError"
    public static let requestEntityTooLarge: StatusReason = "RequestEntityTooLarge"
    public static let timeout: StatusReason = "Timeout"
    public static let expired: StatusReason = "Expired"
}

/// The v1 `Status` object (`kind: Status`): what the API returns when a request fails.
public struct APIStatus: KubernetesObject, Hashable, Error, CustomStringConvertible {
    public static let kind = "Status"
    public static let apiVersion = "v1"

    public var metadata: ListMeta
    /// `Failure` or `Success`.
    public var status: String
    public var message: String
    public var reason: StatusReason?
    public var details: Details?
    /// The HTTP status code (404, 409, 422...).
    public var code: Int32

    public init(status: String = "Failure", message: String, reason: StatusReason?, details: Details? = nil, code: Int32) {
        self.metadata = ListMeta()
        self.status = status
        self.message = message
        self.reason = reason
        self.details = details
        self.code = code
    }

    public var description: String { message }

    /// `details` of a status: which object, and for `Invalid`, which fields.
    public struct Details: JSONObjectCodable, Hashable {
        public var name: String
        public var group: String
        /// The kind (`Pod`) or, for NotFound and AlreadyExists, the resource (`pods`).
        public var kind: String
        public var uid: String
        public var causes: [Cause]
        public var retryAfterSeconds: Int32

        public init(name: String = "", group: String = "", kind: String = "", uid: String = "", causes: [Cause] = [], retryAfterSeconds: Int32 = 0) {
            self.name = name
            self.group = group
            self.kind = kind
            self.uid = uid
            self.causes = causes
            self.retryAfterSeconds = retryAfterSeconds
        }

        public init(from reader: ObjectReader) throws(ObjectDecodingError) {
            name = try reader.string("name") ?? ""
            group = try reader.string("group") ?? ""
            kind = try reader.string("kind") ?? ""
            uid = try reader.string("uid") ?? ""
            causes = try reader.objects("causes")
            retryAfterSeconds = try reader.int32("retryAfterSeconds") ?? 0
            reader.rejectUnreadFields()
        }

        public func write(to writer: inout ObjectWriter) {
            writer.set("name", omittingEmpty: name)
            writer.set("group", omittingEmpty: group)
            writer.set("kind", omittingEmpty: kind)
            writer.set("uid", omittingEmpty: uid)
            writer.set("causes", omittingEmpty: causes)
            writer.set("retryAfterSeconds", omittingZero: Int64(retryAfterSeconds))
        }
    }

    /// One reason a request was invalid (a field error).
    public struct Cause: JSONObjectCodable, Hashable {
        /// `FieldValueRequired`, `FieldValueInvalid`...
        public var reason: String
        public var message: String
        public var field: String

        public init(reason: String, message: String, field: String) {
            self.reason = reason
            self.message = message
            self.field = field
        }

        public init(from reader: ObjectReader) throws(ObjectDecodingError) {
            reason = try reader.string("reason") ?? ""
            message = try reader.string("message") ?? ""
            field = try reader.string("field") ?? ""
            reader.rejectUnreadFields()
        }

        public func write(to writer: inout ObjectWriter) {
            writer.set("reason", omittingEmpty: reason)
            writer.set("message", omittingEmpty: message)
            writer.set("field", omittingEmpty: field)
        }
    }

    public init(from reader: ObjectReader) throws(ObjectDecodingError) {
        try reader.typeInformation(of: APIStatus.self)
        metadata = try reader.object("metadata") ?? ListMeta()
        status = try reader.string("status") ?? ""
        message = try reader.string("message") ?? ""
        reason = try reader.enumeration("reason")
        details = try reader.object("details")
        code = try reader.int32("code") ?? 0
        reader.rejectUnreadFields()
    }

    public func write(to writer: inout ObjectWriter) {
        writer.setTypeInformation(of: APIStatus.self)
        writer.set("metadata", metadata.json)
        writer.set("status", omittingEmpty: status)
        writer.set("message", omittingEmpty: message)
        writer.set("reason", omittingNil: reason)
        writer.set("details", omittingNil: details)
        writer.set("code", omittingZero: Int64(code))
    }

    // MARK: The errors the API returns

    /// `pods "web" not found` (404).
    public static func notFound(resource: String, name: String) -> APIStatus {
        APIStatus(message: "\(resource) \"\(name)\" not found", reason: .notFound, details: Details(name: name, kind: resource), code: 404)
    }

    /// `pods "web" already exists` (409).
    public static func alreadyExists(resource: String, name: String) -> APIStatus {
        APIStatus(message: "\(resource) \"\(name)\" already exists", reason: .alreadyExists, details: Details(name: name, kind: resource), code: 409)
    }

    /// `Operation cannot be fulfilled on pods "web": <message>` (409), for a stale resourceVersion.
    public static func conflict(resource: String, name: String,
                                message: String = "the object has been modified; please apply your changes to the latest version and try again") -> APIStatus {
        APIStatus(message: "Operation cannot be fulfilled on \(resource) \"\(name)\": \(message)", reason: .conflict,
                  details: Details(name: name, kind: resource), code: 409)
    }

    /// A request that cannot be read (400), such as a manifest with unknown fields.
    public static func badRequest(_ message: String) -> APIStatus {
        APIStatus(message: message, reason: .badRequest, code: 400)
    }

    /// `Pod "Foo" is invalid: ...` (422) with one cause per field error. A kind of an API group
    /// other than the core one is named with it, as `CreateOptions.meta.k8s.io`.
    public static func invalid(kind: String, group: String = "", name: String, errors: [FieldError]) -> APIStatus {
        let causes = errors.map { Cause(reason: $0.type.rawValue, message: $0.body, field: $0.field.description) }
        let summary = FieldError.aggregateMessage(errors)
        let qualifiedKind = group.isEmpty ? kind : "\(kind).\(group)"
        return APIStatus(message: summary.isEmpty ? "\(qualifiedKind) \"\(name)\" is invalid" : "\(qualifiedKind) \"\(name)\" is invalid: \(summary)",
                         reason: .invalid, details: Details(name: name, group: group, kind: kind, causes: causes), code: 422)
    }

    /// kube-apiserver's answer to a body over its limit (413): `Request entity too large: limit is 3145728`.
    public static func requestEntityTooLarge(limit: Int) -> APIStatus {
        APIStatus(message: "Request entity too large: limit is \(limit)", reason: .requestEntityTooLarge, code: 413)
    }

    /// kube-apiserver's answer to a request it gave up on (504).
    public static func timeout() -> APIStatus {
        APIStatus(message: "Timeout: request did not complete within requested timeout - context deadline exceeded", reason: .timeout, code: 504)
    }

    /// A watch from a resourceVersion whose later changes are no longer known (410): the
    /// client lists again.
    public static func expired(_ message: String) -> APIStatus {
        APIStatus(message: message, reason: .expired, code: 410)
    }

    /// An unexpected failure (500).
    public static func internalError(_ message: String) -> APIStatus {
        APIStatus(message: "Internal error occurred: \(message)", reason: .internalError, code: 500)
    }

    /// The message as kubectl prints it: for `Invalid`, `The Pod "x" is invalid: ` followed by
    /// the field error (one) or a `* field: reason` line per field error (several).
    public var kubectlMessage: String {
        guard reason == .invalid, let details, !details.causes.isEmpty else { return message }
        let prefix = details.kind.isEmpty && details.name.isEmpty ? "The request is invalid" : "The \(details.kind) \"\(details.name)\" is invalid"
        let lines = details.causes.map { $0.field.isEmpty ? $0.message : "\($0.field): \($0.message)" }
        if lines.count == 1 { return "\(prefix): \(lines[0])" }
        return "\(prefix): \n" + lines.map { "* " + $0 }.joined(separator: "\n")
    }
}
