import Foundation
import NIOCore
import Netns

/// The lines of one watch on their way to its client, handed over in batches: everything that
/// arrived since the writer last took some, as one buffer of newline-terminated lines.
///
/// A watch written line by line costs a wake-up of its writer, a hop to the connection's event
/// loop, a TLS record and a socket write per event, for every watcher; with a hundred watchers
/// of a busy kind that is most of the agent's work. Here a writer that is busy while events
/// arrive finds them all waiting when it comes back and sends them with one write.
public final class WatchQueue: Sendable {
    public enum YieldResult: Equatable, Sendable {
        /// Queued (or handed to the waiting writer).
        case enqueued
        /// Not queued: `limit` lines are waiting already. The watch must end.
        case dropped
        /// The watch has ended.
        case terminated
    }

    private struct State {
        var pending = ByteBuffer()
        var lines = 0
        var waiter: CheckedContinuation<ByteBuffer?, Never>?
        /// No more lines come; what is pending is still handed over.
        var finished = false
        /// The writer is gone: nothing more is handed over.
        var cancelled = false
        var onTermination: [@Sendable () -> Void] = []

        mutating func takePending() -> ByteBuffer {
            defer {
                pending = ByteBuffer()
                lines = 0
            }
            return pending
        }
    }

    private let state = Locked(State())
    /// How many lines may wait for the writer.
    public let limit: Int

    public init(limit: Int) { self.limit = limit }

    /// Queues `line` (without its newline).
    @discardableResult
    public func yield(_ line: Data) -> YieldResult {
        let (result, resume): (YieldResult, (CheckedContinuation<ByteBuffer?, Never>, ByteBuffer)?) = state.withLock { state in
            if state.finished || state.cancelled { return (.terminated, nil) }
            guard state.lines < limit else { return (.dropped, nil) }
            line.withUnsafeBytes { _ = state.pending.writeBytes($0) }
            state.pending.writeInteger(UInt8(ascii: "\n"))
            state.lines += 1
            guard let waiter = state.waiter else { return (.enqueued, nil) }
            state.waiter = nil
            return (.enqueued, (waiter, state.takePending()))
        }
        if let (waiter, batch) = resume { waiter.resume(returning: batch) }
        return result
    }

    /// No more lines: the writer gets what is pending, then the end.
    public func finish() {
        let (waiter, handlers) = state.withLock { state -> (CheckedContinuation<ByteBuffer?, Never>?, [@Sendable () -> Void]) in
            guard !state.finished && !state.cancelled else { return (nil, []) }
            state.finished = true
            defer { state.waiter = nil; state.onTermination = [] }
            return (state.waiter, state.onTermination)
        }
        waiter?.resume(returning: nil)
        for handler in handlers { handler() }
    }

    /// The writer is gone (its client, or it stopped reading): the pending lines are dropped.
    public func cancel() {
        let (waiter, handlers) = state.withLock { state -> (CheckedContinuation<ByteBuffer?, Never>?, [@Sendable () -> Void]) in
            guard !state.cancelled else { return (nil, []) }
            let wasFinished = state.finished
            state.cancelled = true
            state.pending = ByteBuffer()
            state.lines = 0
            defer { state.waiter = nil; state.onTermination = [] }
            return (state.waiter, wasFinished ? [] : state.onTermination)
        }
        waiter?.resume(returning: nil)
        for handler in handlers { handler() }
    }

    /// Runs `handler` once when the watch ends (finished or cancelled); at once if it has.
    public func onTermination(_ handler: @escaping @Sendable () -> Void) {
        let ended = state.withLock { state in
            if state.finished || state.cancelled { return true }
            state.onTermination.append(handler)
            return false
        }
        if ended { handler() }
    }

    /// The lines waiting, as one buffer; waits for some when there are none. Nil at the end.
    func next() async -> ByteBuffer? {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<ByteBuffer?, Never>) in
                let batch: ByteBuffer?? = state.withLock { state in
                    if state.cancelled { return .some(nil) }
                    if state.lines > 0 { return .some(state.takePending()) }
                    if state.finished { return .some(nil) }
                    state.waiter = continuation
                    return .none
                }
                if case let .some(batch) = batch { continuation.resume(returning: batch) }
            }
        } onCancel: {
            cancel()
        }
    }
}

/// A watch's lines as its writer reads them: batches of newline-terminated lines. Dropping the
/// sequence (every copy of it) without reading it to its end cancels the watch.
public struct WatchLines: AsyncSequence, Sendable {
    public typealias Element = ByteBuffer

    /// Cancels the queue when the last copy of the sequence goes.
    final class Reader: Sendable {
        let queue: WatchQueue
        init(_ queue: WatchQueue) { self.queue = queue }
        deinit { queue.cancel() }
    }

    let reader: Reader
    public var queue: WatchQueue { reader.queue }

    public init(_ queue: WatchQueue) { reader = Reader(queue) }

    /// A watch of these lines only, ended.
    public init(lines: [Data]) {
        let queue = WatchQueue(limit: Swift.max(1, lines.count))
        for line in lines { queue.yield(line) }
        queue.finish()
        self.init(queue)
    }

    /// Ends the watch after `duration` (`timeoutSeconds`), as the API server ends it.
    public func ending(after duration: Duration) -> WatchLines {
        let queue = self.queue
        let timer = Task {
            try? await Task.sleep(for: duration)
            if !Task.isCancelled { queue.finish() }
        }
        queue.onTermination { timer.cancel() }
        return self
    }

    public struct AsyncIterator: AsyncIteratorProtocol {
        let reader: Reader
        public mutating func next() async -> ByteBuffer? { await reader.queue.next() }
    }

    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(reader: reader) }

    /// A watch write's lines (each ending in a newline), each replaced by what `transform` makes
    /// of it (without its newline), or left out where it gives nil. An empty result sends nothing
    /// (NIO frames no empty chunk, which would end the body).
    static func eachLine(of batch: ByteBuffer, _ transform: (ByteBuffer) -> ByteBuffer?) -> ByteBuffer {
        var result = ByteBuffer()
        var rest = batch
        while rest.readableBytes > 0 {
            let length = rest.readableBytesView.firstIndex(of: UInt8(ascii: "\n")).map { $0 - rest.readerIndex } ?? rest.readableBytes
            guard let line = rest.readSlice(length: length) else { break }
            rest.moveReaderIndex(forwardBy: Swift.min(1, rest.readableBytes))
            guard !line.readableBytesView.isEmpty, var written = transform(line) else { continue }
            result.writeBuffer(&written)
            result.writeString("\n")
        }
        return result
    }
}
