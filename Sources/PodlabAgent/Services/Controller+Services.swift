import Foundation
import PodNet

/// Kinds the agent stores besides pods and serves through `ObjectRoutes`.
typealias StoredObject = KubernetesResource

extension Controller {
    // MARK: Loading

    /// Reads the stored namespaces, services and endpoint slices, and makes sure the built-in
    /// namespaces (and the namespace of every stored pod) exist.
    func loadServiceObjects(_ plan: LabPlan) throws {
        namespaces = Dictionary(uniqueKeysWithValues: try loadStored(Namespace.self).map { ($0.metadata.name, $0) })
        let needed = Set(Namespace.builtIn + pods.values.map(\.metadata.namespace))
        for name in needed.sorted() where namespaces[name] == nil {
            try storeNewNamespace(Namespace(metadata: ObjectMeta(name: name)), manager: FieldManagerName.apiServer)
        }
        services = Dictionary(uniqueKeysWithValues: try loadStored(Service.self).map { (objectKey($0), $0) })
        serviceAllocation = ServiceAllocation(serviceCIDR: plan.serviceCIDR, services: services.values)
        servicesBySelectorLabel = [:]
        allServicesChanged = true
        for service in services.values { indexSelector(of: service) }
        endpointSlices = [:]
        endpointSliceKeysOfService = [:]
        endpointServicesOfPod = [:]
        for slice in try loadStored(EndpointSlice.self) {
            keepSlice(slice)
            for pod in Controller.podKeys(in: [slice]) { endpointServicesOfPod[pod, default: []].insert(serviceKey(of: slice)) }
        }
        deployments = Dictionary(uniqueKeysWithValues: try loadStored(Deployment.self).map { (objectKey($0), $0) })
        replicaSets = Dictionary(uniqueKeysWithValues: try loadStored(ReplicaSet.self).map { (objectKey($0), $0) })
    }

    func loadStored<T: StoredObject>(_ type: T.Type) throws -> [T] {
        try store.read { try $0.objects(kind: T.kind) }.compactMap { object in
            do { return try T(json: JSONReader.value(from: String(decoding: object.json, as: UTF8.self))) } catch {
                logger.error("stored \(T.kind) \(object.namespace)/\(object.name) cannot be read, left out: \(error)")
                return nil
            }
        }
    }

    func objectKey<T: StoredObject>(_ object: T) -> String { "\(object.metadata.namespace)/\(object.metadata.name)" }

    // MARK: Storing

    /// Stores an object with the next resourceVersion and tells watchers.
    @discardableResult
    func persist<T: StoredObject>(_ object: T, _ event: WatchEvent.Kind) throws -> T {
        let stored = try store.write { tx in
            var object = object
            object.metadata.resourceVersion = String(try tx.nextResourceVersion())
            try tx.put(Store.Object(kind: T.kind, namespace: object.metadata.namespace, name: object.metadata.name, uid: object.metadata.uid,
                                    resourceVersion: Int64(object.metadata.resourceVersion) ?? 0, json: Data(encodedObjects.encoded(object).text)))
            return object
        }
        publishObject(event, stored)
        return stored
    }

    /// Removes a stored object and tells watchers.
    /// The DELETED event carries the version the deletion took (as kube-apiserver's does), so a
    /// client that listed before it and watches from the list's version receives it.
    func removeStored<T: StoredObject>(_ object: T) throws {
        var object = object
        object.metadata.resourceVersion = String(try store.write { tx in
            try tx.delete(kind: T.kind, namespace: object.metadata.namespace, name: object.metadata.name)
            return try tx.nextResourceVersion()
        })
        publishObject(.deleted, object)
    }

    func publishObject<T: StoredObject>(_ type: WatchEvent.Kind, _ object: T) {
        let text = encodedObjects.eventText(object, deleted: type == .deleted)
        hub.publish(WatchEvent(type: type, objectKind: T.kind, namespace: object.metadata.namespace,
                               resourceVersion: Int64(object.metadata.resourceVersion) ?? 0, object: Data(text)))
    }

