/// Kubernetes' rules for `spec.volumes` and `volumeMounts` (`ValidateVolumes`,
/// `ValidateVolumeMounts`), with its messages and field paths — including the paths it gives
/// `subPath`, `mountPropagation` and `recursiveReadOnly` errors, which name the list rather
/// than the entry (`spec.containers[0].volumeMounts.subPath`). What podlab adds, it can act on
/// only absolute paths, comes after.
enum VolumeValidation {
    /// Checks every volume; returns the names of the valid ones (the only ones a mount may
    /// refer to, as in Kubernetes) with the errors.
    static func validateVolumes(_ volumes: [Volume], path: FieldPath) -> (names: Set<String>, errors: [FieldError]) {
        var names: Set<String> = []
        var errors: [FieldError] = []
        for (index, volume) in volumes.enumerated() {
            let volumePath = path.index(index)
            var volumeErrors = validateSource(volume, path: volumePath)
            if volume.name.isEmpty {
                volumeErrors.append(.required(volumePath.child("name")))
            } else {
                volumeErrors += KubernetesNames.dns1123LabelErrors(volume.name).map { .invalid(volumePath.child("name"), .string(volume.name), $0) }
            }
            if names.contains(volume.name) {
                volumeErrors.append(.duplicate(volumePath.child("name"), .string(volume.name)))
            }
            if volumeErrors.isEmpty { names.insert(volume.name) }
            errors += volumeErrors
        }
        return (names, errors)
    }

    /// `validateVolumeSource` for the sources podlab models: exactly one source, then its own rules.
    static func validateSource(_ volume: Volume, path: FieldPath) -> [FieldError] {
        let sources = volume.sourceNames
        guard let first = sources.first else { return [.required(path, "must specify a volume type")] }
        var errors: [FieldError] = sources.dropFirst().map { .forbidden(path.child($0), "may not specify more than 1 volume type") }
        switch first {
        case "emptyDir":
            if let limit = volume.emptyDir?.sizeLimit, limit < .zero {
                errors.append(.forbidden(path.child("emptyDir").child("sizeLimit"), "SizeLimit field must be a valid resource quantity"))
            }
        case "hostPath":
            guard let hostPath = volume.hostPath else { break }
            let pathField = path.child("hostPath").child("path")
            if hostPath.path.isEmpty {
                errors.append(.required(pathField))
                break
            }
            errors += noBacksteps(hostPath.path, path: pathField)
            if let type = hostPath.type, !HostPathType.supported.contains(type) {
                errors.append(.notSupported(path.child("hostPath").child("type"), type.rawValue, supported: HostPathType.supported.map(\.rawValue)))
            }
        case "configMap":
            guard let source = volume.configMap else { break }
            let sourcePath = path.child("configMap")
            if source.name.isEmpty { errors.append(.required(sourcePath.child("name"))) }
            errors += fileMode(source.defaultMode, path: sourcePath.child("defaultMode"))
            errors += source.items.enumerated().flatMap { keyToPath($1, path: sourcePath.child("items").index($0)) }
        case "secret":
            guard let source = volume.secret else { break }
            let sourcePath = path.child("secret")
            if source.secretName.isEmpty { errors.append(.required(sourcePath.child("secretName"))) }
            errors += fileMode(source.defaultMode, path: sourcePath.child("defaultMode"))
            errors += source.items.enumerated().flatMap { keyToPath($1, path: sourcePath.child("items").index($0)) }
        case "downwardAPI":
            guard let source = volume.downwardAPI else { break }
            let sourcePath = path.child("downwardAPI")
            errors += fileMode(source.defaultMode, path: sourcePath.child("defaultMode"))
            errors += source.items.flatMap { downwardAPIFile($0, path: sourcePath) }
        case "projected":
            guard let source = volume.projected else { break }
            errors += fileMode(source.defaultMode, path: path.child("projected").child("defaultMode"))
            errors += projectionSources(source, path: path.child("projected"))
        default:
            break
        }
        return errors
    }

    static let fileModeMessage = "must be a number between 0 and 0777 (octal), both inclusive"

    static func fileMode(_ mode: Int32?, path: FieldPath) -> [FieldError] {
        guard let mode, mode < 0 || mode > 0o777 else { return [] }
        return [.invalid(path, .integer(Int64(mode)), fileModeMessage)]
    }

