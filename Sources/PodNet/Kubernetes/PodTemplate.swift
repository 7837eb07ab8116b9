/// `spec.template` of a workload (`PodTemplateSpec`): the metadata and spec every pod it
/// makes starts from.
public struct PodTemplateSpec: JSONObjectCodable, Hashable {
    public var metadata: ObjectMeta
    public var spec: PodSpec

    public init(metadata: ObjectMeta = ObjectMeta(), spec: PodSpec = PodSpec()) {
        self.metadata = metadata
        self.spec = spec
    }

    public init(from reader: ObjectReader) throws(ObjectDecodingError) {
        metadata = try reader.object("metadata") ?? ObjectMeta()
        spec = try reader.object("spec") ?? PodSpec()
        reader.rejectUnreadFields()
    }

    public func write(to writer: inout ObjectWriter) {
        // The API server writes `creationTimestamp: null` in templates too.
        writer.set("metadata", metadata.json)
        writer.set("spec", spec.json)
    }

    /// The template with the pod defaults the API server fills in (`SetDefaults_PodSpec`).
    public func applyingDefaults() -> PodTemplateSpec {
        var template = self
        template.spec = Pod(metadata: metadata, spec: spec).applyingDefaults().spec
        return template
    }
}

/// A label selector as objects carry it (`metav1.LabelSelector`): `matchLabels` and
/// `matchExpressions`, all of which must hold.
public struct LabelSelectorSpec: JSONObjectCodable, Hashable {
    public var matchLabels: [String: String]
    public var matchExpressions: [LabelSelectorRequirementSpec]

    public init(matchLabels: [String: String] = [:], matchExpressions: [LabelSelectorRequirementSpec] = []) {
        self.matchLabels = matchLabels
        self.matchExpressions = matchExpressions
    }

    public init(from reader: ObjectReader) throws(ObjectDecodingError) {
        matchLabels = try reader.stringMap("matchLabels") ?? [:]
        matchExpressions = try reader.objects("matchExpressions")
        reader.rejectUnreadFields()
    }

    public func write(to writer: inout ObjectWriter) {
        writer.set("matchLabels", omittingEmpty: matchLabels)
        writer.set("matchExpressions", omittingEmpty: matchExpressions)
    }

    /// True when it selects nothing at all (no requirement): Kubernetes refuses that for workloads.
    public var isEmpty: Bool { matchLabels.isEmpty && matchExpressions.isEmpty }

    /// The selector as requirements (an unknown operator matches nothing; validation refuses it).
    public var selector: LabelSelector {
        var requirements = matchLabels.map { LabelSelector.Requirement(key: $0.key, operator: .equals, values: [$0.value]) }
        for expression in matchExpressions {
            switch expression.operator {
            case "In": requirements.append(.init(key: expression.key, operator: .in, values: expression.values))
            case "NotIn": requirements.append(.init(key: expression.key, operator: .notIn, values: expression.values))
            case "Exists": requirements.append(.init(key: expression.key, operator: .exists))
            case "DoesNotExist": requirements.append(.init(key: expression.key, operator: .doesNotExist))
            default: requirements.append(.init(key: expression.key, operator: .in, values: []))
            }
        }
        return LabelSelector(requirements: requirements)
    }

    /// `app=web,tier in (front)`, as kubectl prints a selector in `-o wide` and `describe`.
    public var description: String { selector.description }