    /// A new object's bookkeeping, as the API server sets it on create.
    static func stamped<T: StoredObject>(_ object: T) -> T {
        var object = object
        object.metadata.uid = UUID().uuidString.lowercased()
        object.metadata.creationTimestamp = .now()
        object.metadata.resourceVersion = ""
        return object
    }

    // MARK: Reading

    /// The list of `items` as `ObjectList` writes it, from their kept encodings; the request's
    /// `ListCapture` (when `ListPresentation` pages or prints it) gets the encoded list too.
    func listData<T: StoredObject>(_ items: [T]) throws -> Data {
        let version = try store.read { try $0.currentResourceVersion() }
        let list = EncodedList(T.self, items: items.map { encodedObjects.encoded($0) }, resourceVersion: String(version))
        ListCapture.current?.record(list)
        return list.jsonData()
    }

    func filtered<T: StoredObject>(_ values: some Collection<T>, namespace: String?, selector: String?) throws -> [T] {
        let matcher = try selector.map(Controller.selector)
        return values.filter { object in
            (namespace == nil || object.metadata.namespace == namespace) && (matcher?.matches(object.metadata.labels) ?? true)
        }.sorted { ($0.metadata.namespace, $0.metadata.name) < ($1.metadata.namespace, $1.metadata.name) }
    }

    /// A watch of one kind: the current objects first (as ADDED, unless a resourceVersion was
    /// given), then every change, filtered by the label selector; bookmarks where allowed. A
    /// resourceVersion whose later changes are no longer known gets the API server's 410 as
    /// the watch's one ERROR event.
    func watchStream<T: StoredObject>(_ type: T.Type, namespace: String?, options: ListOptions, current: [T]) throws -> WatchLines {
        let matcher = try options.labelSelector.map(Controller.selector)
        let start = try WatchStart(resourceVersion: options.resourceVersion, sendInitialEvents: options.sendInitialEvents,
                                   resourceVersionMatch: options.resourceVersionMatch, allowWatchBookmarks: options.allowWatchBookmarks)
        let since: Int64?, initial: [T]
        if case let .after(version) = start { (since, initial) = (version, []) } else { (since, initial) = (nil, current) }
        var initialLines = initial.map { Controller.watchLine("ADDED", written: encodedObjects.encoded($0).text) }
        if start == .currentObjectsThenBookmark {
            let version = try store.read { try $0.currentResourceVersion() }
            initialLines.append(Controller.watchLine("BOOKMARK", Controller.bookmark(T.self, version: version,
                                                                                     annotations: [WatchStart.initialEventsEndAnnotation: "true"])))
        }
        let request = WatchRequest(
            kind: T.kind, namespace: namespace,
            labels: matcher.map { matcher in { @Sendable labels in matcher.matches(labels) } },
            bookmark: options.allowWatchBookmarks ? { @Sendable version in Controller.watchLine("BOOKMARK", Controller.bookmark(T.self, version: version)) } : nil)
        let lines: WatchLines
        do {
            lines = try hub.subscribe(request, since: since, initial: initialLines)
        } catch let expired as WatchExpired {
            return WatchLines(lines: [Controller.watchLine("ERROR", APIStatus.expired(expired.message).json)])
        }
        // `timeoutSeconds`: the watch ends then, as the API server ends it.
        guard let seconds = options.timeoutSeconds else { return lines }
        return lines.ending(after: .seconds(seconds))
    }

    /// A bookmark's object: the watched kind with only a resourceVersion (and annotations).
    static func bookmark<T: StoredObject>(_ type: T.Type, version: Int64, annotations: [String: String] = [:]) -> JSONValue {
        var metadata: [String: JSONValue] = ["resourceVersion": .string(String(version))]
        if !annotations.isEmpty { metadata["annotations"] = .object(annotations.mapValues { .string($0) }) }
        return .object(["kind": .string(T.kind), "apiVersion": .string(T.apiVersion), "metadata": .object(metadata)])
    }

    static func decodeObject<T: StoredObject>(_ body: Data, as type: T.Type) throws -> T {
        let value: JSONValue
        do { value = try JSONReader.value(from: String(decoding: body, as: UTF8.self)) } catch {
            throw APIStatus.badRequest("the body of the request was in an unknown format: \(error)")
        }
        do { return try T(json: value) } catch { throw APIStatus.badRequest("\(error)") }
    }

