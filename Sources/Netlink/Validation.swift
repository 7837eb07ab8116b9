import Netns
import Addressing

/// Checks applied to every request before it is built, so bad input never reaches the kernel
/// and is reported with the field at fault.
public enum NetlinkValidation {
    /// Longest interface name: `IFNAMSIZ` (16) minus the terminating NUL.
    public static let maximumInterfaceNameLength = 15
    /// Smallest MTU podlab accepts (IPv4's minimum, RFC 791).
    public static let minimumMTU: UInt32 = 68
    /// Largest MTU podlab accepts (`ETH_MAX_MTU`).
    public static let maximumMTU: UInt32 = 65_535
    /// Largest VXLAN network identifier (24 bits).
    public static let maximumVXLANID: UInt32 = 0xFF_FFFF

    /// An interface name as the kernel's `dev_valid_name` accepts it: 1–15 bytes, not `.` or
    /// `..`, and no `/`, `:` or whitespace.
    public static func validate(interfaceName name: String, field: String = "interface name") throws(ValidationError) {
        guard !name.isEmpty else { throw ValidationError(field: field, value: name, reason: "must not be empty") }
        let length = name.utf8.count
        guard length <= maximumInterfaceNameLength else {
            throw ValidationError(field: field, value: name, reason: "is \(length) bytes long; the kernel allows at most \(maximumInterfaceNameLength)")
        }
        guard name != "." && name != ".." else {
            throw ValidationError(field: field, value: name, reason: "'.' and '..' are not allowed")
        }
        for byte in name.utf8 {
            if byte == UInt8(ascii: "/") || byte == UInt8(ascii: ":") {
                throw ValidationError(field: field, value: name, reason: "must not contain '/' or ':'")
            }
            // isspace() in the kernel: space, \t \n \v \f \r; also refuse other control bytes.
            if byte <= 0x20 || byte == 0x7F {
                throw ValidationError(field: field, value: name, reason: "must not contain whitespace or control characters")
            }
        }
    }

    /// An MTU within 68–65 535.
    public static func validate(mtu: UInt32, field: String = "mtu") throws(ValidationError) {
        guard (minimumMTU...maximumMTU).contains(mtu) else {
            throw ValidationError(field: field, value: "\(mtu)", reason: "must be between \(minimumMTU) and \(maximumMTU)")
        }
    }

    /// A prefix length that fits the address: 0–32 for IPv4, 0–128 for IPv6.
    public static func validate(prefixLength: Int, for address: IPAddress, field: String = "prefix length") throws(ValidationError) {
        let maximum = address.bytes.count * 8
        guard (0...maximum).contains(prefixLength) else {
            throw ValidationError(field: field, value: "\(address)/\(prefixLength)", reason: "must be between 0 and \(maximum)")
        }
    }

    /// A VXLAN network identifier (0–16 777 215).
    public static func validate(vxlanID: UInt32) throws(ValidationError) {
        guard vxlanID <= maximumVXLANID else {
            throw ValidationError(field: "vxlan id", value: "\(vxlanID)", reason: "must be between 0 and \(maximumVXLANID) (24 bits)")
        }
    }

    /// An interface index the kernel could have given out (positive).
    public static func validate(interfaceIndex: Int32, field: String = "interface index") throws(ValidationError) {
        guard interfaceIndex > 0 else {
            throw ValidationError(field: field, value: "\(interfaceIndex)", reason: "must be a positive interface index")
        }
    }

    /// A MAC address a device may carry: unicast and not all zeros.
    public static func validate(unicastMAC mac: MACAddress, field: String = "mac address") throws(ValidationError) {
        guard !mac.isMulticast else {
            throw ValidationError(field: field, value: "\(mac)", reason: "is a multicast address; a device needs a unicast one")
        }
        guard mac.bytes.contains(where: { $0 != 0 }) else {
            throw ValidationError(field: field, value: "\(mac)", reason: "must not be all zeros")
        }
    }
}
