import Foundation
import NIOCore
import NIOHTTP1
import PodNet

/// `POST /podlab/v1/probes?stream=true&format=compact`: one request for a whole batch (its
/// probes in `CompactProbes` lines), whose results come back in lines as the probes finish —
/// so `podlab test` shows true progress without cutting the matrix into smaller, slower batches.
enum ProbeStream {
    /// Sends `probes`; throws the agent's refusal (a 400 or 403 `Status`) before any result,
    /// then hands out the result lines as they arrive. The stream fails if it ends before the
    /// agent said `done`.
    static func results(_ probes: [ProbeRequest], paths: LabPaths, timeout: Duration) async throws
        -> AsyncThrowingStream<ProbeStreamLine, any Error> {
        var text: [UInt8] = []
        text.reserveCapacity(probes.count * 64)
        for probe in probes { CompactProbes.append(probe, to: &text) }
        let body = try await APIClient(paths: paths).stream(.POST, ProbeBatch.path, query: [("stream", "true"), ("format", CompactProbes.format)],
                                                           body: Data(text), timeout: timeout)
        let lab = paths.lab
        return AsyncThrowingStream { continuation in
            let task = Task {
                var reader = Reader()
                do {
                    for try await chunk in body {
                        if let line = try reader.read(chunk.readableBytesView) { continuation.yield(line) }
                    }
                    guard reader.done else { throw APIError.interrupted(lab: lab, reason: "the agent ended the answer before every probe had finished") }
                    continuation.finish()
                } catch let error as APIError {
                    continuation.finish(throwing: error)
                } catch {
                    continuation.finish(throwing: APIError.interrupted(lab: lab, reason: "\(error)"))
                }
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }

    /// Reads the answer's `CompactProbes` lines as its chunks arrive, each chunk's complete lines
    /// gathered into one `ProbeStreamLine`.
    struct Reader {
        private var pending: [UInt8] = []
        /// Where the search for the next newline goes on: the bytes before it have none.
        private var scanned = 0
        private var lineNumber = 0
        private(set) var done = false

        /// The results of the lines that `bytes` completes, or nil when it completes none.
        mutating func read<Bytes: Collection<UInt8>>(_ bytes: Bytes) throws -> ProbeStreamLine? {
            pending.append(contentsOf: bytes)
            var gathered = ProbeStreamLine(results: [])
            var start = 0, any = false
            while let newline = pending[scanned...].firstIndex(of: UInt8(ascii: "\n")) {
                let line = pending[start..<newline]
                start = newline + 1
                scanned = start
                lineNumber += 1
                guard !line.isEmpty else { continue }
                any = true
                let decoded: CompactProbes.Line
                do { decoded = try CompactProbes.decode(line, number: lineNumber) } catch {
                    throw APIError.malformed(what: ProbeBatch.path, reason: "\(error)")
                }
                switch decoded {
                case let .result(entry):
                    gathered.results.append(entry)
                case let .done(elapsedMillis, timings):
                    done = true
                    gathered.done = true
                    gathered.elapsedMillis = elapsedMillis
                    gathered.timings = timings
                }
            }
            if start > 0 { pending.removeSubrange(..<start) }
            scanned = pending.count
            return any ? gathered : nil
        }
    }
}
