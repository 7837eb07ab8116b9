#if canImport(Glibc)
import Glibc
#endif
import AsyncHTTPClient
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
        if access(paths.socket, F_OK) != 0 {
            throw APIError.unreachable(lab: paths.lab, socket: paths.socket, reason: "no socket")
        }
        guard let url = URL(httpURLWithSocketPath: paths.socket, uri: ProbeBatch.path + "?stream=true") else {
            throw APIError.unreachable(lab: paths.lab, socket: paths.socket, reason: "the socket path cannot be used in a URL")
        }
        var request = HTTPClientRequest(url: url.absoluteString)
        request.method = .POST
        request.headers.add(name: "Accept", value: "application/json")
        request.headers.add(name: "User-Agent", value: "podlab")
        request.headers.add(name: "Content-Type", value: "application/json")
        request.body = .bytes(ByteBuffer(bytes: try JSONEncoder().encode(ProbeBatch(probes: probes))))
        let nanoseconds = timeout.components.seconds * 1_000_000_000 + timeout.components.attoseconds / 1_000_000_000
        let response: HTTPClientResponse
        do {
            response = try await APIClient.http.execute(request, timeout: .nanoseconds(nanoseconds))
        } catch let error as HTTPClientError where error == .deadlineExceeded {
            throw APIError.timeout(lab: paths.lab, what: "POST \(ProbeBatch.path)")
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            throw APIError.unreachable(lab: paths.lab, socket: paths.socket, reason: APIClient.describe(error))
        }
        let status = Int(response.status.code)
        guard (200..<300).contains(status) else {
            var collected = Data()
            for try await chunk in response.body { collected.append(contentsOf: chunk.readableBytesView) }
            throw APIError.from(code: status, body: collected)
        }
        let body = response.body
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
