import Netns

/// A named set or map of a table. Sets hold keys (`type ipv4_addr`); maps also hold a value per
/// key (`type ipv4_addr . inet_proto . inet_service : verdict`).
///
/// Following design.md, podlab keeps a small, fixed number of sets per table and puts
/// per-service data into their elements: the kernel re-validates every rule using a map when
/// elements change, so many small maps grow quadratically.
public struct NFTSet: Hashable, Sendable, CustomStringConvertible {
    public var table: Table
    public var name: String
    public var keyType: SetType
    /// The value type of a map (nil for a set).
    public var dataType: SetType?
    public var flags: SetFlags
    /// Default element timeout (needs `flags.timeout`), in milliseconds.
    public var timeoutMilliseconds: UInt64?
    /// The kernel's handle, filled in by listings.
    public var handle: UInt64?
    /// Elements, filled in by listings (a transaction adds elements separately).
    public var elements: [SetElement]

    /// A set (`dataType == nil`) or map.
    public init(_ table: Table, _ name: String, key: SetType, data: SetType? = nil, flags: SetFlags = [], timeoutMilliseconds: UInt64? = nil, handle: UInt64? = nil, elements: [SetElement] = []) {
        self.table = table
        self.name = name
        self.keyType = key
        self.dataType = data
        self.flags = flags
        self.timeoutMilliseconds = timeoutMilliseconds
        self.handle = handle
        self.elements = elements
    }

    public var isMap: Bool { dataType != nil }
    public var isVerdictMap: Bool { dataType?.isVerdict == true }

    /// `map ip podlab service-ips { type ipv4_addr . inet_proto . inet_service : verdict; }`
    public var description: String {
        var text = "\(isMap ? "map" : "set") \(table.family) \(table.name) \(name) { "
        let keyText = keyType.fields == nil ? "type \(keyType)" : "\(keyType)"
        if let dataType {
            let dataText = dataType.fields.map { _ in dataType.description.replacingPrefix("typeof ", with: "") } ?? dataType.description
            text += "\(keyText) : \(dataText);"
        } else {
            text += "\(keyText);"
        }
        if !flags.isEmpty { text += " flags \(flags);" }
        if let timeoutMilliseconds { text += " timeout \(timeoutMilliseconds)ms;" }
        return text + " }"
    }

    /// The set without kernel-assigned fields and elements.
    public var identity: NFTSet {
        NFTSet(table.identity, name, key: keyType, data: dataType, flags: flags, timeoutMilliseconds: timeoutMilliseconds)
    }

    /// Checks names, types and flags before anything is sent.
    public func validate() throws(ValidationError) {
        try table.validate()
        try validateName(name, field: "set name")
        try keyType.validate(forData: false, field: "key type of \(name)")
        if let dataType { try dataType.validate(forData: true, field: "data type of \(name)") }
        if flags.contains(.interval) && keyType.isConcatenation {
            throw ValidationError(field: "set \(name)", value: "\(keyType)", reason: "interval sets with concatenated keys are not supported here")
        }
        if flags.contains(.interval) && keyType.components != [.ipv4Address] {
            throw ValidationError(field: "set \(name)", value: "\(keyType)", reason: "flags interval is supported for ipv4_addr keys (prefixes)")
        }
        if timeoutMilliseconds != nil && !flags.contains(.timeout) {
            throw ValidationError(field: "set \(name)", value: "timeout", reason: "a default timeout needs flags timeout")
        }
    }

    /// Checks one element against the set's types.
    func validate(_ element: SetElement) throws(ValidationError) {
        try element.key.check(against: keyType, field: "key of \(isMap ? "map" : "set") \(name)", allowIntervals: flags.contains(.interval))
        switch (dataType, element.data) {
        case (nil, nil):
            break
        case (nil, .some(let data)):
            throw ValidationError(field: "element of set \(name)", value: "\(element.key) : \(data)", reason: "a set holds keys only; declare a map for key : value")
        case (.some(let type), nil):
            throw ValidationError(field: "element of map \(name)", value: "\(element.key)", reason: "a map element needs a value of type \(type)")
        case (.some(let type), .some(let data)):
            try data.check(against: type, field: "value of map \(name)", allowIntervals: false)
        }
        if element.timeoutMilliseconds != nil && !flags.contains(.timeout) {
            throw ValidationError(field: "element of \(name)", value: "\(element)", reason: "element timeouts need a set with flags timeout")
        }
    }
}

/// Set flags (`enum nft_set_flags`) that podlab uses.
public struct SetFlags: OptionSet, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    /// NFT_SET_CONSTANT: elements cannot change after the set is created.
    public static let constant = SetFlags(rawValue: Kernel.NFT_SET_CONSTANT)
    /// NFT_SET_INTERVAL: keys are ranges (prefixes).
    public static let interval = SetFlags(rawValue: Kernel.NFT_SET_INTERVAL)
    /// NFT_SET_TIMEOUT: elements may expire.
    public static let timeout = SetFlags(rawValue: Kernel.NFT_SET_TIMEOUT)
    /// NFT_SET_EVAL (nft's `dynamic`): rules add and update elements (`update @set { … }`).
    public static let dynamic = SetFlags(rawValue: Kernel.NFT_SET_EVAL)

    public var description: String {
        var names: [String] = []
        if contains(.constant) { names.append("constant") }
        if contains(.dynamic) { names.append("dynamic") }
        if contains(.interval) { names.append("interval") }
        if contains(.timeout) { names.append("timeout") }
        return names.joined(separator: ",")
    }
}

/// One element: a key, and for maps its value.
public struct SetElement: Hashable, Sendable, CustomStringConvertible {
    public var key: Value
    public var data: Value?
    /// Per-element timeout in milliseconds (sets with `flags timeout`).
    public var timeoutMilliseconds: UInt64?

    public init(_ key: Value, _ data: Value? = nil, timeoutMilliseconds: UInt64? = nil) {
        self.key = key
        self.data = data
        self.timeoutMilliseconds = timeoutMilliseconds
    }

    /// A map element whose value is a verdict.
    public init(_ key: Value, _ verdict: Verdict) {
        self.init(key, .verdict(verdict))
    }

    /// `10.96.0.10 . tcp . 80 : jump svc-a`
    public var description: String {
        var text = "\(key)"
        if let timeoutMilliseconds { text += " timeout \(timeoutMilliseconds)ms" }
        if let data { text += " : \(data)" }
        return text
    }
}

extension String {
    func replacingPrefix(_ prefix: String, with replacement: String) -> String {
        hasPrefix(prefix) ? replacement + dropFirst(prefix.count) : self
    }
}
