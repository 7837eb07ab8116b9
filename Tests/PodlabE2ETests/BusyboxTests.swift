import Foundation
import KernelTestSupport
import Netns
import Testing

/// The busybox image is the host's BusyBox (Debian's busybox-static): its `sh` runs real
/// scripts in a pod, its applets reach other pods, and every other image's `sh` is BusyBox's
/// too, finding the image's own programs (nginx, curl) on its `PATH`.
@Suite("BusyBox in pods end to end", .enabled(if: KernelTest.isRoot, KernelTest.rootRequired), .rootNamespaceUnchanged)
struct BusyboxTests {
    /// The first line `busybox` prints: which BusyBox runs.
    static let banner = "BusyBox v1.35.0 (Debian"

    /// The state of container `container` of pod `pod`, with its reason and message.
    static func waiting(_ lab: TestLab, _ pod: String, _ container: String) throws -> (reason: String, message: String)? {
        guard let waiting = ((try lab.containerStatus(pod, container))["state"] as? [String: Any])?["waiting"] as? [String: Any] else { return nil }
        return (waiting["reason"] as? String ?? "", waiting["message"] as? String ?? "")
    }

    @Test("sh -c in a busybox pod: pipes, $(( )), $( ), functions, case, a background job and wait")
    func shellScript() async throws {
        try await TestLab.with { lab in
            try lab.apply("""
                apiVersion: v1
                kind: Pod
                metadata: {name: shell}
                spec:
                  restartPolicy: Never
                  containers:
                  - name: sh
                    image: busybox
                    command:
                    - sh
                    - -c
                    - |
                      echo a b c | wc -w
                      echo $(( 6 * 7 ))
                      greet() { echo "hello $1"; }
                      greet "$(hostname)"
                      case "$(hostname)" in sh*) echo "case matched" ;; *) echo "no match" ;; esac
                      (sleep 0.2; echo background >&2) &
                      wait $!
                      echo "waited $?"
                      echo "argv0 $0 uid $(id -u) path $PATH"
                      exit 3
                """, as: "shell.yaml")
            try await lab.eventually("the script ended") {
                (((try lab.containerStatus("shell", "sh"))["state"] as? [String: Any])?["terminated"] as? [String: Any])?["exitCode"] as? Int == 3
            }
            let log = try lab.run(["logs", "shell"]).stdout
            #expect(log == """
                3
                42
                hello shell
                case matched
                background
                waited 0
                argv0 sh uid 0 path /usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

                """)
        }
    }

    @Test("busybox applets between pods: ping, wget to nginx, nc to the echo server; ip shows the pod's own network")
    func appletsBetweenPods() async throws {
        try await TestLab.with { lab in
            try await lab.start([
                PinnedPod("web", on: "n1", "web", image: "nginx"),
                PinnedPod("echo", on: "n2", "echo", image: "podlab/echo"),
                PinnedPod("client", on: "n2", [.init(name: "shell", image: "busybox", command: ["sleep", "3600"])]),
            ])
            let web = try lab.podIP("web"), echo = try lab.podIP("echo"), client = try lab.podIP("client")

            let ping = try lab.run(["exec", "client", "--", "ping", "-c", "1", "-W", "5", web])
            #expect(ping.stdout.contains("1 packets transmitted, 1 packets received, 0% packet loss"), "\(ping.stdout)\(ping.stderr)")

            let page = try lab.run(["exec", "client", "--", "wget", "-qO-", "http://\(web)/"])
            #expect(page.stdout.contains("<title>Welcome to nginx!</title>"))
            try await lab.eventually("nginx logged BusyBox's wget from the client's address") {
                try lab.run(["logs", "web"]).stdout.contains("\(client) - - [") && lab.run(["logs", "web"]).stdout.contains("\"Wget\"")
            }

            let echoed = try lab.run(["exec", "client", "--", "sh", "-c", "echo hello-echo | nc \(echo) 8080"])
            #expect(echoed.stdout == "hello-echo\n")
            try await lab.eventually("the echo server saw the client") {
                try lab.run(["logs", "echo"]).stdout.contains("tcp \(client):")
            }

            // The applets act on the pod's own network namespace.
            let address = try lab.run(["exec", "client", "--", "ip", "-4", "addr", "show", "eth0"]).stdout
            #expect(address.contains("inet \(client)/32"), "\(address)")
            let routes = try lab.run(["exec", "client", "--", "ip", "route"]).stdout
            #expect(routes.hasPrefix("default via 10.244.2.1 dev eth0"), "\(routes)")
            #expect(try lab.run(["exec", "client", "--", "hostname"]).stdout == "client\n")
        }
    }

    @Test("a one-shot busybox pod (run -it --rm) runs a pipeline against another pod and is deleted")
    func oneShot() async throws {
        try await TestLab.with { lab in
            try await lab.start([PinnedPod("web", on: "n1", "web", image: "nginx")])
            let web = try lab.podIP("web")
            let result = try lab.run(["run", "t", "--image", "busybox", "--restart=Never", "-it", "--rm", "--",
                                      "sh", "-c", "wget -qO- http://\(web)/ | grep -o 'Welcome to nginx!' | head -1; echo $(( 6 * 7 ))"])
            // -t gives the container a terminal, which turns its newlines into CR LF.
            #expect(result.stdout == "Welcome to nginx!\r\n42\r\npod \"t\" deleted\n")
            #expect(try lab.run(["get", "pod", "t"], expectSuccess: false).stderr.contains("pods \"t\" not found"))

            let failed = try lab.run(["run", "f", "--image", "busybox", "--restart=Never", "-it", "--rm", "--", "sh", "-c", "echo out; exit 7"],
                                     expectSuccess: false)
            #expect(failed.status == .exited(7))
            #expect(failed.stdout.hasPrefix("out\r\n"))
        }
    }

    @Test("every image's sh is BusyBox's and finds the image's own programs: nginx started by sh, curl from sh")
    func shellOfOtherImages() async throws {
        try await TestLab.with { lab in
            try lab.apply("""
                apiVersion: v1
                kind: Pod
                metadata: {name: web}
                spec:
                  containers:
                  - name: web
                    image: nginx
                    args: ["sh", "-c", "busybox | head -1; exec nginx -g 'daemon off;'"]
                ---
                apiVersion: v1
                kind: Pod
                metadata: {name: curl}
                spec:
                  containers:
                  - name: curl
                    image: curlimages/curl
                    command: ["/bin/sh", "-c", "echo $0; sleep 3600"]
                """, as: "images.yaml")
            for pod in ["web", "curl"] {
                try await lab.eventually("\(pod) running") {
                    ((try lab.containerStatus(pod, pod))["state"] as? [String: Any])?["running"] != nil
                }
            }
            let web = try lab.podIP("web")
            try await lab.eventually("nginx started by BusyBox's sh") {
                let log = try lab.run(["logs", "web"]).stdout
                return log.contains(Self.banner) && log.contains("start worker process")
            }
            #expect(try lab.run(["logs", "curl"]).stdout == "/bin/sh\n")

            // curl run by the shell is the image's (curl/8.9.1 in nginx's log), not the host's.
            let page = try lab.run(["exec", "curl", "--", "sh", "-c", "curl -s http://\(web)/ | head -4 | tail -1; busybox | head -1"]).stdout
            #expect(page.hasPrefix("<title>Welcome to nginx!</title>\n\(Self.banner)"), "\(page)")
            try await lab.eventually("nginx logged the image's curl") {
                try lab.run(["logs", "web"]).stdout.contains("\"curl/8.9.1\"")
            }
            #expect(try lab.run(["exec", "web", "--", "sh", "-c", "echo $0; type nginx"]).stdout.hasPrefix("sh\nnginx is /"))
        }
    }

    @Test("without BusyBox: busybox pods wait in ErrImagePull, sh elsewhere in CreateContainerError, naming the package; nginx still runs")
    func busyboxMissing() async throws {
        try await TestLab.with(environment: ["PODLAB_BUSYBOX": "/nonexistent/busybox"]) { lab in
            try lab.apply("""
                apiVersion: v1
                kind: Pod
                metadata: {name: box}
                spec:
                  containers:
                  - {name: box, image: busybox, command: [sleep, "3600"]}
                ---
                apiVersion: v1
                kind: Pod
                metadata: {name: shell}
                spec:
                  containers:
                  - {name: shell, image: nginx, command: [sh, -c, "sleep 3600"]}
                ---
                apiVersion: v1
                kind: Pod
                metadata: {name: web}
                spec:
                  containers:
                  - {name: web, image: nginx}
                """, as: "missing.yaml")
            let package = "/nonexistent/busybox is missing: install the Debian package busybox-static (scripts/install-deps does)"
            try await lab.eventually("box waits for its image") {
                guard let waiting = try Self.waiting(lab, "box", "box") else { return false }
                return ["ErrImagePull", "ImagePullBackOff"].contains(waiting.reason) && waiting.message.hasSuffix(package)
            }
            try await lab.eventually("the nginx pod's sh cannot be made") {
                guard let waiting = try Self.waiting(lab, "shell", "shell") else { return false }
                return waiting.reason == "CreateContainerError"
                    && waiting.message == "Error: failed to create container: \"sh\" is the host's BusyBox, and " + package
            }
            try await lab.eventually("web runs: nginx needs no BusyBox") {
                ((try lab.containerStatus("web", "web"))["state"] as? [String: Any])?["running"] != nil
            }
            let exec = try lab.run(["exec", "web", "--", "sh"], expectSuccess: false)
            #expect(exec.status == .exited(127))
            #expect(exec.stderr.contains("\"sh\" is the host's BusyBox, and \(package)"), "\(exec.stderr)")
            #expect(try lab.run(["exec", "web", "--", "curl", "-s", "http://127.0.0.1/"]).stdout.contains("Welcome to nginx!"))
        }
    }
}
