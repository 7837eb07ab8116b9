import Foundation
import KernelTestSupport
import PodlabImages
import Testing

/// The catalog's idea of BusyBox against the BusyBox `scripts/install-deps` installs.
@Suite("BusyBox on the host")
struct BusyboxHostTests {
    @Test("the catalog's applets are exactly the installed BusyBox's (busybox --list)")
    func applets() throws {
        try #require(FileManager.default.isExecutableFile(atPath: ImageCatalog.busyboxPath),
                     "\(ImageCatalog.busyboxPath) is missing: install the Debian package busybox-static (scripts/install-deps)")
        let listed = Set(try Command.check(ImageCatalog.busyboxPath, ["--list"]).split(separator: "\n").map(String.init))
        #expect(listed.subtracting(ImageCatalog.busyboxApplets).sorted() == [], "applets the catalog lacks")
        #expect(ImageCatalog.busyboxApplets.subtracting(listed).sorted() == [], "applets the installed BusyBox lacks")
        // What the images rely on.
        #expect(listed.isSuperset(of: ["sh", "wget", "nc", "ping", "nslookup", "ip", "ifconfig", "hostname", "sleep", "env", "id", "cat", "echo", "wc"]))
    }

    @Test("its sh prefers its applets to PATH, as the catalog's resolution assumes")
    func prefersApplets() throws {
        let shown = try Command.run(ImageCatalog.busyboxPath, ["sh", "-c", "type wget; type cat"], environment: ["PATH": "/usr/bin:/bin"])
        #expect(shown.stdout == "wget is wget\ncat is cat\n")
    }
}