    /// `validateKeyToPath`.
    static func keyToPath(_ item: KeyToPath, path: FieldPath) -> [FieldError] {
        var errors: [FieldError] = []
        if item.key.isEmpty { errors.append(.required(path.child("key"))) }
        if item.path.isEmpty { errors.append(.required(path.child("path"))) }
        errors += localNonReservedPath(item.path, path: path.child("path"))
        return errors + fileMode(item.mode, path: path.child("mode"))
    }

    /// `ValidateLocalNonReservedPath`: a file name the kubelet's `..data` scheme cannot clash with.
    static func localNonReservedPath(_ value: String, path: FieldPath) -> [FieldError] {
        var errors = localDescendingPath(value, path: path)
        if value.hasPrefix("..") { errors.append(.invalid(path, .string(value), "must not start with '..'")) }
        return errors
    }

    /// The pod fields a `downwardAPI` file may hold (`validVolumeDownwardAPIFieldPathExpressions`), sorted.
    public static let volumeFieldPaths = ["metadata.annotations", "metadata.labels", "metadata.name", "metadata.namespace", "metadata.uid"]

    /// `validateDownwardAPIVolumeFile`. Kubernetes gives its errors the path of the volume
    /// source, not of the item.
    static func downwardAPIFile(_ file: DownwardAPIVolumeFile, path: FieldPath) -> [FieldError] {
        var errors: [FieldError] = []
        if file.path.isEmpty { errors.append(.required(path.child("path"))) }
        errors += localNonReservedPath(file.path, path: path.child("path"))
        if let field = file.fieldRef {
            errors += PodSpecValidation.validateFieldSelector(field, path: path.child("fieldRef"), supported: volumeFieldPaths)
            if file.resourceFieldRef != nil {
                errors.append(.invalid(path, .string("resource"), "fieldRef and resourceFieldRef can not be specified simultaneously"))
            }
        } else if let resource = file.resourceFieldRef {
            errors += PodSpecValidation.validateResourceSelector(resource, path: path.child("resourceFieldRef"))
            if resource.containerName.isEmpty { errors.append(.required(path.child("resourceFieldRef").child("containerName"))) }
        } else {
            errors.append(.required(path, "one of fieldRef and resourceFieldRef is required"))
        }
        return errors + fileMode(file.mode, path: path.child("mode"))
    }

    /// `validateProjectionSources`: one source per entry, and no path twice across them.
    static func projectionSources(_ projection: ProjectedVolumeSource, path: FieldPath) -> [FieldError] {
        var errors: [FieldError] = []
        var paths: Set<String> = []
        for (index, source) in projection.sources.enumerated() {
            let sourcePath = path.child("sources").index(index)
            for (name, items, field) in [(source.secret?.name, source.secret?.items, "secret"), (source.configMap?.name, source.configMap?.items, "configMap")] {
                guard let name, let items else { continue }
                if name.isEmpty { errors.append(.required(sourcePath.child(field).child("name"))) }
                for (itemIndex, item) in items.enumerated() {
                    errors += keyToPath(item, path: sourcePath.child(field).child("items").index(itemIndex))
                    if !item.path.isEmpty, !paths.insert(item.path).inserted {
                        errors.append(.invalid(path, .string(name), "conflicting duplicate paths"))
                    }
                }
            }
            for file in source.downwardAPI?.items ?? [] {
                errors += downwardAPIFile(file, path: sourcePath.child("downwardAPI"))
                if !file.path.isEmpty, !paths.insert(file.path).inserted {
                    errors.append(.invalid(path, .string(file.path), "conflicting duplicate paths"))
                }
            }
            if let token = source.serviceAccountToken {
                errors += serviceAccountToken(token, path: sourcePath.child("serviceAccountToken"), projectedPath: path)
            }
            if source.sourceNames.count > 1 {
                errors.append(.forbidden(sourcePath, "may not specify more than 1 volume type per source"))
            }
        }
        return errors
    }

    /// The shortest and longest token lifetimes the API server accepts (`MinTokenAgeSec`, 2^32 s).
    public static let tokenLifetimes: ClosedRange<Int64> = 600...(1 << 32)

