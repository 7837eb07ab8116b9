import Foundation
import KernelTestSupport
import Netns
import Testing

/// Reads a whole small file (a child's redirected output).
func contents(_ path: String) -> String { (try? String(contentsOfFile: path, encoding: .utf8)) ?? "" }

/// A scratch directory removed when the test ends.
struct Scratch: ~Copyable {
    let path: String
    init() throws {
        path = NSTemporaryDirectory() + "podlab-test-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }
    deinit { try? FileManager.default.removeItem(atPath: path) }
    func file(_ name: String) -> String { path + "/" + name }
}

@Suite("Spawning processes in namespaces", .enabled(if: KernelTest.isRoot, KernelTest.rootRequired), .rootNamespaceUnchanged)
struct SpawnTests {
    @Test("a spawned child runs in the target network namespace")
    func childInNamespace() throws {
        let scratch = try Scratch()
        try KernelTest.withNamespacesSync(1) { namespaces in
            let ns = namespaces[0]
            let out = scratch.file("out")
            let child = try Spawner.spawn(SpawnRequest(executable: "readlink", arguments: ["/proc/self/ns/net"],
                                                       stdout: .file(out), networkNamespace: ns.name))
            #expect(try child.wait() == .exited(0))
            #expect(contents(out).trimmingCharacters(in: .whitespacesAndNewlines) == "net:[\(try ns.inode())]")
        }
    }

