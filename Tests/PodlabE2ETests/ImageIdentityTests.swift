import Foundation
import KernelTestSupport
import PodlabImages
import Testing

/// A built-in image says what it is: its log starts by naming the stand-in, and its Image ID's
/// digest is of what runs (the podlab-tools and BusyBox builds, and the image's entry), not of
/// the repository's name.
@Suite("Built-in images say what they are", .enabled(if: KernelTest.isRoot, KernelTest.rootRequired), .rootNamespaceUnchanged)
struct ImageIdentityTests {
    /// `readelf -n`'s Build ID of an executable.
    static func buildID(_ path: String) throws -> String {
        let notes = try Command.check("readelf", ["-n", path])
        let line = try #require(notes.split(separator: "\n").first { $0.contains("Build ID:") })
        return String(line.split(separator: " ").last ?? "")
    }

    @Test("Image IDs: one per image and build, the digest of the executables' builds and the entry; first log lines name the stand-in")
    func imageIDs() async throws {
        try await TestLab.with { lab in
            try await lab.start([PinnedPod("a", on: "n1", "web", image: "nginx"), PinnedPod("b", on: "n2", "web", image: "nginx"),
                                 PinnedPod("h", on: "n1", "web", image: "httpd")])
            let a = try lab.containerStatus("a", "web")["imageID"] as? String ?? ""
            let b = try lab.containerStatus("b", "web")["imageID"] as? String ?? ""
            let h = try lab.containerStatus("h", "web")["imageID"] as? String ?? ""
            #expect(a == b && a != h)

            let tools = try Self.buildID(try BuiltExecutable.path("podlab-tools"))
            let busybox = try Self.buildID(ImageCatalog.busyboxPath)
            let identity = ["podlab-tools build-id \(tools)", "busybox build-id \(busybox)", "image docker.io/library/nginx",
                            "entrypoint /docker-entrypoint.sh", "cmd nginx\u{0}-g\u{0}daemon off;"].joined(separator: "\n")
            #expect(a == "docker.io/library/nginx@sha256:" + SHA256.hex(identity))
            #expect(!a.hasSuffix(SHA256.hex("docker.io/library/nginx")), "not a hash of the repository's name")
            #expect(try lab.run(["describe", "pod", "a"]).stdout.contains("Image ID:       \(a)"))

            try await lab.eventually("the logs have started") {
                try !lab.run(["logs", "a"]).stdout.isEmpty && !lab.run(["logs", "h"]).stdout.isEmpty
            }
            let nginxLog = try lab.run(["logs", "a"]).stdout
            #expect(nginxLog.hasPrefix("podlab built-in image \"nginx\": podlab-tools stands in for nginx 1.27.0 (it imitates it; it is not nginx)\n"),
                    "\(nginxLog)")
            let httpdLog = try lab.run(["logs", "h"]).stdout
            #expect(httpdLog.hasPrefix("podlab built-in image \"httpd\": podlab-tools stands in for Apache httpd 2.4.62"), "\(httpdLog)")

            // A restarted agent (the same build) reports the same ID.
            try await lab.killAgent()
            try lab.run(["up"])
            try await lab.start([PinnedPod("c", on: "n2", "web", image: "nginx")])
            #expect(try lab.containerStatus("c", "web")["imageID"] as? String == a)
        }
    }
}
