import Foundation
import PodNet
import Testing
@testable import PodlabAgent

/// The kubelet's layout for projected volumes: files in a timestamped directory, `..data`
/// naming it, one link per top-level name through `..data`; an update swaps `..data`.
@Suite("Atomic volume writer")
struct AtomicVolumeWriterTests {
    static func scratch() -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("podlab-volume-\(UUID().uuidString)").path
    }

    static func read(_ path: String) -> String? {
        FileManager.default.contents(atPath: path).map { String(decoding: $0, as: UTF8.self) }
    }

    static func mode(_ path: String) -> Int32 {
        var info = stat()
        return stat(path, &info) == 0 ? Int32(info.st_mode & 0o7777) : -1
    }

    @Test("first write: ..data, timestamped directory, links through ..data, modes as given")
    func firstWrite() throws {
        let directory = Self.scratch() + "/vol"
        defer { try? FileManager.default.removeItem(atPath: (directory as NSString).deletingLastPathComponent) }
        let payload = ["app.ini": ProjectedFile("debug=1\n", mode: 0o640), "conf/level": ProjectedFile("info", mode: 0o400)]
        #expect(try AtomicVolumeWriter.write(payload, to: directory))
        let data = try FileManager.default.destinationOfSymbolicLink(atPath: "\(directory)/..data")
        #expect(data.hasPrefix("..") && data.count > "..2026_01_01_00_00_00.".count)
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: "\(directory)/app.ini") == "..data/app.ini")
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: "\(directory)/conf") == "..data/conf")
        #expect(Self.read("\(directory)/app.ini") == "debug=1\n")
        #expect(Self.read("\(directory)/conf/level") == "info")
        #expect(Self.mode("\(directory)/app.ini") == 0o640)
        #expect(Self.mode("\(directory)/conf/level") == 0o400)
        #expect(Set(try FileManager.default.contentsOfDirectory(atPath: directory)) == ["..data", data, "app.ini", "conf"])
    }

    @Test("an unchanged payload touches nothing; a changed one swaps ..data, drops names gone, removes the old directory")
    func update() throws {
        let directory = Self.scratch()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try AtomicVolumeWriter.write(["a": ProjectedFile("1", mode: 0o644), "b": ProjectedFile("2", mode: 0o644)], to: directory)
        let first = try FileManager.default.destinationOfSymbolicLink(atPath: "\(directory)/..data")
        #expect(try !AtomicVolumeWriter.write(["a": ProjectedFile("1", mode: 0o644), "b": ProjectedFile("2", mode: 0o644)], to: directory))
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: "\(directory)/..data") == first)
        // A mode alone is a change too.
        #expect(try AtomicVolumeWriter.write(["a": ProjectedFile("1", mode: 0o600), "b": ProjectedFile("2", mode: 0o644)], to: directory))
        let second = try FileManager.default.destinationOfSymbolicLink(atPath: "\(directory)/..data")
        #expect(second != first)
        #expect(try AtomicVolumeWriter.write(["a": ProjectedFile("one", mode: 0o644), "c": ProjectedFile("3", mode: 0o644)], to: directory))
        let third = try FileManager.default.destinationOfSymbolicLink(atPath: "\(directory)/..data")
        #expect(Self.read("\(directory)/a") == "one")
        #expect(Self.read("\(directory)/c") == "3")
        #expect(Set(try FileManager.default.contentsOfDirectory(atPath: directory)) == ["..data", third, "a", "c"])
    }

    @Test("a path escaping the volume is refused and nothing is written")
    func escaping() {
        let directory = Self.scratch()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        #expect(throws: (any Error).self) { try AtomicVolumeWriter.write(["../x": ProjectedFile("1", mode: 0o644)], to: directory) }
        #expect(throws: (any Error).self) { try AtomicVolumeWriter.write(["/etc/x": ProjectedFile("1", mode: 0o644)], to: directory) }
        #expect(!FileManager.default.fileExists(atPath: directory))
    }
}
