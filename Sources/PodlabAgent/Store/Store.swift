import Foundation
import GRDB

/// The agent's desired and observed state, in one SQLite file (GRDB).
///
/// Objects (pods, nodes) are stored as their Kubernetes JSON with the keys Kubernetes uses
/// to find them; every write bumps one global resourceVersion, as the API server does.
/// IP allocations live in their own table with a unique key, so an address can never be
/// handed out twice, even across restarts. Container runtime facts that are not part of
/// the API object (pids) live in `processes`.
public final class Store: Sendable {
    let queue: DatabaseQueue

    /// Opens (creating if needed) the store at `path`.
    public init(path: String) throws {
        var config = Configuration()
        config.busyMode = .timeout(5)
        config.journalMode = .wal
        // In WAL mode, NORMAL syncs at checkpoints instead of on every commit. A commit is
        // still safe when the agent is killed (it is in the kernel's page cache); only a power
        // loss may take the last commits, and a lab's state lives under /run, which does not
        // outlive a reboot anyway. FULL fsyncs each commit: on this disk 0.3 ms median, 25 ms
        // at p99 — the whole budget of a pod turning Ready → its endpoint programmed.
        config.prepareDatabase { db in try db.execute(sql: "PRAGMA synchronous = NORMAL") }
        queue = try DatabaseQueue(path: path, configuration: config)
        try Store.migrator.migrate(queue)
    }

