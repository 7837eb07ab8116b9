/// An object of any kind podlab serves, as read from a manifest.
public enum AnyKubernetesObject: Hashable, Sendable {
    case pod(Pod)
    case node(Node)
    case service(Service)
    case namespace(Namespace)
    case deployment(Deployment)
    case replicaSet(ReplicaSet)
    case networkPolicy(NetworkPolicy)
    case configMap(ConfigMap)
    case secret(Secret)
    case meshPolicy(MeshPolicy)
    case route(MeshRoute)

    /// Kinds podlab reads from manifests, by `apiVersion` and `kind`.
    public static let supportedKinds: [(apiVersion: String, kind: String)] = [
        (Pod.apiVersion, Pod.kind), (Node.apiVersion, Node.kind), (Service.apiVersion, Service.kind), (Namespace.apiVersion, Namespace.kind),
        (Deployment.apiVersion, Deployment.kind), (ReplicaSet.apiVersion, ReplicaSet.kind),
        (NetworkPolicy.apiVersion, NetworkPolicy.kind), (ConfigMap.apiVersion, ConfigMap.kind), (Secret.apiVersion, Secret.kind),
        (MeshPolicy.apiVersion, MeshPolicy.kind), (MeshRoute.apiVersion, MeshRoute.kind),
    ]

    /// Reads an object by its `apiVersion` and `kind`, strictly (see `JSONObjectCodable`).
    public init(json: JSONValue) throws(ObjectDecodingError) {
        let (apiVersion, kind) = try AnyKubernetesObject.typeInformation(of: json)
        switch (apiVersion, kind) {
        case (Pod.apiVersion, Pod.kind): self = .pod(try Pod(json: json))
        case (Node.apiVersion, Node.kind): self = .node(try Node(json: json))
        case (Service.apiVersion, Service.kind): self = .service(try Service(json: json))
        case (Namespace.apiVersion, Namespace.kind): self = .namespace(try Namespace(json: json))
        case (Deployment.apiVersion, Deployment.kind): self = .deployment(try Deployment(json: json))
        case (ReplicaSet.apiVersion, ReplicaSet.kind): self = .replicaSet(try ReplicaSet(json: json))
        case (NetworkPolicy.apiVersion, NetworkPolicy.kind): self = .networkPolicy(try NetworkPolicy(json: json))
        case (ConfigMap.apiVersion, ConfigMap.kind): self = .configMap(try ConfigMap(json: json))
        case (Secret.apiVersion, Secret.kind): self = .secret(try Secret(json: json))
        case (MeshPolicy.apiVersion, MeshPolicy.kind): self = .meshPolicy(try MeshPolicy(json: json))
        case (MeshRoute.apiVersion, MeshRoute.kind): self = .route(try MeshRoute(json: json))
        default: throw .unsupportedKind(kind: kind, apiVersion: apiVersion)
        }
    }

    /// `apiVersion` and `kind` of a manifest object; both must be set.
    static func typeInformation(of json: JSONValue) throws(ObjectDecodingError) -> (apiVersion: String, kind: String) {
        guard case let .object(fields) = json else {
            throw .typeMismatch(field: .root, expected: "object", found: json.typeName)
        }
        var missing: [String] = []
        var values: [String] = []
        for key in ["apiVersion", "kind"] {
            switch fields[key] {
            case let .string(text)? where !text.isEmpty: values.append(text)
            case nil, .null?, .string?: missing.append(key)
            case let other?: throw .typeMismatch(field: FieldPath.root.child(key), expected: "string", found: other.typeName)
            }
        }
        guard missing.isEmpty else { throw .missingTypeInformation(missing) }
        return (values[0], values[1])
    }

    public var kind: String {
        switch self {
        case .pod: Pod.kind
        case .node: Node.kind
        case .service: Service.kind
        case .namespace: Namespace.kind
        case .deployment: Deployment.kind
        case .replicaSet: ReplicaSet.kind
        case .networkPolicy: NetworkPolicy.kind
        case .configMap: ConfigMap.kind
        case .secret: Secret.kind
        case .meshPolicy: MeshPolicy.kind
        case .route: MeshRoute.kind
        }
    }