    @Test("a child is PID 1 of a new pid namespace; another is born in that namespace by its path; the worker's next children are the host's again")
    func pidNamespaces() throws {
        let scratch = try Scratch()
        func nsPIDs(_ pid: Int32) -> String {
            contents("/proc/\(pid)/status").split(separator: "\n").first { $0.hasPrefix("NSpid:") }.map(String.init) ?? ""
        }
        let first = try Spawner.spawn(SpawnRequest(executable: "/bin/sleep", arguments: ["30"], newPidNamespace: true))
        defer { try? first.signal(SIGKILL); _ = try? first.wait() }
        #expect(nsPIDs(first.pid) == "NSpid:\t\(first.pid)\t1")
        let namespace = "/proc/\(first.pid)/ns/pid"
        let out = scratch.file("out")
        // The second sees itself as PID 2, and the first as PID 1, through a /proc of their namespace.
        let second = try Spawner.spawn(SpawnRequest(executable: "/bin/sh", arguments: ["-c", "echo $$"], stdout: .file(out), pidNamespace: namespace))
        #expect(try second.wait() == .exited(0))
        #expect(contents(out) == "2\n")
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: namespace)
                != FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/ns/pid"))
        // Home again: a plain spawn is in the caller's pid namespace.
        let third = try Spawner.spawn(SpawnRequest(executable: "/bin/sleep", arguments: ["30"]))
        defer { try? third.signal(SIGKILL); _ = try? third.wait() }
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(third.pid)/ns/pid")
                == FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/ns/pid"))
        #expect(throws: ValidationError.self) {
            try Spawner.spawn(SpawnRequest(executable: "/bin/true", pidNamespace: namespace, newPidNamespace: true))
        }
    }

    @Test("argv, environment, working directory and stderr reach the child")
    func argvEnvCwd() throws {
        let scratch = try Scratch()
        let out = scratch.file("out"), err = scratch.file("err")
        let child = try Spawner.spawn(SpawnRequest(
            executable: "/bin/sh", arguments: ["-c", "echo \"$1|$GREETING|$(pwd)\"; echo oops >&2; exit 3", "sh", "first arg"],
            environment: ["GREETING": "hello pod", "PATH": Spawner.defaultPath], workingDirectory: scratch.path,
            stdout: .file(out), stderr: .file(err)))
        #expect(try child.wait() == .exited(3))
        #expect(contents(out) == "first arg|hello pod|\(scratch.path)\n")
        #expect(contents(err) == "oops\n")
    }

    @Test("a child in its own UTS namespace sees the pod's hostname; the host's is unchanged")
    func hostname() throws {
        let scratch = try Scratch()
        let hostBefore = ProcessInfo.processInfo.hostName
        let uts = NamespaceFile.runDirectory + "/" + KernelTest.uniqueName("pltuts")
        let ipc = NamespaceFile.runDirectory + "/" + KernelTest.uniqueName("pltipc")
        defer {
            try? NamespaceFile.remove(at: uts)
            try? NamespaceFile.remove(at: ipc)
        }
        try NamespaceFile.createUTS(at: uts, hostname: "nginx-ser")
        try NamespaceFile.createIPC(at: ipc)
        try KernelTest.withNamespacesSync(1) { namespaces in
            let out = scratch.file("out")
            let child = try Spawner.spawn(SpawnRequest(executable: "cat", arguments: ["/proc/sys/kernel/hostname"], stdout: .file(out),
                                                       networkNamespace: namespaces[0].name, utsNamespace: uts, ipcNamespace: ipc))
            #expect(try child.wait() == .exited(0))
            #expect(contents(out) == "nginx-ser\n")
        }
        #expect(ProcessInfo.processInfo.hostName == hostBefore)
        #expect(throws: ValidationError.self) { try NamespaceFile.createUTS(at: uts + "x", hostname: "bad name") }
        #expect(!FileManager.default.fileExists(atPath: uts + "x"))
    }

    @Test("signals end a child and wait reports the signal; async wait works")
    func signalAndWait() async throws {
        let child = try Spawner.spawn(SpawnRequest(executable: "sleep", arguments: ["30"]))
        #expect(try child.poll() == nil)
        try child.signal(SIGTERM)
        #expect(try await child.exitStatus() == .signaled(SIGTERM))
        let quick = try Spawner.spawn(SpawnRequest(executable: "true"))
        #expect(try await quick.exitStatus() == .exited(0))
    }

    @Test("a pseudo-terminal as stdin is the child's controlling terminal, with the size set on the master")
    func controllingTerminal() throws {
        let terminal = try PseudoTerminal.open()
        defer { close(terminal.master) }
        try PseudoTerminal.setWindowSize(fd: terminal.master, rows: 43, columns: 132)
        // /dev/tty opens only for a process with a controlling terminal (ENXIO otherwise).
        let child: ChildProcess
        do {
            defer { close(terminal.slave) }
            child = try Spawner.spawn(SpawnRequest(
                executable: "/bin/sh", arguments: ["-c", "stty size; echo typed >/dev/tty && read line && echo \"read $line\""],
                environment: ["PATH": Spawner.defaultPath],
                stdin: .terminal(terminal.slave), stdout: .fd(terminal.slave), stderr: .fd(terminal.slave), newSession: true))
        }
        var output: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        var answered = false
        // The master reads EIO once the child, the last holder of the slave, is gone.
        while true {
            let n = read(terminal.master, &buffer, buffer.count)
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { break }
            output += buffer[0..<n]
            if !answered, String(decoding: output, as: UTF8.self).contains("typed\r\n") {
                answered = true
                var answer = Array("yes\n".utf8)
                _ = write(terminal.master, &answer, answer.count)
            }
        }
        #expect(try child.wait() == .exited(0))
        // The terminal echoes what is typed and turns newlines into CR LF.
        #expect(String(decoding: output, as: UTF8.self) == "43 132\r\ntyped\r\nyes\r\nread yes\r\n")
    }

    @Test("a controlling terminal needs a session of the child's own")
    func controllingTerminalNeedsASession() throws {
        let terminal = try PseudoTerminal.open()
        defer {
            close(terminal.master)
            close(terminal.slave)
        }
        #expect(throws: ValidationError(field: "stdin", value: "terminal", reason: "a controlling terminal needs a new session")) {
            try Spawner.spawn(SpawnRequest(executable: "true", stdin: .terminal(terminal.slave), newSession: false))
        }
    }

    @Test("a missing executable or namespace is a clear error, not a crash")
    func missing() throws {
        #expect { try Spawner.spawn(SpawnRequest(executable: "no-such-program-podlab")) } throws: { error in
            Errno.noSuchFileOrDirectory ~= error && "\(error)".contains("not found in $PATH")
        }
        #expect { try Spawner.spawn(SpawnRequest(executable: "true", networkNamespace: KernelTest.uniqueName("pltnone"))) } throws: { error in
            Errno.noSuchFileOrDirectory ~= error
        }
    }
}

