import Foundation
import PodNet
#if canImport(Glibc)
import Glibc
#endif

extension Controller {
    /// A container's log: the current run (or the previous one), optionally the last N lines,
    /// optionally followed until that run's process ends.
    public func podLog(namespace: String, name: String, options: LogOptions) async throws -> AsyncThrowingStream<Data, any Error> {
        try logReader(namespace: namespace, name: name, options: options).stream
    }

    /// The reader of a container's log that `options` ask for; throws the Status to answer
    /// when there is none.
    func logReader(namespace: String, name: String, options: LogOptions) throws -> ContainerLogReader {
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
        let currentRun = run
        return ContainerLogReader(path: path, containerName: containerName, tailLines: options.tailLines, times: options.times,
                                  follow: options.follow && !options.previous, logTimes: logTimes,
                                  isRunning: { await self.isRunning(uid: uid, container: containerName, run: currentRun) })
    }

    /// True while run number `run` of the container is the live process.
    func isRunning(uid: String, container: String, run: Int) -> Bool {
        guard let runtime = runtimes[uid], !runtime.deleting,
              let pod = pods.values.first(where: { $0.metadata.uid == uid }),
              let status = pod.status[container: container] else { return false }
        return Int(status.restartCount) == run && (runtime.processes[container] != nil || PodInitialization.awaitsFirstStart(status))
    }
}

/// A log read with its lines' times (`LogLineSelection` over the index `LogTimeRecorder` writes):
/// the index is read on as the log is, so a followed log costs a read of its new marks only.
final class LogLineReader {
    private let logFD: Int32
    private let index: Int32
    private var times = ContainerLogTimes()
    private var selection: LogLineSelection
    private var indexRead = 0

    init(logFD: Int32, indexPath: String, options: PodLogTimeOptions) {
        self.logFD = logFD
        index = open(indexPath, O_RDONLY | O_CLOEXEC)
        selection = LogLineSelection(since: options.since, timestamps: options.timestamps)
        readMarks()
    }

    deinit { if index >= 0 { close(index) } }

    /// Where to start reading for `since`: the beginning of the line that holds the first byte
    /// that may be new enough.
    func startOffset() -> Int {
        guard let since = selection.since else { return 0 }
        var offset = Int(times.offset(since: since))
        // Back to the line's beginning, a block at a time.
        var block = [UInt8](repeating: 0, count: 4096)
        while offset > 0 {
            let from = max(0, offset - block.count)
            let n = block.withUnsafeMutableBytes { pread(logFD, $0.baseAddress, offset - from, off_t(from)) }
            guard n == offset - from else { return 0 }
            if let newline = block[0..<n].lastIndex(of: UInt8(ascii: "\n")) { return from + newline + 1 }
            offset = from
        }
        return 0
    }

    /// The whole lines of `bytes` (read up to file offset `end`), selected and stamped.
    func lines(_ bytes: [UInt8], endingAt end: UInt64) -> [UInt8] {
        if times.coveredEnd < end { readMarks() }
        return selection.feed(bytes, endingAt: end, times: times, fallback: modificationTime())
    }

    /// A last line without its newline.
    func finish() -> [UInt8] {
        let time = times.coveredEnd >= UInt64(lseek(logFD, 0, SEEK_CUR)) ? (times.marks.last?.nanoseconds ?? modificationTime()) : modificationTime()
        return selection.finish(time: time)
    }

    private func readMarks() {
        guard index >= 0 else { return }
        var info = stat()
        guard fstat(index, &info) == 0 else { return }
        let whole = Int(info.st_size) / LogTimeMark.encodedSize * LogTimeMark.encodedSize
        guard whole > indexRead else { return }
        var bytes = [UInt8](repeating: 0, count: whole - indexRead)
        let n = bytes.withUnsafeMutableBytes { pread(index, $0.baseAddress, $0.count, off_t(indexRead)) }
        guard n == bytes.count else { return }
        times.append(contentsOf: LogTimeMark.decode(bytes))
        indexRead = whole
    }

    /// The log's modification time: the time of lines no mark covers (written while no agent ran).
    private func modificationTime() -> Int64 {
        var info = stat()
        guard fstat(logFD, &info) == 0 else { return 0 }
        return Int64(info.st_mtim.tv_sec) * 1_000_000_000 + Int64(info.st_mtim.tv_nsec)
    }
}
