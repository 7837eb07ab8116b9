import Netns

/// An nftables address family.
public enum Family: String, Hashable, Sendable, CaseIterable, CustomStringConvertible {
    case ip, ip6, inet

    public var description: String { rawValue }

    /// `NFPROTO_*`
    var kernelValue: UInt16 {
        switch self {
        case .ip: Kernel.NFPROTO_IPV4
        case .ip6: Kernel.NFPROTO_IPV6
        case .inet: Kernel.NFPROTO_INET
        }
    }

    init?(kernelValue: UInt32) {
        guard let match = Family.allCases.first(where: { UInt32($0.kernelValue) == kernelValue }) else { return nil }
        self = match
    }
}

/// A table: the container of chains and sets, identified by family and name.
public struct Table: Hashable, Sendable, CustomStringConvertible {
    public var family: Family
    public var name: String
    /// The kernel's handle, filled in by listings.
    public var handle: UInt64?

    public init(_ family: Family, _ name: String, handle: UInt64? = nil) {
        self.family = family
        self.name = name
        self.handle = handle
    }

    /// `table ip podlab`
    public var description: String { "table \(family) \(name)" }

    /// The same table without kernel-assigned fields, for comparing desired with listed state.
    public var identity: Table { Table(family, name) }

    /// Checks the name before anything is sent.
    public func validate() throws(ValidationError) {
        try validateName(name, field: "table name")
    }
}
