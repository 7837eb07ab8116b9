import CZlib
import CZstd
import Crypto
import Foundation
import Netns
import PodNet
#if canImport(Glibc)
import Glibc
#endif

/// A file's bytes, read in order.
final class FileByteSource: TarByteSource {
    let path: String
    private let fd: Int32

    init(path: String) throws(OCIImageError) {
        self.path = path
        fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw OCIImageError("open \(path): \(Errno.current)") }
    }

    deinit { close(fd) }

    func read(maxCount: Int) throws(OCIImageError) -> [UInt8] {
        var buffer = [UInt8](repeating: 0, count: maxCount)
        while true {
            let n = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, maxCount) }
            if n >= 0 { return Array(buffer.prefix(n)) }
            if errno == EINTR { continue }
            throw OCIImageError("read \(path): \(Errno.current)")
        }
    }
}

/// The inflated bytes of a gzip stream (several members read as one, as gzip -d does).
final class GzipByteSource<Compressed: TarByteSource>: TarByteSource {
    private var compressed: Compressed
    private var stream = z_stream()
    private var input: [UInt8] = []
    private var inputOffset = 0
    /// True right after a member's end: the input may end cleanly there, and only there.
    private var atMemberBoundary = false
    private var ended = false
    private let what: String

    init(_ compressed: Compressed, what: String) throws(OCIImageError) {
        self.compressed = compressed
        self.what = what
        guard podlab_inflate_init_gzip(&stream) == Z_OK else { throw OCIImageError("\(what): cannot start gzip decompression") }
    }

    deinit { inflateEnd(&stream) }

    func read(maxCount: Int) throws(OCIImageError) -> [UInt8] {
        var output = [UInt8](repeating: 0, count: maxCount)
        while !ended {
            if inputOffset == input.count {
                input = try compressed.read(maxCount: 1 << 16)
                inputOffset = 0
                if input.isEmpty {
                    guard atMemberBoundary else { throw OCIImageError("\(what): unexpected end of gzip data (truncated)") }
                    ended = true
                    break
                }
            }
            let offset = inputOffset
            let (status, consumed, produced) = input.withUnsafeMutableBufferPointer { inputBuffer in
                output.withUnsafeMutableBufferPointer { outputBuffer in
                    stream.next_in = inputBuffer.baseAddress! + offset
                    stream.avail_in = UInt32(inputBuffer.count - offset)
                    stream.next_out = outputBuffer.baseAddress
                    stream.avail_out = UInt32(outputBuffer.count)
                    let status = inflate(&stream, Z_NO_FLUSH)
                    return (status, inputBuffer.count - offset - Int(stream.avail_in), outputBuffer.count - Int(stream.avail_out))
                }
            }
            inputOffset += consumed
            atMemberBoundary = false
            switch status {
            case Z_OK, Z_BUF_ERROR:
                break
            case Z_STREAM_END:
                // Another gzip member may follow (pigz, concatenated files).
                inflateReset(&stream)
                atMemberBoundary = true
            default:
                throw OCIImageError("\(what): corrupted gzip data (\(stream.msg.map { String(cString: $0) } ?? "zlib error \(status)"))")
            }
            if produced > 0 { return Array(output.prefix(produced)) }
        }
        return []
    }
}

/// The decompressed bytes of a zstd stream (RFC 8878; several frames read as one, as
/// `zstd -d` does), streamed through libzstd's `ZSTD_decompressStream`.
final class ZstdByteSource<Compressed: TarByteSource>: TarByteSource {
    private var compressed: Compressed
    private let stream: OpaquePointer
    private var input: [UInt8] = []
    private var inputOffset = 0
    private var inputEnded = false
    /// The last call that moved bytes ended a frame: the input may end cleanly there, and only there.
    private var frameComplete = false
    private var ended = false
    private let what: String

    init(_ compressed: Compressed, what: String) throws(OCIImageError) {
        self.compressed = compressed
        self.what = what
        guard let stream = ZSTD_createDStream() else { throw OCIImageError("\(what): cannot start zstd decompression") }
        self.stream = stream
        let status = ZSTD_initDStream(stream)
        guard ZSTD_isError(status) == 0 else {
            ZSTD_freeDStream(stream)
            throw OCIImageError("\(what): cannot start zstd decompression (\(String(cString: ZSTD_getErrorName(status))))")
        }
    }

    deinit { ZSTD_freeDStream(stream) }

    func read(maxCount: Int) throws(OCIImageError) -> [UInt8] {
        var output = [UInt8](repeating: 0, count: maxCount)
        while !ended {
            if inputOffset == input.count, !inputEnded {
                input = try compressed.read(maxCount: 1 << 17)
                inputOffset = 0
                inputEnded = input.isEmpty
            }
            let offset = inputOffset
            // With no input left the decoder is still called: it may hold output it could not
            // hand over while the output buffer was full.
            var none: UInt8 = 0
            let (status, consumed, produced) = input.withUnsafeBytes { inputBytes in
                output.withUnsafeMutableBytes { outputBytes in
                    withUnsafeMutablePointer(to: &none) { empty in
                        let source = inputBytes.count > offset ? UnsafeRawPointer(inputBytes.baseAddress! + offset) : UnsafeRawPointer(empty)
                        var inBuffer = ZSTD_inBuffer(src: source, size: inputBytes.count - offset, pos: 0)
                        var outBuffer = ZSTD_outBuffer(dst: outputBytes.baseAddress, size: outputBytes.count, pos: 0)
                        let status = ZSTD_decompressStream(stream, &outBuffer, &inBuffer)
                        return (status, inBuffer.pos, outBuffer.pos)
                    }
                }
            }
            if ZSTD_isError(status) != 0 {
                throw OCIImageError("\(what): corrupted zstd data (\(String(cString: ZSTD_getErrorName(status))))")
            }
            inputOffset += consumed
            if consumed > 0 || produced > 0 { frameComplete = status == 0 }
            if produced > 0 { return Array(output.prefix(produced)) }
            if inputEnded, inputOffset == input.count {
                guard frameComplete else { throw OCIImageError("\(what): unexpected end of zstd data (truncated)") }
                ended = true
            }
        }
        return []
    }
}

/// Passes bytes through and hashes them: a layer's diff ID is the sha256 of its uncompressed
/// tar stream, a blob's digest that of its bytes as stored.
final class HashingByteSource<Source: TarByteSource>: TarByteSource {
    private var source: Source
    private var hasher = Crypto.SHA256()
    private(set) var count: Int64 = 0

    init(_ source: Source) {
        self.source = source
    }

    func read(maxCount: Int) throws(OCIImageError) -> [UInt8] {
        let bytes = try source.read(maxCount: maxCount)
        hasher.update(data: bytes)
        count += Int64(bytes.count)
        return bytes
    }

    /// Reads what is left (a tar's trailing padding) and returns the digest of everything.
    func finish() throws(OCIImageError) -> ImageDigest {
        while try !read(maxCount: 1 << 16).isEmpty {}
        return ImageDigest(bytes: Array(hasher.finalize()))
    }
}
