import Foundation
import KernelTestSupport
import PodNet
import Testing
@testable import PodlabAgent
#if canImport(Glibc)
import Glibc
#endif

/// The store's ingests on a real file system: what a killed pull leaves is taken up by the next,
/// bytes that cannot be the blob are dropped, one writer at a time, old ones removed.
@Suite("The image store's ingests: partial blobs kept across pulls")
struct ImageIngestTests {
    static func withStore(_ body: (String, ImageStore) async throws -> Void) async throws {
        let scratch = NSTemporaryDirectory() + KernelTest.uniqueName("ingest")
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        try await body(scratch, ImageStore(root: "\(scratch)/store"))
    }

    static let blob: [UInt8] = (0..<300_000).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ $0 >> 9) }
    static let descriptor = ImageDescriptor(mediaType: MediaType.ociLayer, digest: ImageDigest.of(blob), size: Int64(blob.count))

    static func append(_ ingest: BlobIngest, _ bytes: ArraySlice<UInt8>) throws {
        try Array(bytes).withUnsafeBytes { try ingest.append($0) }
    }

    @Test("bytes left by a writer that stopped are hashed and gone on from; once complete the blob is stored and the ingest removed")
    func resumes() async throws {
        try await Self.withStore { _, store in
            let first = try #require(try await store.openIngest(Self.descriptor))
            #expect(first.size == 0)
            try Self.append(first, Self.blob[0..<120_000])
            first.close()  // what a kill leaves: the bytes, the lock released with the process

            let second = try #require(try await store.openIngest(Self.descriptor))
            #expect(second.heldAtOpen == 120_000)
            #expect(second.size == 120_000)
            #expect(BlobIngestPlan.plan(held: second.size, recordedTotal: Int64(Self.blob.count), size: Self.descriptor.size) == .fetch(from: 120_000))
            try Self.append(second, Self.blob[120_000...])
            #expect(second.isComplete && second.digest == Self.descriptor.digest)
            second.close()
            #expect(access(store.blobPath(Self.descriptor.digest), F_OK) != 0, "not a blob before it is stored")

            // A complete ingest needs no transfer: checked when opened.
            let third = try #require(try await store.openIngest(Self.descriptor))
            #expect(third.isComplete && third.digest == Self.descriptor.digest)
            third.close()

            try store.locked { () throws(OCIImageError) in try store.storeIngest(Self.descriptor.digest) }
            #expect(FileManager.default.contents(atPath: store.blobPath(Self.descriptor.digest)).map(Array.init) == Self.blob)
            #expect(access(store.ingestDirectory(Self.descriptor.digest), F_OK) != 0)
            #expect(try await store.openIngest(Self.descriptor) == nil, "the blob is in the store")
        }
    }

    @Test("an ingest longer than the blob, one begun for another size, and whole bytes with the wrong digest start again")
    func restarts() async throws {
        try await Self.withStore { _, store in
            let directory = store.ingestDirectory(Self.descriptor.digest)
            let cases: [(data: [UInt8], total: String?)] = [
                (Self.blob + [1, 2, 3], "\(Self.blob.count)"),
                (Array(Self.blob[0..<1000]), "\(Self.blob.count + 1)"),
                (Self.blob.map { $0 ^ 0xFF }, "\(Self.blob.count)"),
            ]
            for (data, total) in cases {
                try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
                try Data(data).write(to: URL(fileURLWithPath: "\(directory)/data"))
                if let total { try total.write(toFile: "\(directory)/total", atomically: false, encoding: .utf8) }
                let ingest = try #require(try await store.openIngest(Self.descriptor))
                #expect(ingest.size == 0, "held \(data.count) bytes")
                #expect(ingest.discarded != nil)
                var status = stat()
                #expect(stat("\(directory)/data", &status) == 0 && status.st_size == 0)
                #expect(BlobIngestPlan.recordedTotal(try String(contentsOfFile: "\(directory)/total", encoding: .utf8)) == Int64(Self.blob.count))
                ingest.close()
            }
        }
    }

    @Test("one writer at a time: a second waits while the first holds the ingest, then finds the blob stored")
    func oneWriter() async throws {
        try await Self.withStore { _, store in
            let first = try #require(try await store.openIngest(Self.descriptor))
            let waiter = Task { () -> (complete: Bool, digest: ImageDigest)? in
                guard let second = try await store.openIngest(Self.descriptor) else { return nil }
                defer { second.close() }
                return (second.isComplete, second.digest)
            }
            try Self.append(first, Self.blob[...])
            first.close()
            try store.locked { () throws(OCIImageError) in try store.storeIngest(Self.descriptor.digest) }
            // Whenever the waiter got the lock — before the store or after — it ends holding nothing to do or the whole blob.
            if let second = try await waiter.value {
                #expect(second.complete && second.digest == Self.descriptor.digest)
            }
            #expect(FileManager.default.contents(atPath: store.blobPath(Self.descriptor.digest)).map(Array.init) == Self.blob)
        }
    }

    @Test("ingests older than a day go at the next pull's sweep, all at a prune; one a pull holds stays")
    func removal() async throws {
        try await Self.withStore { _, store in
            let other: [UInt8] = Array("another blob".utf8)
            let otherDescriptor = ImageDescriptor(mediaType: MediaType.ociLayer, digest: ImageDigest.of(other), size: Int64(other.count))
            let old = try #require(try await store.openIngest(Self.descriptor))
            try Self.append(old, Self.blob[0..<1000])
            old.close()
            let twoDaysAgo = Date().addingTimeInterval(-2 * 24 * 3600)
            try FileManager.default.setAttributes([.modificationDate: twoDaysAgo], ofItemAtPath: "\(store.ingestDirectory(Self.descriptor.digest))/data")
            let fresh = try #require(try await store.openIngest(otherDescriptor))
            try Self.append(fresh, other[0..<4])
            fresh.close()

            #expect(store.removeIngests(all: false) == 1)
            #expect(access(store.ingestDirectory(Self.descriptor.digest), F_OK) != 0)
            #expect(access(store.ingestDirectory(otherDescriptor.digest), F_OK) == 0)

            let held = try #require(try await store.openIngest(otherDescriptor))
            #expect(try store.prune().ingests == 0, "held by a pull under way")
            #expect(access(store.ingestDirectory(otherDescriptor.digest), F_OK) == 0)
            held.close()
            #expect(try store.prune().ingests == 1)
            #expect(access(store.ingestDirectory(otherDescriptor.digest), F_OK) != 0)
        }
    }
}
