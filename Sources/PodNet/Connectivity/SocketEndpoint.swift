/// An address and port: `10.244.1.2:43122`.
public struct SocketEndpoint: Hashable, Sendable, CustomStringConvertible {
    public var address: IPv4Address
    public var port: UInt16

    public init(_ address: IPv4Address, _ port: UInt16) {
        self.address = address
        self.port = port
    }

    /// Parses `10.244.1.2:43122`.
    public init?(_ text: String) {
        let parts = text.split(separator: ":")
        guard parts.count == 2, let address = IPv4Address(String(parts[0])), let port = UInt16(parts[1]) else { return nil }
        self.init(address, port)
    }

    public var description: String { "\(address):\(port)" }
}
