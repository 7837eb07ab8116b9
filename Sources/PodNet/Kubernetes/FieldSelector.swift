/// A field selector as the API server takes it (`?fieldSelector=`): comma-separated
/// `field=value`, `field==value` or `field!=value`, all of which must hold, on the fields each
/// kind supports (every kind: `metadata.name`, `metadata.namespace`).
public struct FieldSelector: Hashable, Sendable {
    public struct Requirement: Hashable, Sendable {
        public var field: String
        public var value: String
        public var negated: Bool
    }

    public var requirements: [Requirement]

    /// The fields besides `metadata.name` and `metadata.namespace` a kind can be selected by,
    /// as kube-apiserver registers them.
    public static let supportedFields: [String: Set<String>] = [
        "Pod": ["spec.nodeName", "spec.restartPolicy", "spec.schedulerName", "spec.serviceAccountName", "spec.hostNetwork",
                "status.phase", "status.podIP", "status.nominatedNodeName"],
        "Event": ["involvedObject.kind", "involvedObject.namespace", "involvedObject.name", "involvedObject.uid",
                  "involvedObject.apiVersion", "involvedObject.resourceVersion", "involvedObject.fieldPath",
                  "reason", "reportingComponent", "source", "type"],
        "Namespace": ["status.phase"],
        "ReplicaSet": ["status.replicas"],
        "Node": ["spec.unschedulable"],
        "Service": [],
    ]

    /// Parses `text`; an empty text selects everything. A term without an operator is the API
    /// server's 400 `invalid selector`.
    public init(parsing text: String) throws(APIStatus) {
        var requirements: [Requirement] = []
        for term in text.split(separator: ",", omittingEmptySubsequences: true) {
            let term = String(term)
            let parts: (String, String, Bool)
            if let range = term.range(of: "!=") {
                parts = (String(term[..<range.lowerBound]), String(term[range.upperBound...]), true)
            } else if let range = term.range(of: "==") {
                parts = (String(term[..<range.lowerBound]), String(term[range.upperBound...]), false)
            } else if let range = term.range(of: "=") {
                parts = (String(term[..<range.lowerBound]), String(term[range.upperBound...]), false)
            } else {
                throw APIStatus.badRequest("invalid selector: '\(text)'; can't understand '\(term)'")
            }
            requirements.append(Requirement(field: parts.0.trimmingSpaces, value: parts.1.trimmingSpaces, negated: parts.2))
        }
        self.requirements = requirements
    }

    /// Refuses a field `kind` cannot be selected by, with kube-apiserver's message.
    public func check(kind: String) throws(APIStatus) {
        for requirement in requirements {
            if requirement.field == "metadata.name" || requirement.field == "metadata.namespace" { continue }
            if !(FieldSelector.supportedFields[kind]?.contains(requirement.field) ?? false) {
                throw APIStatus.badRequest("field label not supported: \(requirement.field)")
            }
        }
    }

    /// Whether `object` (its JSON) satisfies every requirement; a missing field is empty.
    public func matches(_ object: JSONValue) -> Bool {
        requirements.allSatisfy { requirement in
            var value: JSONValue? = object
            for key in requirement.field.split(separator: ".") { value = value?[String(key)] }
            let text: String
            switch value {
            case .string(let string)?: text = string
            case .integer(let number)?: text = String(number)
            case .bool(let flag)?: text = flag ? "true" : "false"
            case .object(let fields)? where requirement.field == "source": text = fields["component"]?.stringValue ?? ""
            default: text = ""
            }
            return (text == requirement.value) != requirement.negated
        }
    }
}

