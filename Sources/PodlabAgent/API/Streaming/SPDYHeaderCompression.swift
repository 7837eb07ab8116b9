import CZlib
import PodNet

/// SPDY/3's header compression: each direction of a connection is one zlib stream, primed with
/// SPDY's dictionary, and every header block is flushed (`Z_SYNC_FLUSH`) so it can be read on
/// its own. The state lives as long as the connection; the blocks must be compressed in the
/// order they go on the wire, and read in the order they came. The two directions are apart: a
/// connection's writer alone compresses, its reader alone decompresses.
final class SPDYHeaderCompression: @unchecked Sendable {
    private let deflater: UnsafeMutablePointer<z_stream>
    private let inflater: UnsafeMutablePointer<z_stream>

    init() throws(SPDYError) {
        // zlib checks that the z_stream it was given is the one it is called with: allocated once.
        deflater = .allocate(capacity: 1)
        deflater.initialize(to: z_stream())
        inflater = .allocate(capacity: 1)
        inflater.initialize(to: z_stream())
        let size = Int32(MemoryLayout<z_stream>.size)
        guard deflateInit_(deflater, Z_DEFAULT_COMPRESSION, zlibVersion(), size) == Z_OK else {
            inflater.deallocate()
            deflater.deallocate()
            throw SPDYError("zlib: deflateInit failed")
        }
        let primed = SPDYHeaderBlock.dictionary.withUnsafeBufferPointer { deflateSetDictionary(deflater, $0.baseAddress, uInt($0.count)) }
        guard primed == Z_OK, inflateInit_(inflater, zlibVersion(), size) == Z_OK else {
            deflateEnd(deflater)
            inflater.deallocate()
            deflater.deallocate()
            throw SPDYError("zlib: setting up SPDY's header compression failed")
        }
    }

    deinit {
        deflateEnd(deflater)
        inflateEnd(inflater)
        deflater.deallocate()
        inflater.deallocate()
    }

    /// A header block as the wire carries it.
    func compress(_ headers: [(name: String, value: String)]) -> [UInt8] {
        var input = SPDYHeaderBlock.encode(headers)
        var output: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        input.withUnsafeMutableBufferPointer { source in
            deflater.pointee.next_in = source.baseAddress
            deflater.pointee.avail_in = uInt(source.count)
            repeat {
                chunk.withUnsafeMutableBufferPointer { target in
                    deflater.pointee.next_out = target.baseAddress
                    deflater.pointee.avail_out = uInt(target.count)
                    _ = deflate(deflater, Z_SYNC_FLUSH)
                    output += target[0..<(target.count - Int(deflater.pointee.avail_out))]
                }
            } while deflater.pointee.avail_out == 0
            deflater.pointee.next_in = nil
        }
        return output
    }

    /// A header block read from the wire. The first one asks for SPDY's dictionary, which zlib
    /// checks by its Adler-32 checksum: a peer primed with another is refused here.
    func decompress(_ block: [UInt8]) throws(SPDYError) -> [(name: String, value: String)] {
        guard !block.isEmpty else { return [] }
        var input = block
        var output: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        var failure: SPDYError?
        input.withUnsafeMutableBufferPointer { source in
            inflater.pointee.next_in = source.baseAddress
            inflater.pointee.avail_in = uInt(source.count)
            defer { inflater.pointee.next_in = nil }
            while true {
                var result: Int32 = Z_OK
                var produced = 0
                chunk.withUnsafeMutableBufferPointer { target in
                    inflater.pointee.next_out = target.baseAddress
                    inflater.pointee.avail_out = uInt(target.count)
                    result = inflate(inflater, Z_SYNC_FLUSH)
                    produced = target.count - Int(inflater.pointee.avail_out)
                    output += target[0..<produced]
                }
                if result == Z_NEED_DICT {
                    let set = SPDYHeaderBlock.dictionary.withUnsafeBufferPointer { inflateSetDictionary(inflater, $0.baseAddress, uInt($0.count)) }
                    guard set == Z_OK else {
                        failure = SPDYError("zlib: the peer's header dictionary is not SPDY/3's")
                        return
                    }
                    continue
                }
                // Z_BUF_ERROR: no progress possible, everything given was read.
                guard result == Z_OK || result == Z_BUF_ERROR || result == Z_STREAM_END else {
                    failure = SPDYError("zlib: a header block does not inflate (\(result))")
                    return
                }
                if inflater.pointee.avail_in == 0 && produced < chunk.count { return }
                if result == Z_BUF_ERROR && produced == 0 { return }
            }
        }
        if let failure { throw failure }
        return try SPDYHeaderBlock.decode(output)
    }
}