    /// A `serviceAccountToken` projection as `validateProjectionSources` checks it; a missing
    /// path is reported at the projected volume's path, as Kubernetes does. That the path stays
    /// inside the volume is podlab's own check (the kubelet's writer refuses it only at mount).
    static func serviceAccountToken(_ token: ServiceAccountTokenProjection, path: FieldPath, projectedPath: FieldPath) -> [FieldError] {
        var errors: [FieldError] = []
        let lifetime = token.lifetime
        if lifetime < tokenLifetimes.lowerBound {
            errors.append(.invalid(path.child("expirationSeconds"), .integer(lifetime), "may not specify a duration less than 10 minutes"))
        }
        if lifetime > tokenLifetimes.upperBound {
            errors.append(.invalid(path.child("expirationSeconds"), .integer(lifetime), "may not specify a duration larger than 2^32 seconds"))
        }
        if token.path.isEmpty {
            errors.append(.required(projectedPath.child("path")))
        } else {
            errors += localNonReservedPath(token.path, path: path.child("path"))
        }
        return errors
    }

    /// The mounts of one container: a declared volume each, at a unique path.
    static func validateMounts(_ mounts: [VolumeMount], volumes: Set<String>, path: FieldPath) -> [FieldError] {
        var errors: [FieldError] = []
        var mountPaths: Set<String> = []
        for (index, mount) in mounts.enumerated() {
            let mountPath = path.index(index)
            if mount.name.isEmpty { errors.append(.required(mountPath.child("name"))) }
            if !volumes.contains(mount.name) { errors.append(.notFound(mountPath.child("name"), .string(mount.name))) }
            if mount.mountPath.isEmpty { errors.append(.required(mountPath.child("mountPath"))) }
            if !mountPaths.insert(mount.mountPath).inserted {
                errors.append(.invalid(mountPath.child("mountPath"), .string(mount.mountPath), "must be unique"))
            }
            if !mount.subPath.isEmpty { errors += localDescendingPath(mount.subPath, path: path.child("subPath")) }
            if !mount.subPathExpr.isEmpty {
                if !mount.subPath.isEmpty {
                    errors.append(.invalid(mountPath.child("subPathExpr"), .string(mount.subPathExpr), "subPathExpr and subPath are mutually exclusive"))
                }
                errors += localDescendingPath(mount.subPathExpr, path: path.child("subPathExpr"))
            }
            if let propagation = mount.mountPropagation {
                errors += validatePropagation(propagation, path: path.child("mountPropagation"))
            }
            errors += validateRecursiveReadOnly(mount, path: path.child("recursiveReadOnly"))
        }
        return errors
    }

    static let propagationModes = ["Bidirectional", "HostToContainer", "None"]

    /// `validateMountPropagation`: a known mode; `Bidirectional` only for privileged containers,
    /// which podlab has none of (`securityContext` is refused).
    static func validatePropagation(_ mode: String, path: FieldPath) -> [FieldError] {
        guard propagationModes.contains(mode) else { return [.notSupported(path, mode, supported: propagationModes)] }
        if mode == "Bidirectional" {
            return [.forbidden(path, "Bidirectional mount propagation is available only to privileged containers")]
        }
        return []
    }

    static let recursiveReadOnlyModes = ["Disabled", "Enabled", "IfPossible"]

    /// `validateMountRecursiveReadOnly`.
    static func validateRecursiveReadOnly(_ mount: VolumeMount, path: FieldPath) -> [FieldError] {
        guard let mode = mount.recursiveReadOnly else { return [] }
        switch mode {
        case "Disabled":
            return []
        case "Enabled", "IfPossible":
            var errors: [FieldError] = []
            if !mount.readOnly { errors.append(.forbidden(path, "may only be specified when readOnly is true")) }
            if let propagation = mount.mountPropagation, propagation != "None" {
                errors.append(.forbidden(path, "may only be specified when mountPropagation is None or not specified"))
            }
            return errors
        default:
            return [.notSupported(path, mode, supported: recursiveReadOnlyModes)]
        }
    }

    /// `validateLocalDescendingPath`: relative, and never `..`.
    static func localDescendingPath(_ value: String, path: FieldPath) -> [FieldError] {
        var errors: [FieldError] = []
        if value.hasPrefix("/") { errors.append(.invalid(path, .string(value), "must be a relative path")) }
        return errors + noBacksteps(value, path: path)
    }

    /// `validatePathNoBacksteps`: one error however many `..` there are.
    static func noBacksteps(_ value: String, path: FieldPath) -> [FieldError] {
        value.split(separator: "/", omittingEmptySubsequences: false).contains("..")
            ? [.invalid(path, .string(value), "must not contain '..'")] : []
    }
}
