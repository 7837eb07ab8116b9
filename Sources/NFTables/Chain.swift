import Netns

/// A chain in a table: a regular chain (a jump target) or a base chain attached to a hook.
public struct Chain: Hashable, Sendable, CustomStringConvertible {
    public var table: Table
    public var name: String
    /// Set for base chains.
    public var base: BaseChain?
    /// The kernel's handle, filled in by listings.
    public var handle: UInt64?

    /// A regular chain.
    public init(_ table: Table, _ name: String, handle: UInt64? = nil) {
        self.table = table
        self.name = name
        self.base = nil
        self.handle = handle
    }

    /// A base chain: `type nat hook postrouting priority srcnat; policy accept;`.
    public init(_ table: Table, _ name: String, type: ChainType, hook: Hook, priority: Int32, policy: Policy = .accept, handle: UInt64? = nil) {
        self.table = table
        self.name = name
        self.base = BaseChain(type: type, hook: hook, priority: priority, policy: policy)
        self.handle = handle
    }

    /// `chain ip podlab postrouting { type nat hook postrouting priority 100; policy accept; }`
    public var description: String {
        var text = "chain \(table.family) \(table.name) \(name)"
        if let base { text += " { \(base) }" }
        return text
    }

    /// The chain without kernel-assigned fields.
    public var identity: Chain {
        var copy = self
        copy.handle = nil
        copy.table = table.identity
        return copy
    }

    /// Checks names and the hook/type combination before anything is sent.
    public func validate() throws(ValidationError) {
        try table.validate()
        try validateName(name, field: "chain name")
        guard let base else { return }
        switch base.type {
        case .filter:
            break
        case .nat:
            guard base.hook != .forward else {
                throw ValidationError(field: "chain \(name)", value: "type nat hook forward", reason: "nat chains hook only prerouting, input, output and postrouting")
            }
        case .route:
            guard base.hook == .output else {
                throw ValidationError(field: "chain \(name)", value: "type route hook \(base.hook)", reason: "route chains hook only output")
            }
        }
    }
}

/// Hook, type, priority and policy of a base chain.
public struct BaseChain: Hashable, Sendable, CustomStringConvertible {
    public var type: ChainType
    public var hook: Hook
    public var priority: Int32
    public var policy: Policy

    public init(type: ChainType, hook: Hook, priority: Int32, policy: Policy = .accept) {
        self.type = type
        self.hook = hook
        self.priority = priority
        self.policy = policy
    }

    public var description: String { "type \(type) hook \(hook) priority \(priority); policy \(policy);" }
}

/// The chain type of a base chain.
public enum ChainType: String, Hashable, Sendable, CaseIterable, CustomStringConvertible {
    case filter, nat, route
    public var description: String { rawValue }
}

/// The netfilter hook a base chain attaches to (`enum nf_inet_hooks`).
public enum Hook: String, Hashable, Sendable, CaseIterable, CustomStringConvertible {
    case prerouting, input, forward, output, postrouting
    public var description: String { rawValue }

    var kernelValue: UInt32 {
        switch self {
        case .prerouting: Kernel.NF_INET_PRE_ROUTING
        case .input: Kernel.NF_INET_LOCAL_IN
        case .forward: Kernel.NF_INET_FORWARD
        case .output: Kernel.NF_INET_LOCAL_OUT
        case .postrouting: Kernel.NF_INET_POST_ROUTING
        }
    }

    init?(kernelValue: UInt32) {
        guard let match = Hook.allCases.first(where: { $0.kernelValue == kernelValue }) else { return nil }
        self = match
    }
}

/// Standard priorities, under nft's names.
public enum Priority {
    /// `dstnat`: NF_IP_PRI_NAT_DST
    public static let dstnat: Int32 = -100
    /// `filter`: NF_IP_PRI_FILTER
    public static let filter: Int32 = 0
    /// `srcnat`: NF_IP_PRI_NAT_SRC
    public static let srcnat: Int32 = 100
    /// `mangle`: NF_IP_PRI_MANGLE
    public static let mangle: Int32 = -150
    /// `raw`: NF_IP_PRI_RAW
    public static let raw: Int32 = -300
}

/// What a base chain does with packets no rule decided on.
public enum Policy: String, Hashable, Sendable, CaseIterable, CustomStringConvertible {
    case accept, drop
    public var description: String { rawValue }
    var kernelValue: UInt32 { self == .accept ? UInt32(Kernel.NF_ACCEPT) : UInt32(Kernel.NF_DROP) }
}
