import Foundation
import GRDB
import Testing
@testable import PodlabAgent

/// How the agent's SQLite file is opened.
@Suite struct StoreTests {
    /// WAL with `synchronous = NORMAL`: a commit reaches the page cache (safe when the agent is
    /// killed) without an fsync of its own, which cost up to 25 ms per commit on this disk.
    @Test func aStoreOnDiskJournalsAheadAndDoesNotSyncEachCommit() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("podlab-store-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = try Store(path: directory + "/state.db")
        let (journal, synchronous) = try store.queue.read { db in
            (try String.fetchOne(db, sql: "PRAGMA journal_mode"), try Int.fetchOne(db, sql: "PRAGMA synchronous"))
        }
        #expect(journal == "wal")
        #expect(synchronous == 1)  // 1 = NORMAL, 2 = FULL (SQLite's default)
    }
}
