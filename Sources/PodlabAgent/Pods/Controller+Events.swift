import Foundation
import PodNet

/// An event's place in the store: its namespace and name.
struct EventName: Hashable {
    var namespace: String
    var name: String
}

extension Controller {
    /// How long after a change the `events` table is written: changes in between are one write.
    /// An agent killed meanwhile loses them (as Kubernetes, whose events are best-effort).
    static let eventWriteDelay = Duration.milliseconds(500)

    /// Records what the kubelet would report about a container of `pod`: a repeat of the same
    /// event (same container, type, reason and message) counts up the one event, as the
    /// kubelet's recorder aggregates them.
    func recordEvent(_ pod: Pod, container: String, type: EventType, reason: String, message: String) {
        let role = pod.spec.role(of: container)
        let fieldPath = role == .app ? "spec.containers{\(container)}" : "spec.initContainers{\(container)}"
        recordEvent(about: ObjectReference(kind: Pod.kind, namespace: pod.metadata.namespace, name: pod.metadata.name,
                                           uid: pod.metadata.uid, apiVersion: Pod.apiVersion, fieldPath: fieldPath),
                    type: type, reason: reason, message: message)
    }

    /// Records an event about a pod itself (not one of its containers): `Scheduled`.
    func recordEvent(_ pod: Pod, type: EventType, reason: String, message: String, source: String) {
        recordEvent(about: ObjectReference(kind: Pod.kind, namespace: pod.metadata.namespace, name: pod.metadata.name,
                                           uid: pod.metadata.uid, apiVersion: Pod.apiVersion),
                    type: type, reason: reason, message: message, source: source)
    }

    /// Records an event about any object of the lab (a Deployment scaling, a ReplicaSet making
    /// pods), from `source` (`deployment-controller`), aggregated as the recorders do.
    func recordEvent<T: KubernetesResource>(_ object: T, type: EventType, reason: String, message: String, source: String) {
        recordEvent(about: ObjectReference(kind: T.kind, namespace: object.metadata.namespace, name: object.metadata.name,
                                           uid: object.metadata.uid, apiVersion: T.apiVersion),
                    type: type, reason: reason, message: message, source: source)
    }

    func recordEvent(about object: ObjectReference, type: EventType, reason: String, message: String, source: String = "kubelet") {
        // Events are read by anyone who may list them (`describe`): known secrets never enter one.
        let message = SensitiveValues.shared.redact(message)
        let key = EventRetention.key(about: object, type: type, reason: reason, message: message)
        let now = Timestamp.now()
        defer { eventChanged(key) }
        if let old = events[key] {
            var event = old
            event.count += 1
            event.lastTimestamp = now
            event.metadata.resourceVersion = String(nextEventVersion())
            events[key] = EventOwnership.recording(event, over: old, time: now)
            return
        }
        // Full: room for a tenth more at once, so the least recently seen are sorted out once
        // per that many events, not for every one.
        if events.count >= eventRetention.maximumCount { dropEvents(now: now, adding: max(1, eventRetention.maximumCount / 10)) }
        let version = nextEventVersion()
        let name = "\(object.name).\(String(UInt64(Date().timeIntervalSince1970 * 1e9) &+ UInt64(version), radix: 16))"
        events[key] = EventOwnership.recording(Event(
            metadata: ObjectMeta(name: name, namespace: object.namespace, uid: UUID().uuidString.lowercased(),
                                 resourceVersion: String(version), creationTimestamp: now),
            involvedObject: object, reason: reason, message: message, type: type, sourceComponent: source,
            firstTimestamp: now, lastTimestamp: now), over: nil, time: now)
    }

    /// Drops the events the retention says go at `now` (to make room for `adding` more).
    func dropEvents(now: Timestamp, adding: Int = 0) {
        let lastSeen = events.mapValues(EventRetention.lastSeen)
        for key in eventRetention.dropped(lastSeen, now: now.secondsSince1970, adding: adding) {
            guard let event = events.removeValue(forKey: key) else { continue }
            eventsToDelete.insert(EventName(namespace: event.metadata.namespace, name: event.metadata.name))
            eventsToStore.remove(key)
            scheduleEventWrite()
        }
    }

    private func eventChanged(_ key: String) {
        eventsToStore.insert(key)
        scheduleEventWrite()
    }

