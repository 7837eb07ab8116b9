/// The files the kubelet writes for a `configMap`, `secret`, `downwardAPI` or `projected`
/// volume (its volume plugins' `MakePayload` and `CollectData`): relative path → bytes and mode.
/// Writing them (atomically, behind `..data`) is the agent's; what they are is decided here.

/// One file of a volume's payload.
public struct ProjectedFile: Hashable, Sendable {
    public var data: [UInt8]
    /// Permission bits (0644 unless the volume or the item says otherwise).
    public var mode: Int32

    public init(data: [UInt8], mode: Int32) {
        self.data = data
        self.mode = mode
    }

    public init(_ text: String, mode: Int32) { self.init(data: Array(text.utf8), mode: mode) }
}

/// Why a volume's files cannot be made, in the kubelet's words (the reason after
/// `MountVolume.SetUp failed for volume "x" : `).
public struct VolumeSourceError: Error, Hashable, Sendable, CustomStringConvertible {
    public var reasons: [String]

    public init(_ reasons: [String]) { self.reasons = reasons }

    /// One reason as it is; several as Kubernetes' aggregate error prints them.
    public var description: String { reasons.count == 1 ? reasons[0] : "[" + reasons.joined(separator: ", ") + "]" }
}

/// An object a pod reads: a ConfigMap or a Secret of its namespace, by name.
public struct ConfigReference: Hashable, Sendable {
    public enum Kind: String, Hashable, Sendable {
        case configMap, secret
    }

    public var kind: Kind
    public var name: String

    public init(_ kind: Kind, _ name: String) {
        self.kind = kind
        self.name = name
    }
}

/// Issues the token of a `serviceAccountToken` projection for a pod (the kubelet's token
/// manager: a cached token until it needs a refresh, else a new one).
public typealias ServiceAccountTokenIssuer = @Sendable (ServiceAccountTokenProjection, Pod) throws(VolumeSourceError) -> String

public enum VolumeFiles {
    /// The payload of `volume` in `pod`; nil for a volume whose files the kubelet does not write.
    /// `tokens` issues the projected service account tokens.
    /// - Throws: `VolumeSourceError` for an object (not optional) or key that is missing, and
    ///   for a downward API value that cannot be read; the pod then waits (`FailedMount`).
    public static func payload(for volume: Volume, pod: Pod, objects: ConfigObjects, nodeAllocatable: ResourceList,
                               tokens: ServiceAccountTokenIssuer? = nil) throws(VolumeSourceError) -> [String: ProjectedFile]? {
        if let source = volume.configMap {
            let mode = source.defaultMode ?? Pod.defaultFileMode
            return try configMapFiles(source.name, items: source.items, optional: source.optional == true, mode: mode, objects: objects)
        }
        if let source = volume.secret {
            let mode = source.defaultMode ?? Pod.defaultFileMode
            return try secretFiles(source.secretName, items: source.items, optional: source.optional == true, mode: mode, objects: objects)
        }
        if let source = volume.downwardAPI {
            return try downwardAPIFiles(source.items, mode: source.defaultMode ?? Pod.defaultFileMode, pod: pod, nodeAllocatable: nodeAllocatable)
        }
        if let projected = volume.projected {
            // Every source is tried, and their failures reported together, as the kubelet's
            // projected plugin does; a later source's file replaces an earlier one at the same path.
            let mode = projected.defaultMode ?? Pod.defaultFileMode
            var files: [String: ProjectedFile] = [:]
            var reasons: [String] = []
            for source in projected.sources {
                do throws(VolumeSourceError) {
                    if let map = source.configMap {
                        files.merge(try configMapFiles(map.name, items: map.items, optional: map.optional == true, mode: mode, objects: objects)) { $1 }
                    } else if let secret = source.secret {
                        files.merge(try secretFiles(secret.name, items: secret.items, optional: secret.optional == true, mode: mode, objects: objects)) { $1 }
                    } else if let downward = source.downwardAPI {
                        files.merge(try downwardAPIFiles(downward.items, mode: mode, pod: pod, nodeAllocatable: nodeAllocatable)) { $1 }
                    } else if let token = source.serviceAccountToken {
                        guard let tokens else { throw VolumeSourceError(["no service account token issuer on this node"]) }
                        files[token.path] = ProjectedFile(try tokens(token, pod), mode: mode)
                    }
                } catch {
                    reasons += error.reasons
                }
            }
            if !reasons.isEmpty { throw VolumeSourceError(reasons) }
            return files
        }
        return nil
    }

    /// The configmap plugin: every key at its own name, or only `items` at their paths.
    static func configMapFiles(_ name: String, items: [KeyToPath], optional: Bool, mode: Int32,
                               objects: ConfigObjects) throws(VolumeSourceError) -> [String: ProjectedFile] {
        guard let map = objects.configMaps[name] else {
            if optional { return [:] }
            throw VolumeSourceError(["configmap \"\(name)\" not found"])
        }
        return try keyFiles(map.contents, items: items, optional: optional, mode: mode,
                            missing: { "configmap references non-existent config key: \($0)" })
    }