    // MARK: Namespaces

    /// Objects may be created only in a namespace that exists and is not being deleted, with
    /// the API server's answers.
    func requireNamespace(_ namespace: String, resource: String, name: String) throws {
        guard let found = namespaces[namespace] else { throw APIStatus.notFound(resource: "namespaces", name: namespace) }
        if found.status.phase == NamespaceStatus.terminating {
            throw APIStatus(message: "\(resource) \"\(name)\" is forbidden: unable to create new content in namespace \(namespace) because it is being terminated",
                            reason: "Forbidden", code: 403)
        }
    }

    /// Stores a new namespace; `manager` names who made it when the agent makes it itself.
    @discardableResult
    func storeNewNamespace(_ namespace: Namespace, manager: String? = nil) throws -> Namespace {
        var namespace = Controller.stamped(namespace.applyingDefaults())
        if let manager { namespace = namespace.recordingWrite(by: manager, over: nil, time: .now()) }
        let stored = try persist(namespace, .added)
        namespaces[stored.metadata.name] = stored
        namespaceChangedForPolicies(stored.metadata.name)
        return stored
    }

    public func createNamespace(body: Data, dryRun: Bool) async throws -> Data {
        try requireReady()
        let namespace = try Controller.decodeObject(body, as: Namespace.self).applyingDefaults()
        do { try namespace.validated() } catch { throw error.status }
        guard namespaces[namespace.metadata.name] == nil else { throw APIStatus.alreadyExists(resource: "namespaces", name: namespace.metadata.name) }
        if dryRun { return Data(namespace.json.jsonText(indent: 0).utf8) }
        return Data(try storeNewNamespace(namespace).json.jsonText(indent: 0).utf8)
    }

    func namespace(_ name: String) throws -> Namespace {
        guard let namespace = namespaces[name] else { throw APIStatus.notFound(resource: "namespaces", name: name) }
        return namespace
    }

    /// Deletes a namespace and everything in it: it turns `Terminating` (no new objects),
    /// its pods are deleted gracefully and its services at once, and it goes when its last
    /// pod has. `default` and `kube-system` cannot be deleted.
    public func deleteNamespace(name: String, dryRun: Bool) async throws -> Data {
        var namespace = try namespace(name)
        if Namespace.builtIn.contains(name) {
            throw APIStatus(message: "namespaces \"\(name)\" is forbidden: this namespace may not be deleted", reason: "Forbidden", code: 403)
        }
        guard namespace.status.phase != NamespaceStatus.terminating else { return Data(namespace.json.jsonText(indent: 0).utf8) }
        namespace.status.phase = NamespaceStatus.terminating
        namespace.metadata.deletionTimestamp = .now()
        if dryRun { return Data(namespace.json.jsonText(indent: 0).utf8) }
        namespace = try persist(namespace, .modified)
        namespaces[name] = namespace
        for service in services.values where service.metadata.namespace == name {
            try removeService(service)
        }
        try removeNetworkPolicies(in: name)
        try removeMeshPolicies(in: name)
        try removeMeshRoutes(in: name)
        try removeConfigObjects(in: name)
        // Before the pods: a ReplicaSet left behind would make them again.
        try removeWorkloads(in: name)
        for pod in pods.values where pod.metadata.namespace == name {
            _ = try await deletePod(namespace: name, name: pod.metadata.name, gracePeriodSeconds: nil)
        }
        Task { await self.finishNamespaceDeletion(name) }
        return Data(namespace.json.jsonText(indent: 0).utf8)
    }

    func finishNamespaceDeletion(_ name: String) async {
        while pods.values.contains(where: { $0.metadata.namespace == name }) {
            try? await Task.sleep(for: .milliseconds(100))
        }
        guard let namespace = namespaces[name], namespace.status.phase == NamespaceStatus.terminating else { return }
        do {
            try removeStored(namespace)
            namespaces.removeValue(forKey: name)
            namespaceChangedForPolicies(name)
            logger.info("namespace \(name) deleted")
        } catch {
            logger.error("namespace \(name): deletion failed: \(error)")
        }
    }

