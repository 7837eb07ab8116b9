import Foundation
import PodNet
#if canImport(Glibc)
import Glibc
#endif

extension Controller {
    /// A container's log: the current run (or the previous one), optionally the last N lines,
    /// optionally followed until that run's process ends.
    public func podLog(namespace: String, name: String, options: LogOptions) async throws -> AsyncThrowingStream<Data, any Error> {
        let pod = try pod(namespace, name)
        let names = pod.spec.containers.map(\.name)
        let containerName: String
        // The API server's choice (`validateContainer` of the pod log REST handler): the one
        // asked for, which may be an init container, else the only app container.
        if let requested = options.container {
            guard pod.spec.container(named: requested) != nil else {
                throw APIStatus.badRequest("container \(requested) is not valid for pod \(name)")
            }
            containerName = requested
        } else if names.count == 1 {
            containerName = names[0]
        } else {
            var message = "a container name must be specified for pod \(name), choose one of: [\(names.joined(separator: " "))]"
            if !pod.spec.initContainers.isEmpty {
                message += " or one of the init containers: [\(pod.spec.initContainers.map(\.name).joined(separator: " "))]"
            }
            throw APIStatus.badRequest(message)
        }
        guard let status = pod.status[container: containerName] else {
            throw APIStatus.badRequest("container \(containerName) is not valid for pod \(name)")
        }
        var run = Int(status.restartCount)
        if options.previous {
            guard run > 0 || status.lastState.terminated != nil, run > 0 else {
                throw APIStatus.badRequest("previous terminated container \"\(containerName)\" in pod \"\(name)\" not found")
            }
            run -= 1
        }
        let path = paths.containerLog(namespace: namespace, name: name, uid: pod.metadata.uid, container: containerName, restart: run)
        guard FileManager.default.fileExists(atPath: path) else {
            // The kubelet's words (`validateContainerLogStatus`) for the common waiting reasons.
            let reason = switch status.state.waiting?.reason ?? ContainerReason.containerCreating {
            case ContainerReason.errImagePull: "image can't be pulled"
            case ContainerReason.imagePullBackOff: "trying and failing to pull image"
            case let other: other
            }
            throw APIStatus.badRequest("container \"\(containerName)\" in pod \"\(name)\" is waiting to start: \(reason)")
        }
        let uid = pod.metadata.uid
        let follow = options.follow && !options.previous
        let tail = options.tailLines
        let currentRun = run
        return AsyncThrowingStream { continuation in
            let task = Task.detached {
                let fd = open(path, O_RDONLY | O_CLOEXEC)
                guard fd >= 0 else {
                    continuation.finish(throwing: APIStatus.internalError("cannot open the log of \(containerName): \(String(cString: strerror(errno)))"))
                    return
                }
                defer { close(fd) }
                if let tail {
                    continuation.yield(Controller.lastLines(fd: fd, count: tail))
                }
                var buffer = [UInt8](repeating: 0, count: 64 * 1024)
                while !Task.isCancelled {
                    let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
                    if n > 0 {
                        continuation.yield(Data(buffer[0..<n]))
                        continue
                    }
                    guard follow, await self.isRunning(uid: uid, container: containerName, run: currentRun) else { break }
                    try? await Task.sleep(for: .milliseconds(100))
                }
                // Whatever the process wrote last, after it ended.
                while true {
                    let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
                    if n <= 0 { break }
                    continuation.yield(Data(buffer[0..<n]))
                }
                continuation.finish()
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }

    /// True while run number `run` of the container is the live process.
    func isRunning(uid: String, container: String, run: Int) -> Bool {
        guard let runtime = runtimes[uid], !runtime.deleting,
              let pod = pods.values.first(where: { $0.metadata.uid == uid }),
              let status = pod.status[container: container] else { return false }
        return Int(status.restartCount) == run && (runtime.processes[container] != nil || PodInitialization.awaitsFirstStart(status))
    }

    /// The last `count` lines of a file; leaves the fd at the end.
    static func lastLines(fd: Int32, count: Int) -> Data {
        let size = lseek(fd, 0, SEEK_END)
        let window = min(Int(size), 4 << 20)
        lseek(fd, off_t(Int(size) - window), SEEK_SET)
        var buffer = [UInt8](repeating: 0, count: window)
        var total = 0
        while total < window {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress! + total, window - total) }
            if n <= 0 { break }
            total += n
        }
        var lines = buffer[0..<total].split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
        if lines.last?.isEmpty == true { lines.removeLast() }
        let kept = lines.suffix(max(count, 0))
        var result = Data()
        for line in kept {
            result.append(contentsOf: line)
            result.append(UInt8(ascii: "\n"))
        }
        return result
    }
}
