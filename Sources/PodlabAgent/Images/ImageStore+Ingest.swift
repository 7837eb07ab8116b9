#if canImport(Glibc)
import Glibc
#endif
import Crypto
import Foundation
import Netns
import PodNet

/// A blob being received from a registry: `ingest/<hex>/data` (the bytes that arrived, in
/// order) and `ingest/<hex>/total` (the size the manifest gave), as containerd keeps its
/// ingests. One writer at a time holds `data` under `flock` (a pull of the agent, a `podlab
/// image pull`, whichever came first; the others wait); the lock goes with the process, so a
/// writer killed with -9 leaves an ingest the next pull takes up where it stopped. The bytes
/// are a blob only once their digest is checked and they are renamed into `blobs/`.
final class BlobIngest {
    let directory: String
    let descriptor: ImageDescriptor
    private(set) var fd: Int32
    /// The digest of the `size` bytes the file holds, so far.
    private(set) var hasher = Crypto.SHA256()
    private(set) var size: Int64 = 0
    /// What the ingest held when it was opened, and what became of it (for the pull's report).
    let heldAtOpen: Int64
    private(set) var discarded: String?

    var dataPath: String { "\(directory)/data" }

    init(directory: String, descriptor: ImageDescriptor, fd: Int32, heldAtOpen: Int64) {
        self.directory = directory
        self.descriptor = descriptor
        self.fd = fd
        self.heldAtOpen = heldAtOpen
    }

    deinit { close() }

    /// Releases the lock (and the file); what was written stays.
    func close() {
        if fd >= 0 { Glibc.close(fd) }
        fd = -1
    }

    var isComplete: Bool { size == descriptor.size }

    /// Empties the ingest: the next bytes are the blob's first.
    func restart(_ reason: String) throws(OCIImageError) {
        guard ftruncate(fd, 0) == 0 else { throw OCIImageError("truncate \(dataPath): \(Errno.current)") }
        hasher = Crypto.SHA256()
        size = 0
        discarded = reason
    }

    /// Drops what may lie past the bytes counted (a write a failure cut short).
    func trimToCounted() throws(OCIImageError) {
        guard ftruncate(fd, off_t(size)) == 0 else { throw OCIImageError("truncate \(dataPath): \(Errno.current)") }
    }

    /// Appends `bytes`; counted once written, so what the next try asks for is what the file holds.
    func append(_ bytes: UnsafeRawBufferPointer) throws(OCIImageError) {
        var offset = 0
        while offset < bytes.count {
            let written = pwrite(fd, bytes.baseAddress! + offset, bytes.count - offset, off_t(size) + off_t(offset))
            if written < 0 {
                if errno == EINTR { continue }
                throw OCIImageError("write \(dataPath): \(Errno.current)")
            }
            offset += written
        }
        hasher.update(bufferPointer: bytes)
        size += Int64(bytes.count)
    }

    /// Hashes the first `count` bytes the file holds (what an earlier transfer left).
    func hashHeld(_ count: Int64) throws(OCIImageError) {
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        var offset: Int64 = 0
        while offset < count {
            let want = Int(min(Int64(buffer.count), count - offset))
            let got = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress!, want, off_t(offset)) }
            if got < 0 {
                if errno == EINTR { continue }
                throw OCIImageError("read \(dataPath): \(Errno.current)")
            }
            if got == 0 { break }
            buffer.withUnsafeBytes { hasher.update(bufferPointer: UnsafeRawBufferPointer(rebasing: $0[0..<got])) }
            offset += Int64(got)
        }
        size = offset
    }

    /// The digest of the bytes held.
    var digest: ImageDigest { ImageDigest(bytes: Array(hasher.finalize())) }

    func sync() throws(OCIImageError) {
        guard fsync(fd) == 0 else { throw OCIImageError("fsync \(dataPath): \(Errno.current)") }
    }
}

extension ImageStore {
    var ingestsDirectory: String { "\(root)/ingest" }
    func ingestDirectory(_ digest: ImageDigest) -> String { "\(ingestsDirectory)/\(digest.hex)" }