    // MARK: Services

    func service(_ namespace: String, _ name: String) throws -> Service {
        guard let service = services["\(namespace)/\(name)"] else { throw APIStatus.notFound(resource: "services", name: name) }
        return service
    }

    /// Creates a service: validated, defaulted, given its virtual address and node ports, stored;
    /// its endpoint slices follow. A dry run answers it as it would be stored (with the address
    /// it would get) and changes nothing.
    public func createService(namespace: String, body: Data, dryRun: Bool) async throws -> Data {
        try requireReady()
        var service = try Controller.decodeObject(body, as: Service.self)
        if service.metadata.namespace.isEmpty { service.metadata.namespace = namespace }
        guard service.metadata.namespace == namespace else {
            throw APIStatus.badRequest("the namespace of the provided object does not match the namespace sent on the request")
        }
        service = service.applyingDefaults()
        do { try service.validated() } catch { throw error.status }
        try requireNamespace(namespace, resource: "services", name: service.metadata.name)
        guard services[objectKey(service)] == nil else { throw APIStatus.alreadyExists(resource: "services", name: service.metadata.name) }
        var random = SystemRandomNumberGenerator()
        try serviceAllocation.allocate(&service, using: &random)
        if dryRun { return Data(service.json.jsonText(indent: 0).utf8) }
        service = try persist(Controller.stamped(service), .added)
        serviceAllocation.replace(nil, with: service)
        services[objectKey(service)] = service
        indexSelector(of: service)
        markEndpointsStale([objectKey(service)])
        servicesChanged([objectKey(service)])
        return Data(service.json.jsonText(indent: 0).utf8)
    }

    /// Replaces a service's spec and labels; its address may not change, its node ports are
    /// kept unless given anew.
    public func replaceService(namespace: String, name: String, body: Data, dryRun: Bool) async throws -> Data {
        try requireReady()
        let old = try service(namespace, name)
        var new = try Controller.decodeObject(body, as: Service.self)
        if new.metadata.namespace.isEmpty { new.metadata.namespace = namespace }
        guard new.metadata.name == name, new.metadata.namespace == namespace else {
            throw APIStatus.badRequest("the name of the object (\(new.metadata.name)) does not match the name on the URL (\(name))")
        }
        if !new.metadata.resourceVersion.isEmpty, new.metadata.resourceVersion != old.metadata.resourceVersion {
            throw APIStatus.conflict(resource: "services", name: name)
        }
        new.metadata.uid = old.metadata.uid
        new.metadata.creationTimestamp = old.metadata.creationTimestamp
        if new.spec.clusterIP.isEmpty && new.spec.clusterIPs.isEmpty && !old.isHeadless {
            new.spec.clusterIP = old.spec.clusterIP
        }
        new = new.applyingDefaults()
        do { try new.validatedUpdate(from: old) } catch { throw error.status }
        var random = SystemRandomNumberGenerator()
        try serviceAllocation.allocate(&new, old: old, using: &random)
        // An update that changes nothing after defaulting is not stored: no new resourceVersion, no event.
        if UnchangedWrite.isUnchanged(stored: old.json, written: new.json) { return Data(old.json.jsonText(indent: 0).utf8) }
        if dryRun {
            new.metadata.resourceVersion = old.metadata.resourceVersion
            return Data(new.json.jsonText(indent: 0).utf8)
        }
        new = try persist(new, .modified)
        serviceAllocation.replace(old, with: new)
        unindexSelector(of: old)
        services[objectKey(new)] = new
        indexSelector(of: new)
        markEndpointsStale([objectKey(new)])
        servicesChanged([objectKey(new)])
        return Data(new.json.jsonText(indent: 0).utf8)
    }

    public func deleteService(namespace: String, name: String, dryRun: Bool) async throws -> Data {
        let service = try service(namespace, name)
        if !dryRun {
            try removeService(service)
            // As kube-apiserver's reconciler does (there within 10 s): a new object, a new uid.
            if APIServerService.isAPIServerService(service) { await ensureAPIServerService() }
        }
        return Data(service.json.jsonText(indent: 0).utf8)
    }