    /// The checks of `ValidateLabelSelector`, with its messages.
    func validate(path: FieldPath) -> [FieldError] {
        var errors = ObjectMetaValidation.validateLabels(matchLabels, path: path.child("matchLabels"))
        for (index, expression) in matchExpressions.enumerated() {
            let field = path.child("matchExpressions").index(index)
            errors += KubernetesNames.qualifiedNameErrors(expression.key).map { .invalid(field.child("key"), .string(expression.key), $0) }
            switch expression.operator {
            case "In", "NotIn":
                if expression.values.isEmpty {
                    errors.append(.required(field.child("values"), "must be specified when `operator` is 'In' or 'NotIn'"))
                }
            case "Exists", "DoesNotExist":
                if !expression.values.isEmpty {
                    errors.append(.forbidden(field.child("values"), "may not be specified when `operator` is 'Exists' or 'DoesNotExist'"))
                }
            default:
                errors.append(.invalid(field.child("operator"), .string(expression.operator), "not a valid selector operator"))
            }
        }
        return errors
    }
}

/// One `matchExpressions` entry.
public struct LabelSelectorRequirementSpec: JSONObjectCodable, Hashable {
    public var key: String
    /// `In`, `NotIn`, `Exists` or `DoesNotExist`.
    public var `operator`: String
    public var values: [String]

    public init(key: String, operator: String, values: [String] = []) {
        self.key = key
        self.operator = `operator`
        self.values = values
    }

    public init(from reader: ObjectReader) throws(ObjectDecodingError) {
        key = try reader.string("key") ?? ""
        `operator` = try reader.string("operator") ?? ""
        values = try reader.stringArray("values") ?? []
        reader.rejectUnreadFields()
    }

    public func write(to writer: inout ObjectWriter) {
        writer.set("key", .string(key))
        writer.set("operator", .string(`operator`))
        writer.set("values", omittingEmpty: values)
    }
}

/// A condition of a Deployment or ReplicaSet (`DeploymentCondition`, `ReplicaSetCondition`).
public struct WorkloadCondition: JSONObjectCodable, Hashable {
    /// `Available`, `Progressing`, `ReplicaFailure`.
    public var type: String
    public var status: ConditionStatus
    public var lastUpdateTime: Timestamp?
    public var lastTransitionTime: Timestamp?
    public var reason: String
    public var message: String

    public init(type: String, status: ConditionStatus, reason: String = "", message: String = "",
                lastUpdateTime: Timestamp? = nil, lastTransitionTime: Timestamp? = nil) {
        self.type = type
        self.status = status
        self.reason = reason
        self.message = message
        self.lastUpdateTime = lastUpdateTime
        self.lastTransitionTime = lastTransitionTime
    }

    public init(from reader: ObjectReader) throws(ObjectDecodingError) {
        type = try reader.string("type") ?? ""
        status = try reader.enumeration("status") ?? .unknown
        lastUpdateTime = try reader.timestamp("lastUpdateTime")
        lastTransitionTime = try reader.timestamp("lastTransitionTime")
        reason = try reader.string("reason") ?? ""
        message = try reader.string("message") ?? ""
        reader.rejectUnreadFields()
    }

    public func write(to writer: inout ObjectWriter) {
        writer.set("type", .string(type))
        writer.set("status", .string(status.rawValue))
        writer.set("lastUpdateTime", omittingNil: lastUpdateTime)
        writer.set("lastTransitionTime", omittingNil: lastTransitionTime)
        writer.set("reason", omittingEmpty: reason)
        writer.set("message", omittingEmpty: message)
    }

    /// Sets `condition` in `conditions`: its transition time moves only when its status changes,
    /// its update time when anything in it changes (unless given).
    public static func set(_ condition: WorkloadCondition, in conditions: inout [WorkloadCondition], now: Timestamp) {
        var condition = condition
        let updated = condition.lastUpdateTime
        condition.lastUpdateTime = updated ?? now
        if let index = conditions.firstIndex(where: { $0.type == condition.type }) {
            let old = conditions[index]
            condition.lastTransitionTime = old.status == condition.status ? old.lastTransitionTime : now
            if updated == nil, old.status == condition.status, old.reason == condition.reason, old.message == condition.message {
                condition.lastUpdateTime = old.lastUpdateTime
            }
            conditions[index] = condition
        } else {
            condition.lastTransitionTime = now
            conditions.append(condition)
        }
    }
}