    private func scheduleEventWrite() {
        guard !eventWriteScheduled else { return }
        eventWriteScheduled = true
        Task {
            try? await Task.sleep(for: Controller.eventWriteDelay)
            self.writeEvents()
        }
    }

    /// Writes what changed in the events since the last write, in one transaction. A failed
    /// write keeps the changes for the next one.
    func writeEvents() {
        eventWriteScheduled = false
        guard !eventsToStore.isEmpty || !eventsToDelete.isEmpty else { return }
        let deletes = eventsToDelete
        let writes = eventsToStore.compactMap { events[$0] }
        do {
            try store.write { tx in
                for name in deletes { try tx.deleteEvent(namespace: name.namespace, name: name.name) }
                for event in writes {
                    try tx.putEvent(namespace: event.metadata.namespace, name: event.metadata.name,
                                    lastSeen: EventRetention.lastSeen(event), json: Data(event.json.jsonText(indent: 0).utf8))
                }
            }
            eventsToDelete.removeAll()
            eventsToStore.removeAll()
        } catch {
            logger.error("storing events failed (kept for the next write): \(error)")
        }
    }

    /// Reads the stored events at start: the expired ones are deleted first, the rest beyond
    /// the count too; repeats of a read event count it up, and versions go on from the
    /// highest read.
    func loadEvents() {
        let now = Timestamp.now()
        do {
            let stored = try store.write { tx in
                try tx.deleteEvents(lastSeenBefore: now.secondsSince1970 - eventRetention.timeToLive)
                return try tx.events()
            }
            events = [:]
            for json in stored {
                do {
                    let event = try Event(json: JSONReader.value(from: String(decoding: json, as: UTF8.self)))
                    events[EventRetention.key(of: event)] = event
                    eventVersion = max(eventVersion, Int64(event.metadata.resourceVersion) ?? 0)
                } catch {
                    logger.error("a stored event cannot be read, left out: \(error)")
                }
            }
        } catch {
            logger.error("reading the stored events failed: \(error)")
        }
        dropEvents(now: now)
    }

    /// Events count their versions on their own: a failing probe every second in hundreds of
    /// pods must not cost a store write each.
    private func nextEventVersion() -> Int64 {
        eventVersion += 1
        return eventVersion
    }

    /// `GET /api/v1/[namespaces/{ns}/]events`, narrowed by a field selector on the involved
    /// object (`involvedObject.name=web,involvedObject.uid=…`, as `kubectl describe` asks).
    public func listEvents(namespace: String?, fieldSelector: String?) async throws -> Data {
        var requirements: [(String, String)] = []
        for term in (fieldSelector ?? "").split(separator: ",") where !term.isEmpty {
            let parts = term.replacingOccurrences(of: "==", with: "=").split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard parts.count == 2 else { throw APIStatus.badRequest("invalid field selector: \"\(term)\"") }
            requirements.append((String(parts[0]), String(parts[1])))
        }
        dropEvents(now: .now())
        let items = try events.values.filter { event in
            if let namespace, event.metadata.namespace != namespace { return false }
            for (field, value) in requirements {
                let actual: String
                switch field {
                case "involvedObject.name": actual = event.involvedObject.name
                case "involvedObject.namespace": actual = event.involvedObject.namespace
                case "involvedObject.uid": actual = event.involvedObject.uid
                case "involvedObject.kind": actual = event.involvedObject.kind
                case "involvedObject.fieldPath": actual = event.involvedObject.fieldPath
                case "reason": actual = event.reason
                case "type": actual = event.type.rawValue
                case "metadata.name": actual = event.metadata.name
                case "metadata.namespace": actual = event.metadata.namespace
                default: throw APIStatus.badRequest("field label not supported: \(field)")
                }
                if actual != value { return false }
            }
            return true
        }.sorted { (Int64($0.metadata.resourceVersion) ?? 0) < (Int64($1.metadata.resourceVersion) ?? 0) }
        let version = try store.read { try $0.currentResourceVersion() }
        return Data(EventList(items: items, resourceVersion: String(version)).json.jsonText(indent: 0).utf8)
    }
}

extension Controller {
    /// Another bound for the events (tests).
    func setEventRetention(_ retention: EventRetention) {
        eventRetention = retention
        dropEvents(now: .now())
    }
}
