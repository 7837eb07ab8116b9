import Testing
@testable import PodNet

@Suite("Tar reading: ustar, PAX and GNU long names, checksums, truncation")
struct TarReaderTests {
    static func entries(_ bytes: [UInt8]) throws -> [(TarEntry, [UInt8])] {
        var reader = TarReader(InMemoryTarSource(bytes))
        var result: [(TarEntry, [UInt8])] = []
        while let entry = try reader.next() { result.append((entry, try reader.readAll())) }
        return result
    }

    @Test("members in order with their data, types, modes, owners and link targets")
    func members() throws {
        var tar = TarWriter()
        tar.add("bin/", type: "5", mode: 0o755)
        tar.add("bin/busybox", data: Array(repeating: 7, count: 1300), mode: 0o4755, uid: 1000, gid: 1001)
        tar.add("bin/sh", type: "2", linkName: "busybox")
        tar.add("bin/ls", type: "1", linkName: "bin/busybox")
        tar.add("index.html", data: Array("<h1>hi</h1>\n".utf8), prefix: "var/www")
        tar.end()
        let entries = try Self.entries(tar.bytes)
        #expect(entries.map(\.0.path) == ["bin/", "bin/busybox", "bin/sh", "bin/ls", "var/www/index.html"])
        #expect(entries.map(\.0.kind) == [.directory, .regular, .symbolicLink, .hardLink, .regular])
        #expect(entries[1].0.mode == 0o4755)
        #expect(entries[1].0.uid == 1000 && entries[1].0.gid == 1001)
        #expect(entries[1].0.modificationTime == 1_700_000_000)
        #expect(entries[1].1 == Array(repeating: 7, count: 1300))
        #expect(entries[2].0.linkName == "busybox")
        #expect(entries[4].1 == Array("<h1>hi</h1>\n".utf8))
    }

    @Test("PAX records override the header (path, size, owner, xattrs); GNU long names")
    func extensions() throws {
        let long = String(repeating: "d/", count: 80) + "file"
        var tar = TarWriter()
        tar.pax([("path", long), ("uid", "70000"), ("SCHILY.xattr.security.capability", "cap")])
        tar.add("short", data: [1, 2, 3])
        tar.add("././@LongLink", type: "L", data: Array((long + "2").utf8) + [0])
        tar.add("truncated-name", data: [4])
        tar.add("after", data: [5])
        tar.end()
        let entries = try Self.entries(tar.bytes)
        #expect(entries.map(\.0.path) == [long, long + "2", "after"])
        #expect(entries[0].0.uid == 70000)
        #expect(entries[0].0.xattrs == ["security.capability": Array("cap".utf8)])
        #expect(entries[0].1 == [1, 2, 3])
        #expect(entries[1].1 == [4])
        #expect(entries[2].0.xattrs.isEmpty)
    }

    @Test("unread data is skipped; an archive without its end blocks still ends at a member boundary")
    func skipping() throws {
        var tar = TarWriter()
        tar.add("a", data: Array(repeating: 1, count: 70_000))
        tar.add("b", data: [2])
        var reader = TarReader(InMemoryTarSource(tar.bytes))
        #expect(try reader.next()?.path == "a")
        #expect(try reader.readChunk(maxCount: 10) == Array(repeating: 1, count: 10))
        #expect(try reader.next()?.path == "b")
        #expect(try reader.next() == nil)
        #expect(try reader.next() == nil)
    }

    @Test("a corrupted header and a truncated archive are errors")
    func damage() throws {
        var tar = TarWriter()
        tar.add("a", data: Array(repeating: 1, count: 2000))
        tar.end()
        var corrupted = tar.bytes
        corrupted[10] = 0x41
        #expect(throws: OCIImageError("tar: invalid header checksum (not a tar archive, or corrupted)")) { try Self.entries(corrupted) }
        #expect(throws: OCIImageError("tar: unexpected end of archive (truncated)")) { try Self.entries(Array(tar.bytes.prefix(1200))) }
        #expect(throws: OCIImageError("tar: unexpected end of archive (truncated)")) { try Self.entries(Array(tar.bytes.prefix(300))) }
        #expect(throws: OCIImageError("tar: invalid header checksum (not a tar archive, or corrupted)")) {
            try Self.entries(Array("{\"not\": \"a tar\"}".utf8) + [UInt8](repeating: 0x20, count: 600))
        }
    }

    @Test("base-256 numbers (GNU, for sizes and ids past octal's range)")
    func base256() throws {
        var header = [UInt8](repeating: 0, count: 512)
        header[124] = 0x80
        header[131] = 0x02
        header[135] = 0x01
        #expect(try TarReader<InMemoryTarSource>.number(header, 124, 12, field: "size") == 0x2_0000_0001)
    }
}

@Suite("Layer entries: whiteouts, opaque directories, escaping paths and links")
struct LayerEntryTests {
    @Test("paths classify by the OCI layer rules", arguments: [
        ("./etc/passwd", LayerEntry.add(["etc", "passwd"])),
        ("/usr/bin/", .add(["usr", "bin"])),
        ("etc/.wh.motd", .whiteout(["etc", "motd"])),
        ("var/cache/.wh..wh..opq", .opaque(["var", "cache"])),
        (".wh..wh..opq", .opaque([])),
        ("./", .ignore),
        (".wh..wh.plnk/123", .add([".wh..wh.plnk", "123"])),
        ("a/.wh..wh.aufs", .ignore),
    ])
    func classify(path: String, expected: LayerEntry) throws {
        #expect(try LayerEntry.classify(path) == expected)
    }

    @Test("`..` is refused wherever it appears", arguments: ["../etc/passwd", "a/../../b", "a/..", "./.."])
    func dotDot(path: String) {
        #expect(throws: OCIImageError("layer entry \"\(path)\": path escapes the root (\"..\")")) { try LayerEntry.classify(path) }
    }

    @Test("hard links name paths under the root")
    func hardLinks() throws {
        #expect(try LayerEntry.hardLinkTarget("/bin/busybox", entry: "bin/ls") == ["bin", "busybox"])
        #expect(throws: OCIImageError("hard link \"bin/ls\" to \"../../etc/shadow\": path escapes the root (\"..\")")) {
            try LayerEntry.hardLinkTarget("../../etc/shadow", entry: "bin/ls")
        }
    }

    @Test("symbolic links climbing past the top escape; absolute ones are the container's", arguments: [
        ("busybox", ["bin", "sh"], false),
        ("/bin/busybox", ["bin", "sh"], false),
        ("../lib/x", ["usr", "lib64"], false),
        ("../../x", ["usr", "lib64"], true),
        ("/../x", ["a"], true),
        ("a/../../x", ["b"], true),
    ])
    func symlinks(target: String, at components: [String], escapes: Bool) {
        #expect(LayerEntry.symlinkEscapes(target, at: components) == escapes)
    }
}