    /// Makes `default/kubernetes` (`APIServerService`) unless it exists: at every start, and
    /// after it was deleted. Its address is reserved, so only a Service stored before the
    /// reservation could hold it: then it is not made, and the log says which.
    func ensureAPIServerService() async {
        guard let plan, services[APIServerService.qualifiedName] == nil,
              let service = APIServerService.service(serviceCIDR: plan.serviceCIDR) else { return }
        do {
            let made = service.recordingWrite(by: FieldManagerName.apiServer, over: nil, time: .now())
            _ = try await createService(namespace: APIServerService.namespace, body: Data(made.json.jsonText(indent: 0).utf8), dryRun: false)
        } catch {
            logger.error("service \(APIServerService.qualifiedName): \(error)")
        }
    }

    /// Removes a service, its endpoint slices and its address and ports.
    func removeService(_ service: Service) throws {
        let key = objectKey(service)
        let slices = slices(ofService: key)
        for slice in slices {
            try removeStored(slice)
            dropSlice(slice)
        }
        for pod in Controller.podKeys(in: slices) { forgetEndpointService(key, ofPod: pod) }
        try removeStored(service)
        services.removeValue(forKey: key)
        unindexSelector(of: service)
        serviceAllocation.release(service)
        servicesChanged([key])
    }

    // MARK: Indexes

    /// `namespace/service` of a slice's service.
    func serviceKey(of slice: EndpointSlice) -> String { "\(slice.metadata.namespace)/\(slice.serviceName)" }

    func slices(ofService key: String) -> [EndpointSlice] {
        (endpointSliceKeysOfService[key] ?? []).compactMap { endpointSlices[$0] }.sorted { $0.metadata.name < $1.metadata.name }
    }

    func keepSlice(_ slice: EndpointSlice) {
        endpointSlices[objectKey(slice)] = slice
        endpointSliceKeysOfService[serviceKey(of: slice), default: []].insert(objectKey(slice))
    }

    func dropSlice(_ slice: EndpointSlice) {
        endpointSlices.removeValue(forKey: objectKey(slice))
        let service = serviceKey(of: slice)
        endpointSliceKeysOfService.remove(objectKey(slice), fromSetAt: service)
    }

    func forgetEndpointService(_ service: String, ofPod pod: String) {
        endpointServicesOfPod.remove(service, fromSetAt: pod)
    }

    /// The pods (`namespace/name`) the slices list.
    static func podKeys(in slices: [EndpointSlice]) -> Set<String> {
        var keys = Set<String>()
        for slice in slices {
            for endpoint in slice.endpoints {
                if let ref = endpoint.targetRef, ref.kind == Pod.kind { keys.insert("\(ref.namespace.isEmpty ? slice.metadata.namespace : ref.namespace)/\(ref.name)") }
            }
        }
        return keys
    }

    /// A service is found by one pair of its selector (the first key): a pod selected by it has that label.
    static func selectorIndexKey(namespace: String, key: String, value: String) -> String { "\(namespace)\u{0}\(key)=\(value)" }

    func indexSelector(of service: Service) {
        guard let pair = service.spec.selector.min(by: { $0.key < $1.key }) else { return }
        servicesBySelectorLabel[Controller.selectorIndexKey(namespace: service.metadata.namespace, key: pair.key, value: pair.value), default: []]
            .insert(objectKey(service))
    }

    func unindexSelector(of service: Service) {
        guard let pair = service.spec.selector.min(by: { $0.key < $1.key }) else { return }
        let key = Controller.selectorIndexKey(namespace: service.metadata.namespace, key: pair.key, value: pair.value)
        servicesBySelectorLabel.remove(objectKey(service), fromSetAt: key)
    }

    /// The services whose endpoints a change of `pod` may change: those whose selector takes it
    /// now, and those whose slices list it (it left them, or its address or readiness changed).
    func endpointServices(of pod: Pod) -> Set<String> {
        var keys = endpointServicesOfPod[key(pod)] ?? []
        let labels = pod.metadata.labels
        for (label, value) in labels {
            for service in servicesBySelectorLabel[Controller.selectorIndexKey(namespace: pod.metadata.namespace, key: label, value: value)] ?? []
            where services[service]?.spec.selector.allSatisfy({ labels[$0.key] == $0.value }) == true {
                keys.insert(service)
            }
        }
        return keys
    }