    /// The ingest of `descriptor`'s blob, locked for this writer and made ready to go on: the
    /// bytes an earlier transfer left are hashed (`BlobIngestPlan`), or dropped when they cannot
    /// be the blob's. Waits while another writer holds it; nil when the blob is in the store
    /// (by then).
    func openIngest(_ descriptor: ImageDescriptor) async throws(OCIImageError) -> BlobIngest? {
        for directory in [root, ingestsDirectory] where mkdir(directory, 0o700) != 0 && errno != EEXIST {
            throw OCIImageError("mkdir \(directory): \(Errno.current)")
        }
        let directory = ingestDirectory(descriptor.digest)
        let data = "\(directory)/data"
        while true {
            if access(blobPath(descriptor.digest), F_OK) == 0 { return nil }
            if mkdir(directory, 0o700) != 0 && errno != EEXIST { throw OCIImageError("mkdir \(directory): \(Errno.current)") }
            let fd = open(data, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
            if fd < 0 {
                // Removed between the mkdir and the open (the blob was just stored, or a prune): look again.
                if errno == ENOENT { continue }
                throw OCIImageError("open \(data): \(Errno.current)")
            }
            if flock(fd, LOCK_EX | LOCK_NB) != 0 {
                let error = Errno.current
                Glibc.close(fd)
                guard error == .resourceTemporarilyUnavailable || error == .interrupted else { throw OCIImageError("flock \(data): \(error)") }
                do { try await Task.sleep(for: .milliseconds(100)) } catch { throw OCIImageError("pull of \(descriptor.digest) cancelled") }
                continue
            }
            // The file locked must still be the ingest: the writer before may have renamed it
            // into `blobs/` or removed it while this one waited.
            var opened = stat(), named = stat()
            guard fstat(fd, &opened) == 0, stat(data, &named) == 0, opened.st_ino == named.st_ino, opened.st_dev == named.st_dev else {
                Glibc.close(fd)
                continue
            }
            if access(blobPath(descriptor.digest), F_OK) == 0 {
                Glibc.close(fd)
                return nil
            }
            let ingest = BlobIngest(directory: directory, descriptor: descriptor, fd: fd, heldAtOpen: Int64(opened.st_size))
            let total = BlobIngestPlan.recordedTotal(try? String(contentsOfFile: "\(directory)/total", encoding: .utf8))
            switch BlobIngestPlan.plan(held: Int64(opened.st_size), recordedTotal: total, size: descriptor.size) {
            case let .fetch(from: offset):
                try ingest.hashHeld(offset)
            case .verify:
                try ingest.hashHeld(descriptor.size)
                if ingest.digest != descriptor.digest {
                    try ingest.restart("its \(descriptor.size) bytes hash to \(ingest.digest)")
                }
            case let .restart(reason):
                try ingest.restart(reason)
            }
            if total != descriptor.size { try writeIngestTotal(descriptor.size, in: directory) }
            return ingest
        }
    }

    /// Records the blob's size beside its bytes. Written in place (not through `tmp/`, which a
    /// locking writer empties): a torn file reads as no record, and the ingest starts again.
    private func writeIngestTotal(_ size: Int64, in directory: String) throws(OCIImageError) {
        let path = "\(directory)/total"
        let bytes = Array("\(size)\n".utf8)
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw OCIImageError("create \(path): \(Errno.current)") }
        defer { Glibc.close(fd) }
        guard bytes.withUnsafeBytes({ write(fd, $0.baseAddress!, $0.count) }) == bytes.count else {
            throw OCIImageError("write \(path): \(Errno.current)")
        }
    }

    /// Moves a complete, checked ingest into `blobs/` (unless the blob is there already) and
    /// removes the ingest. Called under the store's lock.
    func storeIngest(_ digest: ImageDigest) throws(OCIImageError) {
        let directory = ingestDirectory(digest)
        if access(blobPath(digest), F_OK) != 0 {
            guard rename("\(directory)/data", blobPath(digest)) == 0 else {
                throw OCIImageError("rename \(directory)/data to \(blobPath(digest)): \(Errno.current)")
            }
        }
        removeIngestDirectory(directory)
    }

    /// Removes an ingest this writer holds (one that received nothing).
    func removeIngest(_ ingest: BlobIngest) {
        removeIngestDirectory(ingest.directory)
        ingest.close()
    }

    private func removeIngestDirectory(_ directory: String) {
        unlink("\(directory)/data")
        unlink("\(directory)/total")
        rmdir(directory)
    }

    /// Removes the ingests no writer holds: those last written longer than
    /// `BlobIngestPlan.maximumAge` ago, or with `all` every one; returns how many. What a pull
    /// of an older podlab left in `downloads/` goes too.
    @discardableResult
    func removeIngests(all: Bool) -> Int {
        var removed = 0
        let now = Date()
        for name in (try? FileManager.default.contentsOfDirectory(atPath: ingestsDirectory)) ?? [] {
            let directory = "\(ingestsDirectory)/\(name)"
            if !all {
                let modified = (try? FileManager.default.attributesOfItem(atPath: "\(directory)/data")[.modificationDate] as? Date)
                    ?? (try? FileManager.default.attributesOfItem(atPath: directory)[.modificationDate] as? Date) ?? now
                guard BlobIngestPlan.isExpired(age: .milliseconds(Int64(now.timeIntervalSince(modified) * 1000))) else { continue }
            }
            let fd = open("\(directory)/data", O_RDWR | O_CLOEXEC)
            defer { if fd >= 0 { Glibc.close(fd) } }
            // Held by a pull under way: not this one's to remove.
            if fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) != 0 { continue }
            removeIngestDirectory(directory)
            removed += 1
        }
        try? FileManager.default.removeItem(atPath: "\(root)/downloads")
        return removed
    }
}