    /// An in-memory store (unit tests).
    public init() throws {
        queue = try DatabaseQueue()
        try Store.migrator.migrate(queue)
    }

    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.create(table: "objects") { t in
                t.column("kind", .text).notNull()
                t.column("namespace", .text).notNull()
                t.column("name", .text).notNull()
                t.column("uid", .text).notNull().unique()
                t.column("resourceVersion", .integer).notNull()
                t.column("json", .blob).notNull()
                t.primaryKey(["kind", "namespace", "name"])
            }
            try db.create(table: "allocations") { t in
                t.column("address", .text).primaryKey()
                t.column("node", .text).notNull()
                t.column("owner", .text).notNull().unique()
            }
            try db.create(table: "processes") { t in
                t.column("podUID", .text).notNull()
                t.column("container", .text).notNull()
                t.column("pid", .integer).notNull()
                t.column("startTime", .integer).notNull()
                t.primaryKey(["podUID", "container"])
            }
            try db.create(table: "meta") { t in
                t.column("key", .text).primaryKey()
                t.column("value", .text).notNull()
            }
        }
        // Events: kept apart from `objects` (which share one resourceVersion and watch stream)
        // and written in batches, so a probe failing every second in hundreds of pods costs no
        // store write each; `lastSeen` (seconds) is what the retention drops by.
        migrator.registerMigration("v2-events") { db in
            try db.create(table: "events") { t in
                t.column("namespace", .text).notNull()
                t.column("name", .text).notNull()
                t.column("lastSeen", .integer).notNull()
                t.column("json", .blob).notNull()
                t.primaryKey(["namespace", "name"])
            }
            try db.create(index: "events_lastSeen", on: "events", columns: ["lastSeen"])
        }
        return migrator
    }

    /// One stored object.
    public struct Object: Sendable, Equatable {
        public var kind: String
        public var namespace: String
        public var name: String
        public var uid: String
        public var resourceVersion: Int64
        public var json: Data
    }

    /// Runs `body` in one write transaction: either all of it lands or none.
    public func write<T>(_ body: (Transaction) throws -> T) throws -> T {
        try queue.write { db in try body(Transaction(db: db)) }
    }

    /// Runs `body` with a read-only view.
    public func read<T>(_ body: (Transaction) throws -> T) throws -> T {
        try queue.read { db in try body(Transaction(db: db)) }
    }

    /// Operations inside one database transaction.
    public struct Transaction {
        let db: Database

        /// The next resourceVersion (a global counter, like etcd's revision).
        public func nextResourceVersion() throws -> Int64 {
            let current = try Int64.fetchOne(db, sql: "SELECT value FROM meta WHERE key = 'resourceVersion'") ?? 0
            let next = current + 1
            try db.execute(sql: "INSERT INTO meta(key, value) VALUES('resourceVersion', ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value", arguments: [String(next)])
            return next
        }

        public func currentResourceVersion() throws -> Int64 {
            try Int64.fetchOne(db, sql: "SELECT value FROM meta WHERE key = 'resourceVersion'") ?? 0
        }

        public func object(kind: String, namespace: String, name: String) throws -> Object? {
            try Row.fetchOne(db, sql: "SELECT * FROM objects WHERE kind = ? AND namespace = ? AND name = ?", arguments: [kind, namespace, name]).map(Store.object)
        }

        /// Objects of a kind, in one namespace or (nil) all, ordered by namespace and name.
        public func objects(kind: String, namespace: String? = nil) throws -> [Object] {
            if let namespace {
                return try Row.fetchAll(db, sql: "SELECT * FROM objects WHERE kind = ? AND namespace = ? ORDER BY name", arguments: [kind, namespace]).map(Store.object)
            }
            return try Row.fetchAll(db, sql: "SELECT * FROM objects WHERE kind = ? ORDER BY namespace, name", arguments: [kind]).map(Store.object)
        }

        /// Inserts or replaces an object.
        public func put(_ object: Object) throws {
            try db.execute(sql: """
                INSERT INTO objects(kind, namespace, name, uid, resourceVersion, json) VALUES(?, ?, ?, ?, ?, ?)
                ON CONFLICT(kind, namespace, name) DO UPDATE SET uid = excluded.uid, resourceVersion = excluded.resourceVersion, json = excluded.json
                """, arguments: [object.kind, object.namespace, object.name, object.uid, object.resourceVersion, object.json])
        }

        public func delete(kind: String, namespace: String, name: String) throws {
            try db.execute(sql: "DELETE FROM objects WHERE kind = ? AND namespace = ? AND name = ?", arguments: [kind, namespace, name])
        }

        // MARK: IP allocations

        /// All allocations of a node: address → owner.
        public func allocations(node: String) throws -> [String: String] {
            var result: [String: String] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT address, owner FROM allocations WHERE node = ?", arguments: [node]) {
                result[row["address"]] = row["owner"]
            }
            return result
        }

        /// Every allocation in the lab: (address, node, owner).
        public func allAllocations() throws -> [(address: String, node: String, owner: String)] {
            try Row.fetchAll(db, sql: "SELECT address, node, owner FROM allocations ORDER BY node, address").map { ($0["address"], $0["node"], $0["owner"]) }
        }

        /// Records an allocation; fails (UNIQUE) if the address or the owner already has one.
        public func allocate(address: String, node: String, owner: String) throws {
            try db.execute(sql: "INSERT INTO allocations(address, node, owner) VALUES(?, ?, ?)", arguments: [address, node, owner])
        }

        public func release(owner: String) throws {
            try db.execute(sql: "DELETE FROM allocations WHERE owner = ?", arguments: [owner])
        }

        public func allocation(owner: String) throws -> String? {
            try String.fetchOne(db, sql: "SELECT address FROM allocations WHERE owner = ?", arguments: [owner])
        }

        // MARK: events

        /// Every stored event's JSON, the most recently seen first.
        public func events() throws -> [Data] {
            try Data.fetchAll(db, sql: "SELECT json FROM events ORDER BY lastSeen DESC, namespace, name")
        }

        /// Inserts or replaces an event.
        public func putEvent(namespace: String, name: String, lastSeen: Int64, json: Data) throws {
            try db.execute(sql: """
                INSERT INTO events(namespace, name, lastSeen, json) VALUES(?, ?, ?, ?)
                ON CONFLICT(namespace, name) DO UPDATE SET lastSeen = excluded.lastSeen, json = excluded.json
                """, arguments: [namespace, name, lastSeen, json])
        }

        public func deleteEvent(namespace: String, name: String) throws {
            try db.execute(sql: "DELETE FROM events WHERE namespace = ? AND name = ?", arguments: [namespace, name])
        }

        /// Deletes the events last seen before `seconds`; returns how many.
        @discardableResult
        public func deleteEvents(lastSeenBefore seconds: Int64) throws -> Int {
            try db.execute(sql: "DELETE FROM events WHERE lastSeen < ?", arguments: [seconds])
            return db.changesCount
        }

        // MARK: meta

        public func meta(_ key: String) throws -> String? {
            try String.fetchOne(db, sql: "SELECT value FROM meta WHERE key = ?", arguments: [key])
        }

        public func setMeta(_ key: String, _ value: String) throws {
            try db.execute(sql: "INSERT INTO meta(key, value) VALUES(?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value", arguments: [key, value])
        }

        // MARK: processes

        public func processes(podUID: String) throws -> [String: ProcessIdentity] {
            var result: [String: ProcessIdentity] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT container, pid, startTime FROM processes WHERE podUID = ?", arguments: [podUID]) {
                result[row["container"]] = ProcessIdentity(pid: row["pid"], startTime: UInt64(row["startTime"] as Int64))
            }
            return result
        }

        public func setProcess(podUID: String, container: String, identity: ProcessIdentity?) throws {
            if let identity {
                try db.execute(sql: "INSERT INTO processes(podUID, container, pid, startTime) VALUES(?, ?, ?, ?) ON CONFLICT(podUID, container) DO UPDATE SET pid = excluded.pid, startTime = excluded.startTime",
                               arguments: [podUID, container, identity.pid, Int64(identity.startTime)])
            } else {
                try db.execute(sql: "DELETE FROM processes WHERE podUID = ? AND container = ?", arguments: [podUID, container])
            }
        }

        public func deleteProcesses(podUID: String) throws {
            try db.execute(sql: "DELETE FROM processes WHERE podUID = ?", arguments: [podUID])
        }
    }

    static func object(_ row: Row) -> Object {
        Object(kind: row["kind"], namespace: row["namespace"], name: row["name"], uid: row["uid"], resourceVersion: row["resourceVersion"], json: row["json"])
    }
}
