/// Why a piece of address text or an address computation was rejected.
public enum AddressError: Error, Equatable, Sendable, CustomStringConvertible {
    case invalidAddress(String, reason: String)
    case invalidPrefix(String, reason: String)
    case invalidMAC(String, reason: String)
    case outOfRange(String)

    public var description: String {
        switch self {
        case let .invalidAddress(text, reason): "invalid IP address \"\(text)\": \(reason)"
        case let .invalidPrefix(text, reason): "invalid CIDR \"\(text)\": \(reason)"
        case let .invalidMAC(text, reason): "invalid MAC address \"\(text)\": \(reason)"
        case let .outOfRange(what): what
        }
    }
}
