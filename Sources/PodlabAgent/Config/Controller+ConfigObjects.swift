import Foundation
import PodNet

/// What the API does the same way for ConfigMaps and Secrets: default, validate (on create and
/// on update), and keep them in the controller's index.
protocol ConfigObject: StoredObject, SendableMetatype {
    func applyingDefaults(namespace: String) -> Self
    /// The API server's field errors; `old` is the stored object an update replaces.
    func validationErrors(replacing old: Self?) -> [FieldError]
    var reference: ConfigReference.Kind { get }
    static func stored(in controller: isolated Controller) -> [String: Self]
    static func store(_ object: Self?, key: String, in controller: isolated Controller)
}

extension ConfigMap: ConfigObject {
    func validationErrors(replacing old: ConfigMap?) -> [FieldError] {
        old.map { ConfigValidation.validateUpdate(self, old: $0) } ?? ConfigValidation.validate(self)
    }
    var reference: ConfigReference.Kind { .configMap }
    static func stored(in controller: isolated Controller) -> [String: ConfigMap] { controller.configMaps }
    static func store(_ object: ConfigMap?, key: String, in controller: isolated Controller) { controller.configMaps[key] = object }
}

extension Secret: ConfigObject {
    func validationErrors(replacing old: Secret?) -> [FieldError] {
        old.map { ConfigValidation.validateUpdate(self, old: $0) } ?? ConfigValidation.validate(self)
    }
    var reference: ConfigReference.Kind { .secret }
    static func stored(in controller: isolated Controller) -> [String: Secret] { controller.secrets }
    static func store(_ object: Secret?, key: String, in controller: isolated Controller) {
        controller.secrets[key] = object
        // Nothing the agent logs repeats a secret's value (see `SensitiveValues`).
        for value in (object?.data ?? [:]).values {
            if let text = String(validating: value, as: UTF8.self) { SensitiveValues.shared.add(text) }
        }
    }
}

/// ConfigMaps and Secrets: stored and served like services, and every change handed to the
/// pods that read them — their volumes rewritten, pods waiting for them started.
extension Controller {
    func loadConfigObjects() throws {
        for map in try loadStored(ConfigMap.self) { ConfigMap.store(map, key: objectKey(map), in: self) }
        for secret in try loadStored(Secret.self) { Secret.store(secret, key: objectKey(secret), in: self) }
    }

    func configObject<T: ConfigObject>(_ type: T.Type, _ namespace: String, _ name: String) throws -> T {
        guard let object = T.stored(in: self)["\(namespace)/\(name)"] else { throw APIStatus.notFound(resource: T.resource, name: name) }
        return object
    }

    /// The ConfigMaps and Secrets a pod in `namespace` may read.
    func configObjects(namespace: String) -> ConfigObjects {
        let namespace = namespace.isEmpty ? "default" : namespace
        var objects = ConfigObjects()
        for map in configMaps.values where map.metadata.namespace == namespace { objects.configMaps[map.metadata.name] = map }
        for secret in secrets.values where secret.metadata.namespace == namespace { objects.secrets[secret.metadata.name] = secret }
        return objects
    }

    /// Creates one: decoded strictly, defaulted (`stringData` merged) and validated as the API
    /// server does; a dry run answers it as it would be stored and changes nothing.
    func createConfigObject<T: ConfigObject>(_ type: T.Type, namespace: String, body: Data, dryRun: Bool) throws -> Data {
        try requireReady()
        var object = try Controller.decodeObject(body, as: T.self)
        if object.metadata.namespace.isEmpty { object.metadata.namespace = namespace }
        guard object.metadata.namespace == namespace else {
            throw APIStatus.badRequest("the namespace of the provided object does not match the namespace sent on the request")
        }
        object = object.applyingDefaults(namespace: namespace)
        let errors = object.validationErrors(replacing: nil)
        guard errors.isEmpty else { throw InvalidObjectError(kind: T.kind, name: object.metadata.name, errors: errors).status }
        try requireNamespace(namespace, resource: T.resource, name: object.metadata.name)
        guard T.stored(in: self)[objectKey(object)] == nil else { throw APIStatus.alreadyExists(resource: T.resource, name: object.metadata.name) }
        let stamped = Controller.stamped(object)
        if dryRun { return Data(stamped.json.jsonText(indent: 0).utf8) }
        object = try persist(stamped, .added)
        T.store(object, key: objectKey(object), in: self)
        configObjectChanged(ConfigReference(object.reference, object.metadata.name), namespace: namespace)
        return Data(object.json.jsonText(indent: 0).utf8)
    }

