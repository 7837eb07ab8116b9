import Netlink
import Netns

/// The `CNI_*` environment of one plugin call (SPEC.md, "Parameters").
public struct CNIEnvironment: Sendable, Equatable {
    public enum Command: String, Sendable {
        case add = "ADD", del = "DEL", check = "CHECK", gc = "GC", status = "STATUS", version = "VERSION"
    }

    public var command: Command
    public var containerID: String?
    public var netns: String?
    public var ifname: String?
    public var args: String?
    public var path: String?

    /// Reads and checks the variables `command` needs: a missing or malformed one is an invalid
    /// environment (4), naming the variable.
    public init(_ environment: [String: String]) throws(CNIError) {
        func nonEmpty(_ key: String) -> String? {
            guard let v = environment[key], !v.isEmpty else { return nil }
            return v
        }
        guard let commandText = nonEmpty("CNI_COMMAND") else {
            throw CNIError(.invalidEnvironment, "required env variables [CNI_COMMAND] missing")
        }
        guard let command = Command(rawValue: commandText) else {
            throw CNIError(.invalidEnvironment, "unknown CNI_COMMAND: \(commandText)", details: "expected one of ADD, DEL, CHECK, GC, STATUS, VERSION")
        }
        self.command = command
        containerID = nonEmpty("CNI_CONTAINERID")
        netns = nonEmpty("CNI_NETNS")
        ifname = nonEmpty("CNI_IFNAME")
        args = nonEmpty("CNI_ARGS")
        path = nonEmpty("CNI_PATH")

        var required: [String] = []
        switch command {
        case .add, .check:
            required = ["CNI_CONTAINERID", "CNI_NETNS", "CNI_IFNAME", "CNI_PATH"]
        case .del:
            required = ["CNI_CONTAINERID", "CNI_IFNAME", "CNI_PATH"]
        case .gc, .status:
            required = ["CNI_PATH"]
        case .version:
            required = []
        }
        let missing = required.filter { nonEmpty($0) == nil }
        if !missing.isEmpty {
            throw CNIError(.invalidEnvironment, "required env variables [\(missing.joined(separator: ","))] missing")
        }
        // VERSION reads nothing else; libcni sends placeholders ("dummy") when it validates a
        // configuration list.
        guard command != .version else { return }
        if let containerID { try Self.validate(containerID: containerID) }
        if let ifname, command != .gc, command != .status {
            do {
                try NetlinkValidation.validate(interfaceName: ifname, field: "CNI_IFNAME")
            } catch {
                throw CNIError(.invalidEnvironment, "invalid CNI_IFNAME \"\(ifname)\"", details: error.reason)
            }
        }
        if let netns, !netns.hasPrefix("/") {
            throw CNIError(.invalidEnvironment, "invalid CNI_NETNS \"\(netns)\"", details: "must be an absolute path")
        }
    }

    /// A container id as libcni checks it: a letter or digit, then letters, digits, `_`, `.`, `-`.
    static func validate(containerID: String) throws(CNIError) {
        func alnum(_ b: UInt8) -> Bool { (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A) }
        guard let first = containerID.utf8.first, alnum(first),
              containerID.utf8.allSatisfy({ alnum($0) || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "-") }) else {
            throw CNIError(.invalidEnvironment, "invalid CNI_CONTAINERID \"\(containerID)\"",
                           details: "must start with a letter or digit and contain only letters, digits, '_', '.' and '-'")
        }
    }

    /// The attachment this call is about (ADD, DEL, CHECK).
    public var attachment: ContainerAttachment { ContainerAttachment(containerID: containerID ?? "", ifname: ifname ?? "") }
}
