import Foundation
import KernelTestSupport
import Netns
import PodNet
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// `pods/log` with `follow` to a client that stops reading: the agent reads the log only as fast
/// as the client takes it, so a container writing far faster than its reader costs the agent
/// no memory.
@Suite("pods/log back-pressure against a lab", .enabled(if: KernelTest.isRoot, KernelTest.rootRequired), .rootNamespaceUnchanged)
struct LogBackPressureTests {
    static let line = "0123456789012345678901234567890123456789"
    /// What the container writes in all, so that a test on a fast machine stays within a
    /// known amount of disk.
    static let writtenAtMost = 768 << 20
    /// What the container must write while the readers are stalled: far more than the growth
    /// the agent is allowed.
    static let writtenWhileStalled = 192 << 20
    static let allowedGrowthKilobytes = 64 << 10

    /// A pod printing as fast as it can (after a moment's sleep, so that readers are following
    /// before the flood begins); returns its log file.
    static func startChatty(_ lab: TestLab) async throws -> String {
        try lab.run(["run", "chatty", "--image", "busybox", "--restart=Never", "--", "sh", "-c",
                     "sleep 2; yes \(line) | head -c \(writtenAtMost); sleep 3600"])
        let uid = try #require((try lab.pod("chatty")["metadata"] as? [String: Any])?["uid"] as? String)
        let log = "\(lab.stateDirectory)/logs/default_chatty_\(uid.prefix(8))/chatty/0.log"
        try await lab.eventually("chatty's log exists") { FileManager.default.fileExists(atPath: log) }
        return log
    }