@Suite("Namespace worker isolation", .enabled(if: KernelTest.isRoot, KernelTest.rootRequired), .rootNamespaceUnchanged)
struct WorkerIsolationTests {
    static func namespaceInode(_ path: String) -> UInt64 {
        var info = stat()
        return stat(path, &info) == 0 ? UInt64(info.st_ino) : 0
    }

    @Test("after heavy worker use no task, Dispatch block or thread is left in a foreign namespace")
    func noLeaks() async throws {
        let home = Self.namespaceInode("/proc/self/ns/net")
        try await KernelTest.withNamespaces(3) { namespaces in
            // Heavy use: sockets and namespace visits from many concurrent tasks.
            try await withThrowingTaskGroup(of: Void.self) { group in
                for i in 0..<200 {
                    let ns = namespaces[i % namespaces.count]
                    group.addTask {
                        _ = try ns.openSocket(.route)
                        let inside = try ns.perform { Self.namespaceInode("/proc/thread-self/ns/net") }
                        #expect(inside == (try ns.inode()))
                    }
                }
                try await group.waitForAll()
            }
            // Unrelated work afterwards runs at home, on every task and Dispatch thread.
            let taskInodes = await withTaskGroup(of: UInt64.self) { group in
                for _ in 0..<200 { group.addTask { Self.namespaceInode("/proc/thread-self/ns/net") } }
                return await group.reduce(into: Set<UInt64>()) { $0.insert($1) }
            }
            #expect(taskInodes == [home])
            let dispatchInodes = Locked<Set<UInt64>>([])
            DispatchQueue.concurrentPerform(iterations: 64) { _ in
                let inode = Self.namespaceInode("/proc/thread-self/ns/net")
                dispatchInodes.withLock { _ = $0.insert(inode) }
            }
            #expect(dispatchInodes.withLock { $0 } == [home])
            // Every other thread of the process is at home. (The worker itself may be inside a
            // namespace right now, running a job of a test that runs in parallel.)
            let worker = String(NamespaceWorker.shared.threadID)
            let tasks = try FileManager.default.contentsOfDirectory(atPath: "/proc/self/task")
            for tid in tasks where tid != worker {
                #expect(Self.namespaceInode("/proc/self/task/\(tid)/ns/net") == home, "thread \(tid) is in a foreign namespace")
            }
        }
    }
}