    /// Replaces one; an immutable one keeps its data, a Secret its type.
    func replaceConfigObject<T: ConfigObject>(_ type: T.Type, namespace: String, name: String, body: Data, dryRun: Bool) throws -> Data {
        try requireReady()
        let old = try configObject(T.self, namespace, name)
        var new = try Controller.decodeObject(body, as: T.self)
        if new.metadata.namespace.isEmpty { new.metadata.namespace = namespace }
        guard new.metadata.name == name, new.metadata.namespace == namespace else {
            throw APIStatus.badRequest("the name of the object (\(new.metadata.name)) does not match the name on the URL (\(name))")
        }
        if !new.metadata.resourceVersion.isEmpty, new.metadata.resourceVersion != old.metadata.resourceVersion {
            throw APIStatus.conflict(resource: T.resource, name: name)
        }
        new.metadata.uid = old.metadata.uid
        new.metadata.creationTimestamp = old.metadata.creationTimestamp
        new = new.applyingDefaults(namespace: namespace)
        let errors = new.validationErrors(replacing: old)
        guard errors.isEmpty else { throw InvalidObjectError(kind: T.kind, name: name, errors: errors).status }
        if dryRun {
            new.metadata.resourceVersion = old.metadata.resourceVersion
            return Data(new.json.jsonText(indent: 0).utf8)
        }
        new = try persist(new, .modified)
        T.store(new, key: objectKey(new), in: self)
        configObjectChanged(ConfigReference(new.reference, name), namespace: namespace)
        return Data(new.json.jsonText(indent: 0).utf8)
    }

    /// Deletes one. Pods that read it keep the files they have, as with the kubelet.
    func deleteConfigObject<T: ConfigObject>(_ type: T.Type, namespace: String, name: String, dryRun: Bool) throws -> Data {
        let object = try configObject(T.self, namespace, name)
        if !dryRun {
            try removeStored(object)
            T.store(nil, key: objectKey(object), in: self)
        }
        return Data(object.json.jsonText(indent: 0).utf8)
    }

    /// The ConfigMaps and Secrets of a namespace being deleted go with it.
    func removeConfigObjects(in namespace: String) throws {
        for map in configMaps.values where map.metadata.namespace == namespace { _ = try deleteConfigObject(ConfigMap.self, namespace: namespace, name: map.metadata.name, dryRun: false) }
        for secret in secrets.values where secret.metadata.namespace == namespace {
            _ = try deleteConfigObject(Secret.self, namespace: namespace, name: secret.metadata.name, dryRun: false)
        }
    }

    /// A ConfigMap or Secret was created or changed: the pods of its namespace that read it
    /// follow — a pod whose volume waited for it (`FailedMount`) builds its sandbox now, a
    /// container that waited for it (`CreateContainerConfigError`) starts, and the volumes of
    /// running pods get the new files (atomically, see `AtomicVolumeWriter`).
    func configObjectChanged(_ reference: ConfigReference, namespace: String) {
        for (podKey, pod) in pods where pod.metadata.namespace == namespace && pod.configReferences.contains(reference) {
            guard pod.metadata.deletionTimestamp == nil, pod.status.phase?.isTerminal != true else { continue }
            guard runtimes[pod.metadata.uid] != nil else {
                if pod.status.reason == "FailedMount" {
                    sandboxRetries.removeValue(forKey: pod.metadata.uid)?.cancel()
                    Task { await self.realize(podKey) }
                }
                continue
            }
            refreshVolumes(of: pod) { VolumeFiles.references(of: $0).contains(reference) }
            for status in pod.status.initContainerStatuses + pod.status.containerStatuses
            where status.state.waiting?.reason == "CreateContainerConfigError" {
                startContainer(podKey, status.name)
            }
        }
    }