    // MARK: Endpoints

    /// Pods or services changed: the endpoint slices of these services are computed again soon,
    /// once for a burst of changes.
    func markEndpointsStale(_ keys: some Sequence<String>) {
        staleEndpointServices.formUnion(keys)
        guard !endpointSyncScheduled, !staleEndpointServices.isEmpty else { return }
        endpointSyncScheduled = true
        Task { self.syncStaleEndpoints() }
    }

    func syncStaleEndpoints() {
        endpointSyncScheduled = false
        let stale = staleEndpointServices
        staleEndpointServices.removeAll()
        var podsByNamespace: [String: [Pod]] = [:]
        var changed: [String] = []
        for key in stale.sorted() {
            guard let service = services[key] else { continue }
            let namespace = service.metadata.namespace
            if podsByNamespace[namespace] == nil { podsByNamespace[namespace] = pods.values.filter { $0.metadata.namespace == namespace } }
            if syncEndpoints(of: service, pods: podsByNamespace[namespace] ?? []) { changed.append(key) }
        }
        if !changed.isEmpty { servicesChanged(changed) }
    }

    func syncAllEndpoints() {
        markEndpointsStale(services.keys)
        allServicesChanged = true
        servicesChanged()
    }

    /// Brings the endpoint slices of `service` in line with `pods` (those of its namespace).
    /// Returns whether any slice changed.
    func syncEndpoints(of service: Service, pods: [Pod]) -> Bool {
        let key = objectKey(service)
        let existing = slices(ofService: key)
        let (writes, deletes) = EndpointSlices.reconcile(
            service: service, desired: EndpointSlices.desired(for: service, pods: pods), existing: existing,
            // kube-apiserver names the API's slice after the Service.
            newName: { APIServerService.isAPIServerService(service) ? service.metadata.name : "\(service.metadata.name)-\(SafeAlphabet.random())" })
        guard !writes.isEmpty || !deletes.isEmpty else { return false }
        do {
            for slice in writes {
                let isNew = slice.metadata.uid.isEmpty
                var slice = isNew ? Controller.stamped(slice) : slice
                slice.metadata.generation = (slice.metadata.generation ?? 0) + 1
                slice = slice.recordingWrite(by: FieldManagerName.controllerManager, over: isNew ? nil : endpointSlices[objectKey(slice)], time: .now())
                slice = try persist(slice, isNew ? .added : .modified)
                keepSlice(slice)
            }
            for slice in deletes {
                try removeStored(slice)
                dropSlice(slice)
            }
        } catch {
            logger.error("service \(service.qualifiedName): storing its endpoint slices failed: \(error)")
        }
        let before = Controller.podKeys(in: existing), after = Controller.podKeys(in: slices(ofService: key))
        for pod in before.subtracting(after) { forgetEndpointService(key, ofPod: pod) }
        for pod in after.subtracting(before) { endpointServicesOfPod[pod, default: []].insert(key) }
        return true
    }

    /// These services or their endpoints changed: every node's Service rules follow.
    func servicesChanged(_ keys: some Sequence<String>) {
        changedServiceKeys.formUnion(keys)
        servicesChanged()
    }

    /// Services, their endpoints or the pods' hostPorts changed, or a node came: every node's
    /// Service rules follow, in one sync per node of the services changed since the last one
    /// (a node whose rules the dataplane does not know yet gets a full sync). Changes that
    /// arrive during a sync are taken by one more sync after it.
    func servicesChanged() {
        guard phase == .ready || phase == .creating else { return }
        _ = serviceRulesProgress.request()
        dataplaneSyncPending = true
        if dataplaneChangedSince == nil { dataplaneChangedSince = .now }
        guard !dataplaneSyncRunning else { return }
        dataplaneSyncRunning = true
        Task { await self.runDataplaneSyncs() }
    }

    /// The dataplane's view of the service `key` (nil: gone, or headless).
    func serviceEntry(_ key: String) -> ServiceEntry? {
        guard let service = services[key] else { return nil }
        return ServiceTable(services: [service], slices: slices(ofService: key)).services.first
    }

