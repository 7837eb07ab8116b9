/// Who a container's processes run as, read from the pod's and the container's
/// `securityContext` as the kubelet reads them: the container's `runAsUser`/`runAsGroup` win
/// over the pod's; without them the image's user (root, for every built-in image) and its
/// group (0); the pod's `supplementalGroups` are added to the primary group, as `id` shows
/// (`uid=1000 gid=3000 groups=3000,2000`).
public struct ContainerCredentials: Hashable, Sendable, CustomStringConvertible {
    public var uid: UInt32
    public var gid: UInt32
    /// Every group of the process, the primary one first, no duplicates.
    public var groups: [UInt32]

    public init(uid: UInt32, gid: UInt32, groups: [UInt32]) {
        self.uid = uid
        self.gid = gid
        self.groups = groups
    }

    /// The built-in images' user: root.
    public static let imageDefault = ContainerCredentials(uid: 0, gid: 0, groups: [0])

    public var description: String { "uid=\(uid) gid=\(gid) groups=\(groups.map(String.init).joined(separator: ","))" }

    /// The fields of `securityContext` podlab acts on (the others are refused: `PodSupport`).
    public static let podFields: Set<String> = ["runAsUser", "runAsGroup", "runAsNonRoot", "supplementalGroups"]
    public static let containerFields: Set<String> = ["runAsUser", "runAsGroup", "runAsNonRoot"]

    /// The largest id Kubernetes accepts (`int32`).
    static let maximumID: Int64 = 2_147_483_647

    /// The credentials of `container` in `pod`; throws the kubelet's `CreateContainerConfigError`
    /// message when `runAsNonRoot` forbids what it would run as.
    public static func resolve(pod: Pod, container: Container) throws(ContainerCredentialsError) -> ContainerCredentials {
        let podContext = pod.spec.preservedFields["securityContext"]
        let containerContext = container.preservedFields["securityContext"]
        func id(_ key: String) -> UInt32? {
            (integer(containerContext?[key]) ?? integer(podContext?[key])).map { UInt32($0) }
        }
        let runAsUser = id("runAsUser")
        let uid = runAsUser ?? imageDefault.uid
        let gid = id("runAsGroup") ?? imageDefault.gid
        let nonRoot = bool(containerContext?["runAsNonRoot"]) ?? bool(podContext?["runAsNonRoot"]) ?? false
        let podName = "\(pod.metadata.name)_\(pod.metadata.namespace.isEmpty ? "default" : pod.metadata.namespace)(\(pod.metadata.uid))"
        if nonRoot && uid == 0 {
            // The kubelet's two messages (kuberuntime_container_linux.go, verifyRunAsNonRoot).
            throw ContainerCredentialsError(message: runAsUser != nil
                ? "container's runAsUser breaks non-root policy (pod: \"\(podName)\", container: \(container.name))"
                : "container has runAsNonRoot and image will run as root (pod: \"\(podName)\", container: \(container.name))")
        }
        var groups = [gid]
        for group in podContext?["supplementalGroups"]?.arrayValue ?? [] {
            if let value = integer(group).map({ UInt32($0) }), !groups.contains(value) { groups.append(value) }
        }
        return ContainerCredentials(uid: uid, gid: gid, groups: groups)
    }

    /// API-server validation of the fields podlab acts on (ids within 0…2147483647).
    public static func validate(_ context: JSONValue?, path: FieldPath, pod: Bool) -> [FieldError] {
        guard let fields = context?.objectValue else { return [] }
        var errors: [FieldError] = []
        func checkID(_ value: JSONValue, _ field: FieldPath) {
            guard case let .integer(number) = value else {
                errors.append(.invalid(field, .string(value.typeName), "must be an integer"))
                return
            }
            if number < 0 || number > maximumID {
                errors.append(.invalid(field, .integer(number), "must be between 0 and \(maximumID), inclusive"))
            }
        }
        for key in ["runAsUser", "runAsGroup"] {
            if let value = fields[key], value != .null { checkID(value, path.child(key)) }
        }
        if let value = fields["runAsNonRoot"], value != .null, bool(value) == nil {
            errors.append(.invalid(path.child("runAsNonRoot"), .string(value.typeName), "must be a boolean"))
        }
        if pod, let groups = fields["supplementalGroups"], groups != .null {
            if let list = groups.arrayValue {
                for (index, group) in list.enumerated() { checkID(group, path.child("supplementalGroups").index(index)) }
            } else {
                errors.append(.invalid(path.child("supplementalGroups"), .string(groups.typeName), "must be a list of integers"))
            }
        }
        return errors
    }

    private static func integer(_ value: JSONValue?) -> Int64? {
        if case let .integer(number)? = value, number >= 0, number <= maximumID { return number }
        return nil
    }

    private static func bool(_ value: JSONValue?) -> Bool? {
        if case let .bool(flag)? = value { return flag }
        return nil
    }
}

/// Why a container cannot start with its `securityContext` (`CreateContainerConfigError`).
public struct ContainerCredentialsError: Error, Hashable, Sendable, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}
