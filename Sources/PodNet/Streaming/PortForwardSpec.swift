import Foundation

/// The ports and addresses of `port-forward`, read as kubectl reads them.
public struct PortForwardSpec: Sendable, Equatable {
    /// 0: a port the kernel picks.
    public var local: UInt16
    public var remote: UInt16

    public init(local: UInt16, remote: UInt16) {
        self.local = local
        self.remote = remote
    }

    /// An error in kubectl's words (`error parsing local port 'x': strconv.ParseUint: …`).
    public struct ParseError: Error, Equatable, CustomStringConvertible {
        public var description: String
    }

    /// `REMOTE` (the same port here), `LOCAL:REMOTE`, or `:REMOTE` (a port the kernel picks).
    public static func parse(_ text: String) throws(ParseError) -> PortForwardSpec {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        let localText: String, remoteText: String
        switch parts.count {
        case 1: (localText, remoteText) = (parts[0], parts[0])
        case 2: (localText, remoteText) = (parts[0].isEmpty ? "0" : parts[0], parts[1])
        default: throw ParseError(description: "invalid port format '\(text)'")
        }
        let local = try port(localText, "local")
        let remote = try port(remoteText, "remote")
        guard remote > 0 else { throw ParseError(description: "remote port must be > 0") }
        return PortForwardSpec(local: local, remote: remote)
    }

    /// Go's `strconv.ParseUint(text, 10, 16)` and its two errors.
    static func port(_ text: String, _ which: String) throws(ParseError) -> UInt16 {
        guard !text.isEmpty, text.allSatisfy({ $0.isASCII && $0.isNumber }) else {
            throw ParseError(description: "error parsing \(which) port '\(text)': strconv.ParseUint: parsing \"\(text)\": invalid syntax")
        }
        guard let value = UInt16(text) else {
            throw ParseError(description: "error parsing \(which) port '\(text)': strconv.ParseUint: parsing \"\(text)\": value out of range")
        }
        return value
    }

    /// An address to listen on: one of the host's loopback addresses.
    public struct ListenAddress: Sendable, Equatable {
        public var text: String
        public var isIPv4: Bool
    }

    /// `--address` (comma separated), as kubectl reads it (`localhost` is 127.0.0.1 and ::1),
    /// limited to the host's loopback: a port-forward into the lab never listens anywhere else.
    public static func loopbackAddresses(_ list: String) throws(ParseError) -> [ListenAddress] {
        var result: [ListenAddress] = []
        for item in list.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) {
            let addresses: [ListenAddress]
            switch item {
            case "localhost": addresses = [ListenAddress(text: "127.0.0.1", isIPv4: true), ListenAddress(text: "::1", isIPv4: false)]
            case "127.0.0.1": addresses = [ListenAddress(text: "127.0.0.1", isIPv4: true)]
            case "::1": addresses = [ListenAddress(text: "::1", isIPv4: false)]
            default:
                throw ParseError(description: "podlab port-forward listens only on the host's loopback: \(item) is not localhost, 127.0.0.1 or ::1")
            }
            for address in addresses where !result.contains(address) { result.append(address) }
        }
        guard !result.isEmpty else { throw ParseError(description: "--address: no address given") }
        return result
    }
}
