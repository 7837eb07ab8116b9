#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Netns
import PodNet

extension Controller {
    /// `GET /podlab/v1/mesh/metrics[?namespace=NS]`: every meshed pod's sidecar metrics
    /// (`MeshMetricsScrape`), read inside the pod's network namespace from 127.0.0.1:15090 as
    /// port-forward connects (`PodPort`): nothing is sent from the host's namespace, and the
    /// capture rules pass the proxy's own ports by. All pods at once; each may take
    /// `MeshMetricsReader.timeoutSeconds`.
    public func meshMetrics(namespace: String?) async throws -> Data {
        let targets = pods.values
            .filter { (namespace == nil || $0.metadata.namespace == namespace) && MeshCaptureRules.forPod($0) != nil }
            .sorted { ($0.metadata.namespace, $0.metadata.name) < ($1.metadata.namespace, $1.metadata.name) }
            .map { pod -> (namespace: String, name: String, netns: String?) in
                let runtime = runtimes[pod.metadata.uid]
                return (pod.metadata.namespace, pod.metadata.name, runtime?.deleting == false ? runtime?.sandbox.netns : nil)
            }
        let scraped = await withTaskGroup(of: (Int, MeshMetricsScrape.Pod).self) { group in
            for (index, target) in targets.enumerated() {
                group.addTask {
                    guard let netns = target.netns else {
                        return (index, MeshMetricsScrape.Pod(namespace: target.namespace, name: target.name, error: "no running sandbox"))
                    }
                    do {
                        let text = try await MeshMetricsReader.read(netns: netns, port: MeshProxy.metricsPort)
                        return (index, MeshMetricsScrape.Pod(namespace: target.namespace, name: target.name, metrics: text))
                    } catch {
                        return (index, MeshMetricsScrape.Pod(namespace: target.namespace, name: target.name, error: "\(error)"))
                    }
                }
            }
            var results: [(Int, MeshMetricsScrape.Pod)] = []
            for await result in group { results.append(result) }
            return results.sorted { $0.0 < $1.0 }.map(\.1)
        }
        return try Controller.encode(MeshMetricsScrape(pods: scraped))
    }
}

/// One `GET /metrics` from a sidecar, over a connection made inside its pod.
enum MeshMetricsReader {
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    static let timeoutSeconds = 2

    /// The body of `GET /metrics` (HTTP/1.0: the sidecar closes after the answer), read on a
    /// plain thread with a receive and send timeout.
    static func read(netns: String, port: UInt16) async throws -> String {
        let fd = try await PodPort.connect(netns: netns, port: port)
        let answer: Result<[UInt8], Failure> = await withCheckedContinuation { done in
            PlainThread.detachOrRunHere(name: "mesh-metrics") {
                defer { close(fd) }
                var timeout = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
                _ = setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
                _ = setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
                let request = Array("GET /metrics HTTP/1.0\r\nHost: 127.0.0.1:\(port)\r\n\r\n".utf8)
                let sent = request.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                guard sent == request.count else {
                    return done.resume(returning: .failure(Failure(description: "sending to 127.0.0.1:\(port): \(String(cString: strerror(errno)))")))
                }
                var bytes: [UInt8] = []
                var buffer = [UInt8](repeating: 0, count: 65_536)
                while true {
                    let count = recv(fd, &buffer, buffer.count, 0)
                    if count > 0 {
                        bytes += buffer[0..<count]
                    } else if count == 0 {
                        break
                    } else if errno == EINTR {
                        continue
                    } else {
                        let reason = errno == EAGAIN ? "no answer in \(timeoutSeconds)s" : String(cString: strerror(errno))
                        return done.resume(returning: .failure(Failure(description: "reading 127.0.0.1:\(port)/metrics: \(reason)")))
                    }
                }
                done.resume(returning: .success(bytes))
            }
        }
        return try body(of: answer.get(), port: port)
    }

    /// The body of a `200` answer.
    static func body(of bytes: [UInt8], port: UInt16) throws -> String {
        let text = String(decoding: bytes, as: UTF8.self)
        guard let end = text.range(of: "\r\n\r\n") else { throw Failure(description: "127.0.0.1:\(port)/metrics: no HTTP answer") }
        let statusLine = text[..<end.lowerBound].prefix { $0 != "\r\n" && $0 != "\n" }
        guard statusLine.split(separator: " ").dropFirst().first == "200" else {
            throw Failure(description: "127.0.0.1:\(port)/metrics answered \"\(statusLine)\"")
        }
        return String(text[end.upperBound...])
    }
}
