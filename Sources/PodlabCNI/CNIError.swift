/// An error as the CNI specification returns it: `{"cniVersion", "code", "msg", "details"}` on
/// stdout, with a non-zero exit status.
public struct CNIError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The specification's well-known codes (SPEC.md, "Error"); 100 and above are the plugin's own.
    public enum Code: Int, Sendable {
        case incompatibleVersion = 1
        case unsupportedField = 2
        case unknownContainer = 3
        case invalidEnvironment = 4
        case ioFailure = 5
        case decodingFailure = 6
        case invalidNetworkConfig = 7
        case tryAgainLater = 11
        /// STATUS: the plugin cannot serve ADD now.
        case pluginNotAvailable = 50
        /// STATUS: ADDs would give limited connectivity.
        case limitedConnectivity = 51
        /// podlab-cni: CHECK found the attachment different from what ADD made.
        case checkFailed = 100
        /// podlab-cni: the kernel refused a change.
        case kernelFailure = 101
    }

    public var code: Code
    public var msg: String
    public var details: String

    public init(_ code: Code, _ msg: String, details: String = "") {
        self.code = code
        self.msg = msg
        self.details = details
    }

    public var description: String { details.isEmpty ? "\(msg) (code \(code.rawValue))" : "\(msg): \(details) (code \(code.rawValue))" }

    /// The error object; `cniVersion` is the version the caller asked for.
    public func json(cniVersion: String) -> JSON {
        var members: [(String, JSON)] = [("cniVersion", .string(cniVersion)), ("code", .number(Double(code.rawValue))), ("msg", .string(msg))]
        if !details.isEmpty { members.append(("details", .string(details))) }
        return .object(members)
    }
}

/// The CNI versions podlab-cni speaks, and how a requested version is chosen.
public enum CNIVersion {
    /// Every version accepted in a configuration, oldest first.
    public static let supported = ["0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"]
    /// The version VERSION answers in when asked in none.
    public static let current = "1.1.0"

    /// `major.minor.patch` as numbers, or nil for a malformed version.
    public static func parse(_ version: String) -> (Int, Int, Int)? {
        let parts = version.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, let a = Int(parts[0]), let b = Int(parts[1]), let c = Int(parts[2]), a >= 0, b >= 0, c >= 0 else { return nil }
        return (a, b, c)
    }

    /// True when `a` is older than `b` (both well-formed).
    public static func isOlder(_ a: String, than b: String) -> Bool {
        guard let x = parse(a), let y = parse(b) else { return false }
        return x < y
    }

    /// Checks that `version` is one podlab-cni speaks.
    public static func validate(_ version: String, field: String = "cniVersion") throws(CNIError) {
        guard parse(version) != nil else {
            throw CNIError(.decodingFailure, "invalid \(field) \"\(version)\"", details: "a version is three numbers: major.minor.patch")
        }
        guard supported.contains(version) else {
            throw CNIError(.incompatibleVersion, "incompatible CNI versions",
                           details: "config is \"\(version)\", plugin supports [\"" + supported.joined(separator: "\" \"") + "\"]")
        }
    }

    /// The newest version of a configuration's `cniVersions` list that podlab-cni speaks
    /// (CNI 1.1's negotiation); nil when the list names none of them.
    public static func negotiate(_ offered: [String]) -> String? {
        offered.filter { supported.contains($0) }.max { isOlder($0, than: $1) }
    }
}