    /// Rewrites the volumes of a running pod that `selected` picks; a failure is the kubelet's
    /// `FailedMount` event, and the files stay as they were.
    func refreshVolumes(of pod: Pod, selected: (Volume) -> Bool) {
        // A pod on its way out (or the lab's) keeps what it has: its directory and mounts go.
        guard let runtime = runtimes[pod.metadata.uid], !runtime.deleting else { return }
        do {
            try PodVolumes.writeProjected(pod, directory: runtime.sandbox.directory, objects: configObjects(namespace: pod.metadata.namespace),
                                          tokens: serviceAccounts.issue,
                                          selected: selected)
        } catch {
            recordEvent(pod, type: .warning, reason: EventReason.failedMount, message: "\(error)", source: "kubelet")
        }
    }

    /// The kubelet's periodic sync of the volumes it writes: every `volumeSyncSeconds` (60 s, as
    /// its `syncFrequency`) plus up to half as much again (its workers' jitter), each running pod's
    /// configMap, secret, downwardAPI and projected volumes are written again. A file changed or
    /// removed by hand is put back, and a service account token past 80 % of its lifetime is
    /// replaced by a new one (`ServiceAccountIssuer`).
    func syncVolumesPeriodically() async {
        let period = max(options.volumeSyncSeconds, 0.01)
        while !Task.isCancelled {
            let delay = period * (1 + Double.random(in: 0..<0.5))
            try? await Task.sleep(for: .milliseconds(Int64(delay * 1000)))
            if Task.isCancelled { return }
            syncVolumes()
        }
    }

    /// One round of the periodic sync.
    func syncVolumes() {
        for pod in pods.values where pod.metadata.deletionTimestamp == nil && pod.status.phase?.isTerminal != true
            && pod.spec.volumes.contains(where: \.isProjected) {
            refreshVolumes(of: pod) { $0.isProjected }
        }
    }

    /// The routes of `/api/v1/.../configmaps` and `/api/v1/.../secrets`.
    nonisolated func configResources() -> [(prefix: String, resource: String, namespaced: Bool, handlers: ResourceHandlers)] {
        func handlers<T: ConfigObject>(_ type: T.Type) -> ResourceHandlers {
            ResourceHandlers(
                list: { namespace, options in
                    try await self.listConfigObjects(T.self, namespace: namespace, options: options)
                },
                watch: { namespace, options in try await self.watchConfigObjects(T.self, namespace: namespace, options: options) },
                get: { namespace, name in Data(try await self.configObject(T.self, namespace ?? "default", name).json.jsonText(indent: 0).utf8) },
                create: { namespace, body, dryRun in try await self.createConfigObject(T.self, namespace: namespace ?? "default", body: body, dryRun: dryRun) },
                replace: { namespace, name, body, dryRun in
                    try await self.replaceConfigObject(T.self, namespace: namespace ?? "default", name: name, body: body, dryRun: dryRun)
                },
                delete: { namespace, name, dryRun in try await self.deleteConfigObject(T.self, namespace: namespace ?? "default", name: name, dryRun: dryRun) })
        }
        return [(ConfigMap.apiPrefix, ConfigMap.resource, true, handlers(ConfigMap.self)),
                (Secret.apiPrefix, Secret.resource, true, handlers(Secret.self))]
    }

    func listConfigObjects<T: ConfigObject>(_ type: T.Type, namespace: String?, options: ListOptions) throws -> Data {
        try listData(try filtered(T.stored(in: self).values, namespace: namespace, selector: options.labelSelector))
    }

    func watchConfigObjects<T: ConfigObject>(_ type: T.Type, namespace: String?, options: ListOptions) throws -> WatchLines {
        try watchStream(T.self, namespace: namespace, options: options,
                        current: filtered(T.stored(in: self).values, namespace: namespace, selector: options.labelSelector))
    }
}