@Suite("Pod namespaces in one step", .enabled(if: KernelTest.isRoot, KernelTest.rootRequired), .rootNamespaceUnchanged)
struct PodNamespacesTests {
    @Test("createPod makes net, UTS (with the hostname) and IPC namespaces; a clash leaves nothing behind")
    func createPod() throws {
        let scratch = try Scratch()
        let name = KernelTest.uniqueName("pltpod")
        let uts = scratch.file("ns/pod.uts"), ipc = scratch.file("ns/pod.ipc")
        defer {
            try? NetworkNamespace.delete(name, ignoreMissing: true)
            try? NamespaceFile.remove(at: uts)
            try? NamespaceFile.remove(at: ipc)
        }
        let (namespace, socket) = try NetworkNamespace.createPod(name, hostname: "web-1", utsPath: uts, ipcPath: ipc, openingSocket: .route)
        #expect(socket.namespace == name)
        let out = scratch.file("out")
        let child = try Spawner.spawn(SpawnRequest(executable: "/bin/sh", arguments: ["-c", "hostname; readlink /proc/self/ns/net"],
                                                   stdout: .file(out), networkNamespace: name, utsNamespace: uts, ipcNamespace: ipc))
        #expect(try child.wait() == .exited(0))
        #expect(contents(out) == "web-1\nnet:[\(try namespace.inode())]\n")

        // The same paths again: EEXIST, and the failed attempt removes only what it made.
        let other = KernelTest.uniqueName("pltpod")
        #expect { try NetworkNamespace.createPod(other, hostname: "x", utsPath: uts, ipcPath: scratch.file("ns/other.ipc"), openingSocket: .route) } throws: {
            Errno.fileExists ~= $0
        }
        #expect(!NetworkNamespace.exists(other))
        #expect(!FileManager.default.fileExists(atPath: scratch.file("ns/other.ipc")))
        #expect(FileManager.default.fileExists(atPath: uts), "the existing pod's files stay")
    }

    @Test("the UTS and IPC mount points are hard links of the directory's .mountpoint; removing a pod unlinks only its own")
    func mountPointsAreLinks() throws {
        let scratch = try Scratch()
        let template = scratch.file("ns/.mountpoint")
        var made: [(String, String, String)] = []
        defer {
            for (name, uts, ipc) in made {
                try? NetworkNamespace.delete(name, ignoreMissing: true)
                try? NamespaceFile.remove(at: uts)
                try? NamespaceFile.remove(at: ipc)
            }
        }
        func links() -> Int {
            var info = stat()
            return lstat(template, &info) == 0 ? Int(info.st_nlink) : -1
        }
        for index in 0..<2 {
            let entry = (KernelTest.uniqueName("pltpod"), scratch.file("ns/p\(index).uts"), scratch.file("ns/p\(index).ipc"))
            _ = try NetworkNamespace.createPod(entry.0, hostname: "p\(index)", utsPath: entry.1, ipcPath: entry.2, openingSocket: .route)
            made.append(entry)
        }
        #expect(links() == 5, "the template and two links per pod")
        // Each link holds its own pod's namespaces.
        var first = stat(), second = stat()
        #expect(stat(made[0].1, &first) == 0 && stat(made[1].1, &second) == 0)
        #expect(first.st_ino != second.st_ino)

        let (name, uts, ipc) = made.removeFirst()
        try NetworkNamespace.delete(name)
        try NamespaceFile.remove(at: uts)
        try NamespaceFile.remove(at: ipc)
        #expect(links() == 3)
        #expect(!FileManager.default.fileExists(atPath: uts) && FileManager.default.fileExists(atPath: made[0].1))
    }
}

@Suite("Spare network namespaces", .enabled(if: KernelTest.isRoot, KernelTest.rootRequired), .rootNamespaceUnchanged)
struct SpareNamespaceTests {
    @Test("a pod made with a spare gets that very namespace, named, with the spare's socket inside it")
    func podTakesTheSpare() throws {
        let scratch = try Scratch()
        let name = KernelTest.uniqueName("pltspare")
        let uts = scratch.file("ns/pod.uts"), ipc = scratch.file("ns/pod.ipc")
        defer {
            try? NetworkNamespace.delete(name, ignoreMissing: true)
            try? NamespaceFile.remove(at: uts)
            try? NamespaceFile.remove(at: ipc)
        }
        let spare = try SpareNetworkNamespace.make(openingSocket: .route)
        let inode = spare.inode
        #expect(inode != 0)
        #expect(spare.socket.namespace == nil)
        let (namespace, socket) = try NetworkNamespace.createPod(name, hostname: "spare-1", utsPath: uts, ipcPath: ipc,
                                                                openingSocket: .route, using: spare)
        #expect(try namespace.inode() == inode)
        #expect(socket === spare.socket && socket.namespace == name)
        // `ip` sees it under its name, and the hostname and IPC namespace are the pod's own.
        #expect(try Command.ipJSON(name, ["link"]).compactMap { $0["ifname"] as? String } == ["lo"])
        let out = scratch.file("out")
        let child = try Spawner.spawn(SpawnRequest(executable: "/bin/sh", arguments: ["-c", "hostname; readlink /proc/self/ns/net"],
                                                   stdout: .file(out), networkNamespace: name, utsNamespace: uts, ipcNamespace: ipc))
        #expect(try child.wait() == .exited(0))
        #expect(contents(out) == "spare-1\nnet:[\(inode)]\n")
    }