    public var metadata: ObjectMeta {
        switch self {
        case let .pod(pod): pod.metadata
        case let .node(node): node.metadata
        case let .service(service): service.metadata
        case let .namespace(namespace): namespace.metadata
        case let .deployment(deployment): deployment.metadata
        case let .replicaSet(replicaSet): replicaSet.metadata
        case let .networkPolicy(policy): policy.metadata
        case let .configMap(map): map.metadata
        case let .secret(secret): secret.metadata
        case let .meshPolicy(policy): policy.metadata
        case let .route(route): route.metadata
        }
    }

    public var json: JSONValue {
        switch self {
        case let .pod(pod): pod.json
        case let .node(node): node.json
        case let .service(service): service.json
        case let .namespace(namespace): namespace.json
        case let .deployment(deployment): deployment.json
        case let .replicaSet(replicaSet): replicaSet.json
        case let .networkPolicy(policy): policy.json
        case let .configMap(map): map.json
        case let .secret(secret): secret.json
        case let .meshPolicy(policy): policy.json
        case let .route(route): route.json
        }
    }
}

/// One object of a manifest file, or the reason it could not be read.
public struct ManifestItem: Sendable {
    /// The document it came from, counted from 1.
    public var document: Int
    /// The line where that document starts.
    public var line: Int
    public var result: Result<AnyKubernetesObject, ObjectDecodingError>
}

/// Reads manifest files the way `kubectl apply -f` does: YAML (several documents separated
/// by `---`) or JSON, and `kind: List` (or `PodList`, `NodeList`) expanded into its items.
public enum Manifest {
    /// Every object in `text`. A syntax error fails the whole text (nothing is applied); an
    /// object that cannot be decoded fails only its own item, so the others can still be applied.
    public static func objects(in text: String) throws(DocumentSyntaxError) -> [ManifestItem] {
        var items: [ManifestItem] = []
        for (index, document) in try ManifestText.documents(in: text).enumerated() {
            for result in objects(in: document.value) {
                items.append(ManifestItem(document: index + 1, line: document.line, result: result))
            }
        }
        return items
    }

    /// The objects of one document: one, or the items of a list.
    public static func objects(in value: JSONValue) -> [Result<AnyKubernetesObject, ObjectDecodingError>] {
        if case let .object(fields) = value, case let .string(kind)? = fields["kind"], isListKind(kind) {
            // `List` is v1; a typed list is its items' group (`DeploymentList` is apps/v1).
            let listVersion = AnyKubernetesObject.supportedKinds.first { $0.kind + "List" == kind }?.apiVersion ?? "v1"
            guard fields["apiVersion"] == .string(listVersion) else {
                return [.failure(.unsupportedKind(kind: kind, apiVersion: fields["apiVersion"]?.stringValue ?? ""))]
            }
            let allowed: Set<String> = ["apiVersion", "kind", "metadata", "items"]
            let unknown = fields.keys.filter { !allowed.contains($0) }.sorted().map { FieldPath.root.child($0) }
            guard unknown.isEmpty else { return [.failure(.inObject(kind: kind, apiVersion: listVersion, .unknownFields(unknown)))] }
            switch fields["items"] {
            case nil, .null?: return []
            case let .array(items)?:
                return items.enumerated().map { index, item in
                    if kind != "List", item["kind"] == nil || item["kind"] == .null, case var .object(itemFields) = item {
                        // A typed list's items may leave out their kind.
                        itemFields["kind"] = .string(String(kind.dropLast("List".count)))
                        itemFields["apiVersion"] = itemFields["apiVersion"] ?? .string(listVersion)
                        return decode(.object(itemFields))
                    }
                    return decode(item).mapError { error in
                        if case let .typeMismatch(field, expected, found) = error {
                            return .typeMismatch(field: FieldPath.root.child("items").index(index).appending(field), expected: expected, found: found)
                        }
                        return error
                    }
                }
            case let other?:
                return [.failure(.typeMismatch(field: FieldPath.root.child("items"), expected: "array", found: other.typeName))]
            }
        }
        return [decode(value)]
    }

    private static func decode(_ value: JSONValue) -> Result<AnyKubernetesObject, ObjectDecodingError> {
        do { return .success(try AnyKubernetesObject(json: value)) } catch { return .failure(error) }
    }

    private static func isListKind(_ kind: String) -> Bool {
        kind == "List" || AnyKubernetesObject.supportedKinds.contains { $0.kind + "List" == kind }
    }
}
