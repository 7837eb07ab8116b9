import Foundation
import NIOCore
import NIOHTTP1
import PodNet

/// `POST /podlab/v1/probes?stream=true`: one request for a whole batch, whose results come
/// back in lines as the probes finish — so `podlab test` shows true progress without cutting
/// the matrix into smaller, slower batches.
enum ProbeStream {
    /// Sends `probes`; throws the agent's refusal (a 400 or 403 `Status`) before any result,
    /// then hands out the result lines as they arrive. The stream fails if it ends before the
    /// agent said `done`.
    static func results(_ probes: [ProbeRequest], paths: LabPaths, timeout: Duration) async throws
        -> AsyncThrowingStream<ProbeStreamLine, any Error> {
        let body = try await APIClient(paths: paths).stream(.POST, ProbeBatch.path, query: [("stream", "true")],
                                                           body: try JSONEncoder().encode(ProbeBatch(probes: probes)), timeout: timeout)
        let lab = paths.lab
        return AsyncThrowingStream { continuation in
            let task = Task {
                let decoder = JSONDecoder()
                var pending: [UInt8] = []
                var done = false
                do {
                    for try await chunk in body {
                        pending.append(contentsOf: chunk.readableBytesView)
                        while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                            let line = Data(pending[..<newline])
                            pending.removeSubrange(...newline)
                            guard !line.isEmpty else { continue }
                            let decoded: ProbeStreamLine
                            do { decoded = try decoder.decode(ProbeStreamLine.self, from: line) } catch {
                                throw APIError.malformed(what: ProbeBatch.path, reason: "\(error)")
                            }
                            if decoded.done == true { done = true }
                            continuation.yield(decoded)
                        }
                    }
                    guard done else { throw APIError.interrupted(lab: lab, reason: "the agent ended the answer before every probe had finished") }
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
}