    /// The secret plugin: as a ConfigMap's.
    static func secretFiles(_ name: String, items: [KeyToPath], optional: Bool, mode: Int32,
                            objects: ConfigObjects) throws(VolumeSourceError) -> [String: ProjectedFile] {
        guard let secret = objects.secrets[name] else {
            if optional { return [:] }
            throw VolumeSourceError(["secret \"\(name)\" not found"])
        }
        return try keyFiles(secret.data, items: items, optional: optional, mode: mode,
                            missing: { "references non-existent secret key: \($0)" })
    }

    static func keyFiles(_ contents: [String: [UInt8]], items: [KeyToPath], optional: Bool, mode: Int32,
                         missing: (String) -> String) throws(VolumeSourceError) -> [String: ProjectedFile] {
        guard !items.isEmpty else { return contents.mapValues { ProjectedFile(data: $0, mode: mode) } }
        var files: [String: ProjectedFile] = [:]
        for item in items {
            guard let data = contents[item.key] else {
                if optional { continue }
                throw VolumeSourceError([missing(item.key)])
            }
            files[item.path] = ProjectedFile(data: data, mode: item.mode ?? mode)
        }
        return files
    }

    /// The downwardAPI plugin: each item a pod field (labels and annotations as `key="value"`
    /// lines) or a container's resource.
    static func downwardAPIFiles(_ items: [DownwardAPIVolumeFile], mode: Int32, pod: Pod,
                                 nodeAllocatable: ResourceList) throws(VolumeSourceError) -> [String: ProjectedFile] {
        var files: [String: ProjectedFile] = [:]
        var reasons: [String] = []
        for item in items {
            do throws(DownwardAPIError) {
                let value: String
                if let field = item.fieldRef {
                    value = try DownwardAPI.value(of: field, in: pod)
                } else if let resource = item.resourceFieldRef, let first = pod.spec.containers.first {
                    value = try DownwardAPI.value(of: resource, container: first, pod: pod, nodeAllocatable: nodeAllocatable)
                } else {
                    continue
                }
                files[item.path] = ProjectedFile(value, mode: item.mode ?? mode)
            } catch {
                reasons.append(error.description)
            }
        }
        if !reasons.isEmpty { throw VolumeSourceError(reasons) }
        return files
    }

    /// The ConfigMaps and Secrets `volume` reads.
    public static func references(of volume: Volume) -> [ConfigReference] {
        var references: [ConfigReference] = []
        if let map = volume.configMap { references.append(ConfigReference(.configMap, map.name)) }
        if let secret = volume.secret { references.append(ConfigReference(.secret, secret.secretName)) }
        for source in volume.projected?.sources ?? [] {
            if let map = source.configMap { references.append(ConfigReference(.configMap, map.name)) }
            if let secret = source.secret { references.append(ConfigReference(.secret, secret.name)) }
        }
        return references
    }

    /// The volume's files live in memory, as the kubelet keeps them: its `secret`, `projected`
    /// (service account tokens among them) and `downwardAPI` plugins mount a tmpfs
    /// (`StorageMediumMemory`) for the volume before writing; `configMap` writes to disk.
    public static func isMemoryBacked(_ volume: Volume) -> Bool {
        volume.secret != nil || volume.projected != nil || volume.downwardAPI != nil
    }

    /// The volume holds a service account token (rewritten when the token is rotated).
    public static func holdsServiceAccountToken(_ volume: Volume) -> Bool {
        (volume.projected?.sources ?? []).contains { $0.serviceAccountToken != nil }
    }

    /// The volume's files follow the pod's labels or annotations.
    public static func readsPodMetadata(_ volume: Volume) -> Bool {
        let items = (volume.downwardAPI?.items ?? []) + (volume.projected?.sources ?? []).flatMap { $0.downwardAPI?.items ?? [] }
        return items.contains { item in
            guard let path = item.fieldRef?.fieldPath else { return false }
            return path.hasPrefix("metadata.labels") || path.hasPrefix("metadata.annotations")
        }
    }
}

extension Pod {
    /// Every ConfigMap and Secret the pod reads, through its volumes or its containers' environment.
    public var configReferences: Set<ConfigReference> {
        var references = Set(spec.volumes.flatMap(VolumeFiles.references(of:)))
        for container in spec.allContainers {
            for source in container.envFrom {
                if let map = source.configMapRef { references.insert(ConfigReference(.configMap, map.name)) }
                if let secret = source.secretRef { references.insert(ConfigReference(.secret, secret.name)) }
            }
            for variable in container.env {
                if let map = variable.valueFrom?.configMapKeyRef { references.insert(ConfigReference(.configMap, map.name)) }
                if let secret = variable.valueFrom?.secretKeyRef { references.insert(ConfigReference(.secret, secret.name)) }
            }
        }
        return references
    }
}