    func runDataplaneSyncs() async {
        defer {
            dataplaneSyncRunning = false
            // No sync runs any more (all done, or the lab goes down): nobody is left waiting.
            for waiter in serviceRulesProgress.releaseAll() { waiter.resume() }
        }
        while dataplaneSyncPending, phase == .ready || phase == .creating, let plan {
            dataplaneSyncPending = false
            let generation = serviceRulesProgress.requested
            // Timed from the change, not from the sync: a change that waited for the sync before
            // it counts its wait.
            let started = dataplaneChangedSince ?? .now
            dataplaneChangedSince = nil
            var changed = changedServiceKeys
            changedServiceKeys.removeAll()
            if allServicesChanged {
                allServicesChanged = false
                changed.formUnion(serviceEntries.keys)
                changed.formUnion(services.keys)
            }
            for key in changed { serviceEntries[key] = serviceEntry(key) }
            let entries = serviceEntries
            let hostPorts = ServiceTable.hostPorts(of: pods.values)
            var failed = false
            for node in plan.nodes {
                guard nodes[node.name] != nil else { continue }
                do {
                    guard let report = try await sandboxRuntime.syncServices(node: ServiceNode(node, in: plan), services: entries,
                                                                             hostPorts: hostPorts, changed: changed) else { continue }
                    if !report.diff.isEmpty { logger.debug("\(report)") }
                    if let failure = report.conntrackFailure { logger.error("node \(node.name): \(failure)") }
                } catch {
                    failed = true
                    logger.error("node \(node.name): programming the Service rules failed: \(error)")
                }
            }
            if failed {
                // The rules in force are the previous ones; try again a little later (the
                // dataplane reads what the node holds and syncs it whole).
                try? await Task.sleep(for: .seconds(1))
                dataplaneSyncPending = true
                if dataplaneChangedSince == nil { dataplaneChangedSince = started }
            } else {
                dataplaneSyncMillis.append(Controller.millis(ContinuousClock.now - started))
                for waiter in serviceRulesProgress.completed(through: generation) { waiter.resume() }
            }
        }
    }

    // MARK: API

    public func listNamespaces(options: ListOptions) async throws -> Data {
        try listData(try filtered(namespaces.values, namespace: nil, selector: options.labelSelector))
    }

    public func listServices(namespace: String?, options: ListOptions) async throws -> Data {
        try listData(try filtered(services.values, namespace: namespace, selector: options.labelSelector))
    }

    public func listEndpointSlices(namespace: String?, options: ListOptions) async throws -> Data {
        try listData(try filtered(endpointSlices.values, namespace: namespace, selector: options.labelSelector))
    }

    func endpointsObjects(namespace: String?) -> [Endpoints] {
        services.values.filter { namespace == nil || $0.metadata.namespace == namespace }
            .sorted { ($0.metadata.namespace, $0.metadata.name) < ($1.metadata.namespace, $1.metadata.name) }
            .filter { !$0.spec.selector.isEmpty || APIServerService.isAPIServerService($0) }
            .map { service in
                EndpointSlices.endpoints(for: service, slices: slices(ofService: objectKey(service)))
            }
    }

    public func listEndpoints(namespace: String?, options: ListOptions) async throws -> Data {
        let matcher = try options.labelSelector.map(Controller.selector)
        let items = endpointsObjects(namespace: namespace).filter { matcher?.matches($0.metadata.labels) ?? true }
        let version = try store.read { try $0.currentResourceVersion() }
        return Data(EndpointsList(items: items, resourceVersion: String(version)).json.jsonText(indent: 0).utf8)
    }

    public func getEndpoints(namespace: String, name: String) async throws -> Data {
        guard let endpoints = endpointsObjects(namespace: namespace).first(where: { $0.metadata.name == name }) else {
            throw APIStatus.notFound(resource: "endpoints", name: name)
        }
        return Data(endpoints.json.jsonText(indent: 0).utf8)
    }