    /// Waits while the readers are stalled until the container wrote `writtenWhileStalled` more,
    /// bounded by what it writes, not by time (the deadline is only for a container that
    /// stopped writing); returns what it wrote and the peak resident memory of each process.
    static func whileStalled(log: String, watching processes: [Int32]) async throws -> (written: Int, peaks: [Int]) {
        let stalledAt = try fileSize(log)
        #expect(stalledAt + writtenWhileStalled <= writtenAtMost,
                "the container wrote \(stalledAt >> 20) MB before the readers stalled: too little left to write while they are")
        var peaks = processes.map { TestLab.residentKilobytes($0) ?? 0 }
        let deadline = ContinuousClock.now + .seconds(300)
        var written = stalledAt
        repeat {
            try await Task.sleep(for: .milliseconds(200))
            peaks = zip(peaks, processes).map { max($0, TestLab.residentKilobytes($1) ?? 0) }
            written = try fileSize(log)
        } while written < min(stalledAt + writtenWhileStalled, writtenAtMost) && ContinuousClock.now < deadline
        #expect(written - stalledAt >= writtenWhileStalled, "the container wrote only \((written - stalledAt) >> 20) MB while the readers were stalled")
        return (written - stalledAt, peaks)
    }

    @Test("stalled followers of a container printing as fast as it can (pods/log with and without times, attach): the agent's memory stays flat, and they then read the log as written")
    func stalledFollower() async throws {
        try await TestLab.with { lab in
            let agent = try #require(lab.agentPID)
            let log = try await Self.startChatty(lab)
            let baseline = try #require(TestLab.residentKilobytes(agent))

            // Two followers, one without times and one with: each reads a little and stops.
            let path = "/api/v1/namespaces/default/pods/chatty/log?follow=true"
            var followers: [(connection: RawAPIConnection, received: [UInt8])] = []
            for query in ["", "&timestamps=true"] {
                let connection = try RawAPIConnection(socket: lab.agentSocket, receiveTimeout: 30)
                connection.send(TestLab.request("GET", path + query))
                followers.append((connection, connection.readUntilClosed(limit: 64 << 10)))
            }
            // And an attach (the container has neither stdin nor tty: its log from now on, in frames).
            let attach = try RawAPIConnection(socket: lab.agentSocket, receiveTimeout: 30)
            attach.send(TestLab.request("POST", "/api/v1/namespaces/default/pods/chatty/attach?stdout=true&stderr=true", body: ""))
            followers.append((attach, attach.readUntilClosed(limit: 64 << 10)))
            let stall = try await Self.whileStalled(log: log, watching: [agent])
            let peak = stall.peaks[0]
            print("""
                stalled followers: the container wrote \(stall.written >> 20) MB while they read nothing; \
                agent RSS baseline \(baseline) kB, peak \(peak) kB (+\((peak - baseline) >> 10) MB)
                """)
            #expect(peak - baseline < Self.allowedGrowthKilobytes,
                    "the agent grew by \((peak - baseline) >> 10) MB while its followers read nothing and the container wrote \(stall.written >> 20) MB")

            // Then they read on: the log as written, from its beginning, nothing lost or doubled.
            let contents = try #require(FileManager.default.contents(atPath: log))
            for index in followers.indices {
                followers[index].received += followers[index].connection.readUntilClosed(limit: 16 << 20)
            }
            let plain = try Self.answerBody(followers[0].received)
            #expect(plain.count >= 8 << 20, "the follower without times read only \(plain.count) bytes after the stall")
            #expect(plain.count <= contents.count && plain.elementsEqual(contents.prefix(plain.count)),
                    "the \(plain.count) bytes read are not the log's first \(plain.count) bytes")

            let stamped = try Self.answerBody(followers[1].received)
            let lines = stamped.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).dropLast()
            #expect(lines.count >= (4 << 20) / (Self.line.count + 32), "the follower with times read only \(lines.count) lines after the stall")
            var previous = ""
            var badLines = 0
            for (number, line) in lines.enumerated() {
                let text = String(decoding: line, as: UTF8.self)
                let stamp = String(text.prefix(30))
                if text.count != 31 + Self.line.count || !text.hasSuffix(" " + Self.line) || !stamp.hasSuffix("Z") || stamp < previous {
                    badLines += 1
                    if badLines <= 3 { Issue.record("line \(number + 1): \(text.prefix(120))") }
                }
                previous = stamp
            }
            #expect(badLines == 0, "\(badLines) of \(lines.count) stamped lines are not a stamp and the line written, in order")

            // The attach's frames: the lines as written from where it began (maybe mid-line).
            var decoder = StreamFrameDecoder()
            decoder.append(try Self.answerBody(followers[2].received))
            var attached: [UInt8] = []
            while let frame = try decoder.next() {
                if frame.channel == .stdout { attached += frame.payload }
            }
            let attachedLines = attached.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).dropFirst().dropLast()
            #expect(attachedLines.count >= (4 << 20) / (Self.line.count + 1), "the attach read only \(attachedLines.count) whole lines after the stall")
            #expect(attachedLines.allSatisfy { $0.elementsEqual(Self.line.utf8) }, "the attach's lines are not the lines written")
        }
    }

    /// A kubectl that speaks SPDY for attach and exec (before 1.30, which has WebSockets).
    static let spdyKubectl = KubectlBinary.found.first { binary in
        let parts = binary.version.dropFirst().split(separator: ".")
        return parts.count > 1 && Int(parts[0]) == 1 && (Int(parts[1]) ?? 99) < 30
    }

    @Test("kubectl attach over SPDY with its output in a pipe nobody reads: the agent holds none of what the container writes meanwhile",
          .enabled(if: spdyKubectl != nil, "no kubectl before 1.30 on this machine: scripts/install-deps installs Debian's kubernetes-client 1.20"))
    func stalledSPDYAttach() async throws {
        let binary = try #require(Self.spdyKubectl)
        try await TestLab.with { lab in
            let kubectl = try KubectlTests.kubectl(binary, for: lab)
            defer { try? FileManager.default.removeItem(atPath: kubectl.cacheDirectory) }
            let agent = try #require(lab.agentPID)
            let log = try await Self.startChatty(lab)
            let baseline = try #require(TestLab.residentKilobytes(agent))
            // kubectl's stdout is a pipe this test never reads: once its 64 KiB are full, kubectl
            // stops reading the connection.
            var ends: [Int32] = [0, 0]
            #expect(pipe(&ends) == 0)
            defer { close(ends[0]) }
            let attach = try Spawner.spawn(SpawnRequest(
                executable: binary.path, arguments: ["--cache-dir", kubectl.cacheDirectory, "attach", "chatty"],
                environment: ["PATH": Spawner.defaultPath, "KUBECONFIG": kubectl.kubeconfig, "HOME": kubectl.cacheDirectory],
                stdin: .null, stdout: .fd(ends[1]), stderr: .null, newSession: true))
            close(ends[1])
            defer {
                try? attach.signal(SIGKILL, group: true)
                _ = try? attach.wait()
            }
            let stall = try await Self.whileStalled(log: log, watching: [agent])
            print("""
                kubectl \(binary.version) attach (SPDY) stalled: the container wrote \(stall.written >> 20) MB; \
                agent RSS baseline \(baseline) kB, peak \(stall.peaks[0]) kB (+\((stall.peaks[0] - baseline) >> 10) MB)
                """)
            #expect(stall.peaks[0] - baseline < Self.allowedGrowthKilobytes,
                    "the agent grew by \((stall.peaks[0] - baseline) >> 10) MB while kubectl read nothing and the container wrote \(stall.written >> 20) MB")
            // What kubectl got before it stalled is the container's lines.
            // (Waiting 30 s at most: a kubectl that never wrote would otherwise hold the test.)
            var buffer = [UInt8](repeating: 0, count: 4096)
            var readable = pollfd(fd: ends[0], events: Int16(POLLIN), revents: 0)
            let got = poll(&readable, 1, 30_000) > 0 ? Glibc.read(ends[0], &buffer, buffer.count) : -1
            #expect(got > 0 && String(decoding: buffer[0..<max(got, 0)], as: UTF8.self).contains(Self.line), "kubectl attach wrote nothing of the container's")
        }
    }

    @Test("podlab logs -f into a pipe nobody reads: neither the CLI nor the agent holds what the container writes meanwhile; then the pipe gets the log as written")
    func stalledPipe() async throws {
        try await TestLab.with { lab in
            let agent = try #require(lab.agentPID)
            let log = try await Self.startChatty(lab)
            let follower = Process()
            follower.executableURL = URL(fileURLWithPath: lab.podlab)
            follower.arguments = ["logs", "-f", "chatty"]
            follower.environment = lab.environment
            let pipe = Pipe()
            follower.standardOutput = pipe
            follower.standardError = FileHandle.nullDevice
            try follower.run()
            let pid = follower.processIdentifier
            // A follower that stops writing would leave the reads below waiting: ended, its pipe closes.
            let watchdog = Task {
                try await Task.sleep(for: .seconds(300))
                if follower.isRunning { kill(pid, SIGKILL) }
            }
            defer {
                watchdog.cancel()
                if follower.isRunning { kill(pid, SIGKILL) }
                follower.waitUntilExit()
            }
            var received = try Self.read(pipe, atLeast: 64 << 10)
            let baselines = [TestLab.residentKilobytes(agent) ?? 0, TestLab.residentKilobytes(pid) ?? 0]
            let stall = try await Self.whileStalled(log: log, watching: [agent, pid])
            print("""
                a stalled pipe: the container wrote \(stall.written >> 20) MB while it was not read; \
                agent RSS \(baselines[0]) → \(stall.peaks[0]) kB, CLI RSS \(baselines[1]) → \(stall.peaks[1]) kB
                """)
            for (name, index) in [("agent", 0), ("CLI", 1)] {
                #expect(stall.peaks[index] - baselines[index] < Self.allowedGrowthKilobytes,
                        "the \(name) grew by \((stall.peaks[index] - baselines[index]) >> 10) MB while the pipe was not read and the container wrote \(stall.written >> 20) MB")
            }
            received += try Self.read(pipe, atLeast: 8 << 20)
            let contents = try #require(FileManager.default.contents(atPath: log))
            #expect(received.count <= contents.count && received.elementsEqual(contents.prefix(received.count)),
                    "the \(received.count) bytes read are not the log's first \(received.count) bytes")
        }
    }

    /// At least `count` bytes from the pipe (fewer only if it ends).
    static func read(_ pipe: Pipe, atLeast count: Int) throws -> [UInt8] {
        var bytes: [UInt8] = []
        while bytes.count < count, let data = try pipe.fileHandleForReading.read(upToCount: 1 << 20), !data.isEmpty {
            bytes += data
        }
        return bytes
    }

    static func fileSize(_ path: String) throws -> Int {
        try (FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber)?.intValue ?? 0
    }

    /// The body of a chunked HTTP answer, as far as `bytes` hold whole chunks.
    static func answerBody(_ bytes: [UInt8]) throws -> [UInt8] {
        let separator = Array("\r\n\r\n".utf8)
        guard let headEnd = bytes.firstRange(of: separator) else { throw RawAPIError("no answer head in \(bytes.count) bytes") }
        let head = String(decoding: bytes[..<headEnd.lowerBound], as: UTF8.self)
        guard head.hasPrefix("HTTP/1.1 200"), head.lowercased().contains("transfer-encoding: chunked") else {
            throw RawAPIError("not a chunked 200: \(head)")
        }
        var body: [UInt8] = []
        var offset = headEnd.upperBound
        let lineEnd = Array("\r\n".utf8)
        while let sizeEnd = bytes[offset...].firstRange(of: lineEnd),
              let size = Int(String(decoding: bytes[offset..<sizeEnd.lowerBound], as: UTF8.self), radix: 16), size > 0,
              sizeEnd.upperBound + size + 2 <= bytes.count {
            body += bytes[sizeEnd.upperBound..<(sizeEnd.upperBound + size)]
            offset = sizeEnd.upperBound + size + 2
        }
        return body
    }
}