    @Test("a spare whose pod cannot be made is used up; the name's owner is left alone")
    func failedPodUsesUpTheSpare() throws {
        let scratch = try Scratch()
        let name = KernelTest.uniqueName("pltspare")
        _ = try NetworkNamespace.create(name)
        defer { try? NetworkNamespace.delete(name, ignoreMissing: true) }
        let before = try NetworkNamespace.open(name).inode()
        let spare = try SpareNetworkNamespace.make(openingSocket: .route)
        #expect { try NetworkNamespace.createPod(name, hostname: "x", utsPath: scratch.file("ns/x.uts"), ipcPath: scratch.file("ns/x.ipc"),
                                                 openingSocket: .route, using: spare) } throws: { Errno.fileExists ~= $0 }
        #expect(spare.isClosed)
        #expect(try NetworkNamespace.open(name).inode() == before)
        #expect(!FileManager.default.fileExists(atPath: scratch.file("ns/x.uts")))
    }
}

@Suite("Namespace worker priority", .enabled(if: KernelTest.isRoot, KernelTest.rootRequired))
struct UrgentJobTests {
    static func priority() -> Int32 {
        errno = 0
        return getpriority(__priority_which_t(PRIO_PROCESS.rawValue), id_t(UInt32(bitPattern: NamespaceWorker.shared.threadID)))
    }

    @Test("an urgent job runs with the worker's priority raised, and the next job sees it restored")
    func urgentJobRaisesAndRestores() throws {
        let normal = try NamespaceWorker.shared.sync { Self.priority() }
        let during = try NamespaceWorker.shared.syncUrgent { Self.priority() }
        #expect(during == max(-20, normal - NamespaceWorker.urgentBoost))
        #expect(try NamespaceWorker.shared.sync { Self.priority() } == normal)
        // A job that throws restores it too.
        struct Failure: Error {}
        #expect(throws: Failure.self) { try NamespaceWorker.shared.syncUrgent { throw Failure() } }
        #expect(try NamespaceWorker.shared.sync { Self.priority() } == normal)
    }

    @Test("an urgent job goes before the ordinary jobs still waiting")
    func urgentJobJumpsTheQueue() async throws {
        // Plain threads only: while the worker is held, callers of `sync` block their threads,
        // and the test must not depend on the (possibly all blocked) cooperative pool.
        let gate = Locked(false), finished = Locked(0)
        let order = Locked<[String]>([])
        func thread(after milliseconds: UInt32, _ body: @escaping @Sendable () -> Void) {
            Thread.detachNewThread {
                usleep(milliseconds * 1000)
                body()
                finished.withLock { $0 += 1 }
            }
        }
        thread(after: 0) { try? NamespaceWorker.shared.sync { while !gate.withLock({ $0 }) { usleep(1000) } } }
        thread(after: 100) { try? NamespaceWorker.shared.sync { order.withLock { $0.append("ordinary") } } }
        thread(after: 300) { try? NamespaceWorker.shared.syncUrgent { order.withLock { $0.append("urgent") } } }
        thread(after: 500) { gate.withLock { $0 = true } }
        while finished.withLock({ $0 }) < 4 { try await Task.sleep(for: .milliseconds(20)) }
        #expect(order.withLock { $0 } == ["urgent", "ordinary"])
    }
}