    /// The routes of namespaces, services, endpoints and endpoint slices.
    nonisolated func objectResources() -> [(prefix: String, resource: String, namespaced: Bool, handlers: ResourceHandlers)] {
        @Sendable func data<T: StoredObject>(_ object: T) -> Data { Data(object.json.jsonText(indent: 0).utf8) }
        let namespaceHandlers = ResourceHandlers(
            list: { _, options in try await self.listNamespaces(options: options) },
            watch: { _, options in try await self.watchNamespaces(options: options) },
            get: { _, name in data(try await self.namespace(name)) },
            create: { _, body, dryRun in try await self.createNamespace(body: body, dryRun: dryRun) },
            replace: { _, name, body, dryRun in try await self.replaceNamespace(name: name, body: body, dryRun: dryRun) },
            delete: { _, name, dryRun in try await self.deleteNamespace(name: name, dryRun: dryRun) })
        let serviceHandlers = ResourceHandlers(
            list: { namespace, options in try await self.listServices(namespace: namespace, options: options) },
            watch: { namespace, options in try await self.watchServices(namespace: namespace, options: options) },
            get: { namespace, name in data(try await self.service(namespace ?? "default", name)) },
            create: { namespace, body, dryRun in try await self.createService(namespace: namespace ?? "default", body: body, dryRun: dryRun) },
            replace: { namespace, name, body, dryRun in try await self.replaceService(namespace: namespace ?? "default", name: name, body: body, dryRun: dryRun) },
            delete: { namespace, name, dryRun in try await self.deleteService(namespace: namespace ?? "default", name: name, dryRun: dryRun) })
        let sliceHandlers = ResourceHandlers(
            list: { namespace, options in try await self.listEndpointSlices(namespace: namespace, options: options) },
            watch: { namespace, options in try await self.watchEndpointSlices(namespace: namespace, options: options) },
            get: { namespace, name in data(try await self.endpointSlice(namespace ?? "default", name)) },
            create: nil, replace: nil, delete: nil)
        let endpointsHandlers = ResourceHandlers(
            list: { namespace, options in try await self.listEndpoints(namespace: namespace, options: options) },
            watch: { _, _ in throw APIStatus(message: "watching endpoints is not supported; watch endpointslices", reason: "MethodNotAllowed", code: 405) },
            get: { namespace, name in try await self.getEndpoints(namespace: namespace ?? "default", name: name) },
            create: nil, replace: nil, delete: nil)
        return workloadResources() + policyResources() + meshPolicyResources() + meshRouteResources() + configResources() + [
            ("/api/v1", "namespaces", false, namespaceHandlers),
            ("/api/v1", "services", true, serviceHandlers),
            ("/api/v1", "endpoints", true, endpointsHandlers),
            ("/apis/discovery.k8s.io/v1", "endpointslices", true, sliceHandlers),
        ]
    }

    func watchNamespaces(options: ListOptions) throws -> WatchLines {
        try watchStream(Namespace.self, namespace: nil, options: options, current: filtered(namespaces.values, namespace: nil, selector: options.labelSelector))
    }

    func watchServices(namespace: String?, options: ListOptions) throws -> WatchLines {
        try watchStream(Service.self, namespace: namespace, options: options, current: filtered(services.values, namespace: namespace, selector: options.labelSelector))
    }

    func watchEndpointSlices(namespace: String?, options: ListOptions) throws -> WatchLines {
        try watchStream(EndpointSlice.self, namespace: namespace, options: options,
                        current: filtered(endpointSlices.values, namespace: namespace, selector: options.labelSelector))
    }

    func endpointSlice(_ namespace: String, _ name: String) throws -> EndpointSlice {
        guard let slice = endpointSlices["\(namespace)/\(name)"] else {
            throw APIStatus.notFound(resource: EndpointSlice.qualifiedResource, name: name)
        }
        return slice
    }
}

extension Dictionary {
    /// Removes `member` from the set at `key`, and the key with the set once it is empty (the
    /// indexes above keep no empty sets).
    mutating func remove<Member>(_ member: Member, fromSetAt key: Key) where Value == Set<Member> {
        self[key]?.remove(member)  // in place: no copy of a large set
        if self[key]?.isEmpty == true { self[key] = nil }
    }
}
