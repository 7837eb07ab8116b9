import Foundation
import KernelTestSupport
import Netns
import Testing

/// `podlab run -i/-it` and `podlab attach` end to end: the container's own process reads what
/// the client sends, through pipes or a real terminal, as with `kubectl run -i` and `kubectl
/// attach`.
@Suite("Attach end to end", .enabled(if: KernelTest.isRoot, KernelTest.rootRequired), .rootNamespaceUnchanged)
struct AttachTests {
    @Test("run -i: the container reads this stdin, its exit code is the command's, --rm removes the pod")
    func runWithStdin() async throws {
        try await TestLab.with { lab in
            let echo = try lab.run(["run", "t", "--image", "busybox", "-i", "--rm", "--restart=Never", "--", "cat"], input: "hi\n")
            #expect(echo.status == .exited(0))
            #expect(echo.stdout == "hi\npod \"t\" deleted\n")
            #expect(echo.stderr == "If you don't see a command prompt, try pressing enter.\n")
            #expect(try lab.run(["get", "pod", "t"], expectSuccess: false).stderr.contains("pods \"t\" not found"))
            try await lab.eventually("the pod's namespace removed") { !NetworkNamespace.exists(lab.podNamespace("t")) }

            let failing = try lab.run(["run", "e", "--image", "busybox", "-i", "--rm", "--restart=Never", "--", "sh", "-c", "exit 3"],
                                      expectSuccess: false)
            #expect(failing.status == .exited(3))
            #expect(failing.stdout == "pod \"e\" deleted\n")
            #expect(failing.stderr.hasSuffix("pod default/e terminated (Error)\n"))

            // What the container wrote before the client was attached reaches it too.
            let early = try lab.run(["run", "early", "--image", "busybox", "-i", "--rm", "--restart=Never", "-q", "--",
                                     "sh", "-c", "echo before; cat; echo after"], input: "typed\n")
            #expect(early.stdout == "before\ntyped\nafter\n")
            #expect(early.stderr.isEmpty, "-q says nothing of its own")
        }
    }

    @Test("run -it: a shell on a real terminal runs what is typed; stdin piped with -t still reaches the command")
    func runWithTerminal() async throws {
        try await TestLab.with { lab in
            // `script` gives the client a terminal; what it reads from its stdin is typed there.
            let command = "\(lab.podlab) run t --image busybox -it --rm --restart=Never -- sh"
            let session = try Command.run("script", ["-qec", command, "/dev/null"], environment: lab.environment,
                                          input: "A=4; echo \"$A\"2\nexit\n")
            #expect(session.status == .exited(0), "\(session.stdout)\(session.stderr)")
            // Typed as `"$A"2`: only the shell's answer reads 42.
            #expect(session.stdout.contains("\r\n42\r\n"), "\(session.stdout)")
            #expect(session.stdout.contains("If you don't see a command prompt, try pressing enter."))
            #expect(session.stdout.contains("Session ended, resume using 'podlab attach t -c t -i -t' command when the pod is running"))
            #expect(session.stdout.contains("pod \"t\" deleted"))
            try await lab.eventually("the pod's namespace removed") { !NetworkNamespace.exists(lab.podNamespace("t")) }

            // Without a terminal on this side, -t is dropped here; the container still has its own.
            let piped = try lab.run(["run", "p", "--image", "busybox", "-it", "--rm", "--restart=Never", "--", "sh", "-c", "cat; echo done"],
                                    input: "line\n")
            #expect(piped.status == .exited(0))
            // The container's terminal echoes the line and turns newlines into CR LF.
            #expect(piped.stdout == "line\r\nline\r\ndone\r\npod \"p\" deleted\n")
            #expect(piped.stderr == "Unable to use a TTY - input is not a terminal or the right kind of file\n"
                + "If you don't see a command prompt, try pressing enter.\n")
        }
    }

    @Test("attach: stdinOnce closes stdin after the first client, stdin stays open without it, the log keeps it all")
    func attachToRunningContainers() async throws {
        try await TestLab.with { lab in
            try lab.apply("""
                apiVersion: v1
                kind: Pod
                metadata:
                  name: once
                spec:
                  restartPolicy: Never
                  containers:
                  - name: c
                    image: busybox
                    command: ["sh", "-c", "cat; echo closed; sleep 600"]
                    stdin: true
                    stdinOnce: true
                  - name: quick
                    image: busybox
                    command: ["true"]
                ---
                apiVersion: v1
                kind: Pod
                metadata:
                  name: open
                spec:
                  containers:
                  - name: c
                    image: busybox
                    command: ["cat"]
                    stdin: true
                """, as: "pods.yaml")
            try await lab.eventually("both Running") { try lab.allRunning(count: 2) }

            // The first client's stdin is the container's: its end is cat's end of file. The
            // session goes on until the container's output ends, so the client is stopped.
            // A loaded machine may keep the client from attaching in time: it is given longer then
            // (a client stopped before it attached has not used the container's stdin).
            var first: CommandResult?
            for seconds in ["3", "10", "30"] where first?.stdout.isEmpty ?? true {
                first = try Command.run("timeout", [seconds, lab.podlab, "attach", "once", "-i", "-q"], environment: lab.environment, input: "one\n")
            }
            #expect(first?.stdout == "one\nclosed\n")
            let second = try Command.run("timeout", ["3", lab.podlab, "attach", "once", "-i", "-q"], environment: lab.environment, input: "two\n")
            #expect(second.stdout.isEmpty, "no second client writes to stdin")
            #expect(try lab.run(["logs", "once", "-c", "c"]).stdout == "one\nclosed\n")
            // The kubelet attaches only to a running process.
            try await lab.eventually("quick done") { (try lab.containerStatus("once", "quick")["state"] as? [String: Any])?["terminated"] != nil }
            let done = try lab.run(["attach", "once", "-c", "quick"], expectSuccess: false)
            #expect(done.stderr.hasSuffix("error: unable to upgrade connection: container not found (\"quick\")\n"), "\(done.stderr)")

            // Without stdinOnce, a client's session ends with its stdin, and the next one writes on.
            #expect(try lab.run(["attach", "open", "-i", "-q"], input: "first\n").status == .exited(0))
            #expect(try lab.run(["attach", "open", "-i", "-q"], input: "second\n").status == .exited(0))
            try await lab.eventually("both lines in the log") { try lab.run(["logs", "open"]).stdout == "first\nsecond\n" }
            #expect(try lab.containerStatus("open", "c")["restartCount"] as? Int == 0)

            let missing = try lab.run(["attach", "open", "-c", "nope"], expectSuccess: false)
            #expect(missing.stderr == "error: cannot attach to the container: container nope not found\n")
        }
    }
}
