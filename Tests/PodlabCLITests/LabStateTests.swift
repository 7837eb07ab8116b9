import Foundation
import PodNet
import PodlabAgent
import PodlabCLI
import Testing
#if canImport(Glibc)
import Glibc
#endif

@Suite("A lab's state files: modes, the agent's pid file, messages for other users")
struct LabStateTests {
    static func temporaryLab() throws -> LabPaths {
        let root = NSTemporaryDirectory() + "podlab-state-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        return LabPaths(lab: "t", stateRoot: root)
    }

    static func mode(_ path: String) -> mode_t {
        var info = stat()
        return lstat(path, &info) == 0 ? info.st_mode & 0o7777 : 0
    }

    @Test func labDirectoryIsMadeAndKeptPrivate() throws {
        let paths = try Self.temporaryLab()
        defer { try? FileManager.default.removeItem(atPath: (paths.directory as NSString).deletingLastPathComponent) }
        try LabStateModes.makeLabDirectory(paths)
        #expect(Self.mode(paths.directory) == 0o711)
        chmod(paths.directory, 0o755)
        try LabStateModes.makeLabDirectory(paths)
        #expect(Self.mode(paths.directory) == 0o711)
        chmod(paths.directory, 0o777)
        try LabStateModes.makeLabDirectory(paths)
        #expect(Self.mode(paths.directory) == 0o711)
        try LabStateModes.makePrivateFile(paths.database)
        #expect(Self.mode(paths.database) == 0o600)
    }

    @Test("an older lab's open state is closed; pods' and images' files, and links, are left alone")
    func olderStateIsClosed() throws {
        let paths = try Self.temporaryLab()
        defer { try? FileManager.default.removeItem(atPath: (paths.directory as NSString).deletingLastPathComponent) }
        let fm = FileManager.default
        let logDirectory = "\(paths.logs)/default_web_12345678/c"
        try fm.createDirectory(atPath: logDirectory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
        try fm.createDirectory(atPath: "\(paths.pods)/uid", withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
        try fm.createDirectory(atPath: paths.exits, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
        chmod(paths.directory, 0o755)
        chmod(paths.logs, 0o755)
        let outside = (paths.directory as NSString).deletingLastPathComponent + "/outside"
        for file in ["\(logDirectory)/0.log", paths.logFile, paths.database, paths.pidFile, "\(paths.pods)/uid/etc-hosts", outside] {
            #expect(fm.createFile(atPath: file, contents: Data("x\n".utf8), attributes: [.posixPermissions: 0o644]))
        }
        // A link from the logs to a file outside the lab: not followed.
        symlink(outside, "\(paths.logs)/link")

        let changed = LabStateModes.closeOlderState(paths)
        #expect(Set(changed).isSuperset(of: [paths.directory, paths.logs, "\(logDirectory)/0.log", paths.logFile, paths.database, paths.pidFile]))
        #expect(Self.mode(paths.directory) == 0o711)
        #expect(Self.mode(logDirectory) == 0o700)
        #expect(Self.mode("\(logDirectory)/0.log") == 0o600)
        #expect(Self.mode(paths.database) == 0o600)
        #expect(Self.mode(paths.exits) == 0o700)
        #expect(Self.mode("\(paths.pods)/uid/etc-hosts") == 0o644, "a pod's hosts file is read by its containers' users")
        #expect(Self.mode(outside) == 0o644, "a link was followed out of the lab")
    }

    @Test func pidFileNamesTheAgentByPidAndStartTime() throws {
        let me = try #require(ProcessIdentity.of(pid: getpid()))
        #expect(AgentPIDFile.parse(AgentPIDFile.text(me)) == me)
        #expect(AgentPIDFile.parse("\(getpid())\n") == nil, "a file without a start time names nobody")
        #expect(AgentPIDFile.parse("") == nil)
        #expect(AgentPIDFile.parse("12 x\n") == nil)

        let paths = try Self.temporaryLab()
        defer { try? FileManager.default.removeItem(atPath: (paths.directory as NSString).deletingLastPathComponent) }
        try LabStateModes.makeLabDirectory(paths)
        try AgentPIDFile.text(me).write(toFile: paths.pidFile, atomically: true, encoding: .utf8)
        #expect(AgentPIDFile.liveAgent(paths) == me)
        try AgentPIDFile.text(ProcessIdentity(pid: me.pid, startTime: me.startTime + 1)).write(toFile: paths.pidFile, atomically: true, encoding: .utf8)
        #expect(AgentPIDFile.liveAgent(paths) == nil, "a pid whose start time differs is another process")
    }

    @Test func signalsOnlyTheProcessItNames() throws {
        let me = try #require(ProcessIdentity.of(pid: getpid()))
        #expect(me.signal(0))
        #expect(!ProcessIdentity(pid: me.pid, startTime: me.startTime + 1).signal(0))
    }

    @Test func permissionDeniedIsSaidForPeople() {
        #expect(APIError.permissionDenied(lab: "x").description == "podlab: permission denied: the lab \"x\" is run by root; use sudo")
    }
}
