import CNftnl
import Netns
import Addressing

/// The bytes of one nfnetlink batch (BEGIN, the messages, END) and, per message, what it was
/// about, so a kernel error can name the object that failed.
struct Batch {
    struct Message: Sendable {
        var sequence: UInt32
        var type: UInt16
        /// The object in nft words: `rule in chain ip podlab svc-a: jump ep-x`.
        var object: String
    }

    private(set) var bytes: [UInt8] = []
    /// The messages that ask for an ack (everything but BEGIN and END).
    private(set) var messages: [Message] = []
    private var scratch: UnsafeMutableRawBufferPointer
    private let nextSequence: () -> UInt32

    /// Element lists are cut into messages of at most this many bytes: one attribute's length
    /// is 16 bits, and libnftnl does not check it.
    static let elementChunkBytes = 60_000

    init(nextSequence: @escaping () -> UInt32) {
        self.nextSequence = nextSequence
        scratch = .allocate(byteCount: 256 * 1024, alignment: 8)
    }

    func deallocate() { scratch.deallocate() }

    /// Builds one message into scratch space at least twice `bound` (libnftnl writes without
    /// bounds checks) and appends it.
    private mutating func append(bound: Int, type: UInt16?, object: String, _ build: (UnsafeMutablePointer<CChar>, UInt32) -> UnsafeMutablePointer<nlmsghdr>) {
        if scratch.count < 2 * bound {
            scratch.deallocate()
            scratch = .allocate(byteCount: 2 * bound, alignment: 8)
        }
        let sequence = nextSequence()
        let base = scratch.baseAddress!.bindMemory(to: CChar.self, capacity: scratch.count)
        memsetZero(scratch)
        let header = build(base, sequence)
        let length = Int(header.pointee.nlmsg_len)
        precondition(length <= scratch.count, "netlink message of \(length) bytes overran its \(scratch.count)-byte buffer")
        bytes.append(contentsOf: UnsafeRawBufferPointer(start: scratch.baseAddress, count: length))
        if let type { messages.append(Message(sequence: sequence, type: type, object: object)) }
    }

    private func memsetZero(_ buffer: UnsafeMutableRawBufferPointer) {
        // Only the header region needs clearing; libnftnl fills what it writes.
        buffer.baseAddress!.initializeMemory(as: UInt8.self, repeating: 0, count: min(buffer.count, 64))
    }

    mutating func begin() {
        append(bound: 64, type: nil, object: "batch") { buffer, sequence in nftnl_batch_begin(buffer, sequence) }
    }

    mutating func end() {
        append(bound: 64, type: nil, object: "batch") { buffer, sequence in nftnl_batch_end(buffer, sequence) }
    }

    private static let ack = Kernel.NLM_F_ACK
    private static let create = Kernel.NLM_F_CREATE | Kernel.NLM_F_ACK

    // MARK: Tables and chains

    mutating func table(_ type: UInt16, _ table: Table, flags: UInt16) {
        append(bound: 512, type: type, object: "\(table)") { buffer, sequence in
            let t = nftnl_table_alloc()!
            defer { nftnl_table_free(t) }
            _ = nftnl_table_set_str(t, UInt16(NFTNL_TABLE_NAME.rawValue), table.name)
            nftnl_table_set_u32(t, UInt16(NFTNL_TABLE_FAMILY.rawValue), UInt32(table.family.kernelValue))
            let header = nftnl_nlmsg_build_hdr(buffer, type, table.family.kernelValue, flags, sequence)!
            nftnl_table_nlmsg_build_payload(header, t)
            return header
        }
    }

    /// DELRULE with only table (and chain) set removes every rule in it.
    mutating func flushRules(_ table: Table, chain: String?) {
        let object = chain.map { "chain \(table.family) \(table.name) \($0)" } ?? "\(table)"
        append(bound: 1024, type: Kernel.NFT_MSG_DELRULE, object: "rules of \(object)") { buffer, sequence in
            let r = nftnl_rule_alloc()!
            defer { nftnl_rule_free(r) }
            _ = nftnl_rule_set_str(r, UInt16(NFTNL_RULE_TABLE.rawValue), table.name)
            if let chain { _ = nftnl_rule_set_str(r, UInt16(NFTNL_RULE_CHAIN.rawValue), chain) }
            nftnl_rule_set_u32(r, UInt16(NFTNL_RULE_FAMILY.rawValue), UInt32(table.family.kernelValue))
            let header = nftnl_nlmsg_build_hdr(buffer, Kernel.NFT_MSG_DELRULE, table.family.kernelValue, Batch.ack, sequence)!
            nftnl_rule_nlmsg_build_payload(header, r)
            return header
        }
    }

    mutating func chain(_ type: UInt16, _ chain: Chain, flags: UInt16) {
        append(bound: 1024, type: type, object: "chain \(chain.table.family) \(chain.table.name) \(chain.name)") { buffer, sequence in
            let c = nftnl_chain_alloc()!
            defer { nftnl_chain_free(c) }
            _ = nftnl_chain_set_str(c, UInt16(NFTNL_CHAIN_TABLE.rawValue), chain.table.name)
            _ = nftnl_chain_set_str(c, UInt16(NFTNL_CHAIN_NAME.rawValue), chain.name)
            nftnl_chain_set_u32(c, UInt16(NFTNL_CHAIN_FAMILY.rawValue), UInt32(chain.table.family.kernelValue))
            if let base = chain.base, type == Kernel.NFT_MSG_NEWCHAIN {
                nftnl_chain_set_u32(c, UInt16(NFTNL_CHAIN_HOOKNUM.rawValue), base.hook.kernelValue)
                nftnl_chain_set_s32(c, UInt16(NFTNL_CHAIN_PRIO.rawValue), base.priority)
                _ = nftnl_chain_set_str(c, UInt16(NFTNL_CHAIN_TYPE.rawValue), base.type.rawValue)
                nftnl_chain_set_u32(c, UInt16(NFTNL_CHAIN_POLICY.rawValue), base.policy.kernelValue)
            }
            let header = nftnl_nlmsg_build_hdr(buffer, type, chain.table.family.kernelValue, flags, sequence)!
            nftnl_chain_nlmsg_build_payload(header, c)
            return header
        }
    }

    // MARK: Rules

    mutating func addRule(_ rule: Rule, instructions: [Instruction]) {
        let bound = 1024 + instructions.count * 256
        append(bound: bound, type: Kernel.NFT_MSG_NEWRULE, object: "rule in chain \(rule.table.family) \(rule.table.name) \(rule.chain): \(rule)") { buffer, sequence in
            let r = nftnl_rule_alloc()!
            defer { nftnl_rule_free(r) }
            _ = nftnl_rule_set_str(r, UInt16(NFTNL_RULE_TABLE.rawValue), rule.table.name)
            _ = nftnl_rule_set_str(r, UInt16(NFTNL_RULE_CHAIN.rawValue), rule.chain)
            nftnl_rule_set_u32(r, UInt16(NFTNL_RULE_FAMILY.rawValue), UInt32(rule.table.family.kernelValue))
            if let comment = rule.comment {
                let userdata = Userdata.tlv(RuleUserdata.NFTNL_UDATA_RULE_COMMENT, Array(comment.utf8) + [0])
                _ = userdata.withUnsafeBytes { nftnl_rule_set_data(r, UInt16(NFTNL_RULE_USERDATA.rawValue), $0.baseAddress, UInt32($0.count)) }
            }
            for instruction in instructions { nftnl_rule_add_expr(r, instruction.makeExpression()) }
            let header = nftnl_nlmsg_build_hdr(buffer, Kernel.NFT_MSG_NEWRULE, rule.table.family.kernelValue,
                                               Kernel.NLM_F_CREATE | Kernel.NLM_F_APPEND | Kernel.NLM_F_ACK, sequence)!
            nftnl_rule_nlmsg_build_payload(header, r)
            return header
        }
    }

    mutating func deleteRule(_ table: Table, chain: String, handle: UInt64) {
        append(bound: 1024, type: Kernel.NFT_MSG_DELRULE, object: "rule handle \(handle) in chain \(table.family) \(table.name) \(chain)") { buffer, sequence in
            let r = nftnl_rule_alloc()!
            defer { nftnl_rule_free(r) }
            _ = nftnl_rule_set_str(r, UInt16(NFTNL_RULE_TABLE.rawValue), table.name)
            _ = nftnl_rule_set_str(r, UInt16(NFTNL_RULE_CHAIN.rawValue), chain)
            nftnl_rule_set_u32(r, UInt16(NFTNL_RULE_FAMILY.rawValue), UInt32(table.family.kernelValue))
            nftnl_rule_set_u64(r, UInt16(NFTNL_RULE_HANDLE.rawValue), handle)
            let header = nftnl_nlmsg_build_hdr(buffer, Kernel.NFT_MSG_DELRULE, table.family.kernelValue, Batch.ack, sequence)!
            nftnl_rule_nlmsg_build_payload(header, r)
            return header
        }
    }

    // MARK: Sets

    /// Fills the libnftnl set object that names `set` (table, name, family, optional id).
    private static func identify(_ s: OpaquePointer, _ set: NFTSet, table: Table, setID: UInt32?) {
        _ = nftnl_set_set_str(s, UInt16(NFTNL_SET_TABLE.rawValue), table.name)
        _ = nftnl_set_set_str(s, UInt16(NFTNL_SET_NAME.rawValue), set.name)
        nftnl_set_set_u32(s, UInt16(NFTNL_SET_FAMILY.rawValue), UInt32(table.family.kernelValue))
        if let setID { nftnl_set_set_u32(s, UInt16(NFTNL_SET_ID.rawValue), setID) }
    }

    mutating func addSet(_ set: NFTSet, table: Table, setID: UInt32, anonymousSize: Int? = nil) {
        let label = anonymousSize == nil ? "\(set.isMap ? "map" : "set") \(table.family) \(table.name) \(set.name)" : "anonymous map in \(table)"
        append(bound: 2048, type: Kernel.NFT_MSG_NEWSET, object: label) { buffer, sequence in
            let s = nftnl_set_alloc()!
            defer { nftnl_set_free(s) }
            Batch.identify(s, set, table: table, setID: setID)
            var flags = set.flags.rawValue
            if set.isMap { flags |= Kernel.NFT_SET_MAP }
            if let anonymousSize {
                flags |= Kernel.NFT_SET_ANONYMOUS | Kernel.NFT_SET_CONSTANT
                nftnl_set_set_u32(s, UInt16(NFTNL_SET_DESC_SIZE.rawValue), UInt32(anonymousSize))
            }
            nftnl_set_set_u32(s, UInt16(NFTNL_SET_FLAGS.rawValue), flags)
            nftnl_set_set_u32(s, UInt16(NFTNL_SET_KEY_TYPE.rawValue), set.keyType.kernelType)
            nftnl_set_set_u32(s, UInt16(NFTNL_SET_KEY_LEN.rawValue), UInt32(set.keyType.length))
            if let data = set.dataType {
                nftnl_set_set_u32(s, UInt16(NFTNL_SET_DATA_TYPE.rawValue), data.kernelType)
                // The kernel sizes verdict data itself (struct nft_verdict).
                if !data.isVerdict { nftnl_set_set_u32(s, UInt16(NFTNL_SET_DATA_LEN.rawValue), UInt32(data.length)) }
            }
            if let timeout = set.timeoutMilliseconds { nftnl_set_set_u64(s, UInt16(NFTNL_SET_TIMEOUT.rawValue), timeout) }
            let userdata = Userdata.set(key: set.keyType, data: set.dataType)
            _ = userdata.withUnsafeBytes { nftnl_set_set_data(s, UInt16(NFTNL_SET_USERDATA.rawValue), $0.baseAddress, UInt32($0.count)) }
            let header = nftnl_nlmsg_build_hdr(buffer, Kernel.NFT_MSG_NEWSET, table.family.kernelValue, Batch.create, sequence)!
            nftnl_set_nlmsg_build_payload(header, s)
            return header
        }
    }

    mutating func deleteSet(_ set: NFTSet) {
        append(bound: 1024, type: Kernel.NFT_MSG_DELSET, object: "\(set.isMap ? "map" : "set") \(set.table.family) \(set.table.name) \(set.name)") { buffer, sequence in
            let s = nftnl_set_alloc()!
            defer { nftnl_set_free(s) }
            Batch.identify(s, set, table: set.table, setID: nil)
            let header = nftnl_nlmsg_build_hdr(buffer, Kernel.NFT_MSG_DELSET, set.table.family.kernelValue, Batch.ack, sequence)!
            nftnl_set_nlmsg_build_payload(header, s)
            return header
        }
    }

    /// NEWSETELEM / DELSETELEM for `elements`, cut into messages that stay below 64 KiB.
    /// An empty DELSETELEM flushes the set.
    mutating func elements(_ type: UInt16, _ set: NFTSet, table: Table, _ elements: [EncodedElement], setID: UInt32? = nil) {
        let verb = type == Kernel.NFT_MSG_NEWSETELEM ? "add" : "delete"
        let setLabel = "\(set.isMap ? "map" : "set") \(table.family) \(table.name) \(set.name)"
        if elements.isEmpty {
            emitElements(type, set, table: table, [], setID: setID, object: "all elements of \(setLabel)")
            return
        }
        var start = 0
        while start < elements.count {
            var end = start
            var size = 0
            while end < elements.count && (end == start || size + elements[end].bound <= Batch.elementChunkBytes) {
                size += elements[end].bound
                end += 1
            }
            let first = elements[start].label, last = elements[end - 1].label
            let object = end - start == 1 ? "element \(first) of \(setLabel)" : "\(end - start) elements of \(setLabel) (\(verb) \(first) … \(last))"
            emitElements(type, set, table: table, Array(elements[start..<end]), setID: setID, object: object)
            start = end
        }
    }

    private mutating func emitElements(_ type: UInt16, _ set: NFTSet, table: Table, _ elements: [EncodedElement], setID: UInt32?, object: String) {
        let bound = 1024 + elements.reduce(0) { $0 + $1.bound }
        let flags = type == Kernel.NFT_MSG_NEWSETELEM ? Batch.create : Batch.ack
        append(bound: bound, type: type, object: object) { buffer, sequence in
            let s = nftnl_set_alloc()!
            defer { nftnl_set_free(s) }
            Batch.identify(s, set, table: table, setID: setID)
            for element in elements {
                let e = nftnl_set_elem_alloc()!
                _ = element.key.withUnsafeBytes { nftnl_set_elem_set(e, UInt16(NFTNL_SET_ELEM_KEY), $0.baseAddress, UInt32($0.count)) }
                if element.flags != 0 { nftnl_set_elem_set_u32(e, UInt16(NFTNL_SET_ELEM_FLAGS), element.flags) }
                if let verdict = element.verdict {
                    nftnl_set_elem_set_u32(e, UInt16(NFTNL_SET_ELEM_VERDICT), UInt32(bitPattern: verdict.code))
                    if let chain = verdict.chain { _ = nftnl_set_elem_set_str(e, UInt16(NFTNL_SET_ELEM_CHAIN), chain) }
                } else if let data = element.data {
                    _ = data.withUnsafeBytes { nftnl_set_elem_set(e, UInt16(NFTNL_SET_ELEM_DATA), $0.baseAddress, UInt32($0.count)) }
                }
                if let timeout = element.timeout { nftnl_set_elem_set_u64(e, UInt16(NFTNL_SET_ELEM_TIMEOUT), timeout) }
                nftnl_set_elem_add(s, e)
            }
            let header = nftnl_nlmsg_build_hdr(buffer, type, table.family.kernelValue, flags, sequence)!
            nftnl_set_elems_nlmsg_build_payload(header, s)
            return header
        }
    }
}

/// A set element in kernel form. Interval sets store a range as two elements: its start, and
/// the first address after it flagged `NFT_SET_ELEM_INTERVAL_END`.
struct EncodedElement {
    var key: [UInt8]
    var flags: UInt32 = 0
    var data: [UInt8]?
    var verdict: Verdict?
    var timeout: UInt64?
    /// The element as given, for error messages (formatted only when needed).
    var source: Value
    var isIntervalEnd = false

    var label: String { isIntervalEnd ? "\(source) (end)" : "\(source)" }

    /// An upper bound of the element's size inside a message, with generous slack.
    var bound: Int {
        var size = 64 + (key.count + 3) / 4 * 4
        if let data { size += 16 + (data.count + 3) / 4 * 4 }
        if let verdict { size += 48 + ((verdict.chain?.utf8.count ?? 0) + 4) / 4 * 4 }
        if timeout != nil { size += 16 }
        return size
    }

    static func encode(_ elements: [SetElement], of set: NFTSet, keysOnly: Bool = false) -> [EncodedElement] {
        var result: [EncodedElement] = []
        result.reserveCapacity(elements.count * (set.flags.contains(.interval) ? 2 : 1))
        for element in elements {
            var encoded = EncodedElement(key: element.key.bytes(), source: element.key)
            if !keysOnly {
                if case .verdict(let verdict)? = element.data {
                    encoded.verdict = verdict
                } else if let data = element.data {
                    encoded.data = data.bytes()
                }
                encoded.timeout = element.timeoutMilliseconds
            }
            guard set.flags.contains(.interval) else {
                result.append(encoded)
                continue
            }
            let first: IPv4Address, last: IPv4Address
            switch element.key {
            case .ipv4Prefix(let p): (first, last) = (p.network, p.lastAddress)
            case .ipv4Range(let a, let b): (first, last) = (a, b)
            case .ipv4(let a): (first, last) = (a, a)
            default: result.append(encoded); continue
            }
            encoded.key = first.octets
            result.append(encoded)
            // A range that reaches 255.255.255.255 has no end element (nft does the same).
            if let after = last.advanced(by: 1) {
                result.append(EncodedElement(key: after.octets, flags: Kernel.NFT_SET_ELEM_INTERVAL_END, source: element.key, isIntervalEnd: true))
            }
        }
        return result
    }
}

/// nftnl user data: type (1 B), length (1 B), value, unpadded (`struct nftnl_udata`).
enum Userdata {
    static func tlv(_ type: UInt8, _ value: [UInt8]) -> [UInt8] {
        precondition(value.count <= 255, "user data attribute too long")
        return [type, UInt8(value.count)] + value
    }

    static func u32(_ type: UInt8, _ value: UInt32) -> [UInt8] { tlv(type, hostBytes(value)) }

    /// What nft records for a set: byte orders, and `typeof` expressions when declared so.
    static func set(key: SetType, data: SetType?) -> [UInt8] {
        var out = u32(SetUserdata.NFTNL_UDATA_SET_KEYBYTEORDER, key.byteOrder)
        if let data { out += u32(SetUserdata.NFTNL_UDATA_SET_DATABYTEORDER, data.byteOrder) }
        if let fields = key.fields, let typeof = typeof(fields) {
            out += tlv(SetUserdata.NFTNL_UDATA_SET_KEY_TYPEOF, typeof)
        }
        if let data {
            if let fields = data.fields, let typeof = typeof(fields) {
                out += tlv(SetUserdata.NFTNL_UDATA_SET_DATA_TYPEOF, typeof)
            } else if data.isVerdict && key.fields != nil {
                out += tlv(SetUserdata.NFTNL_UDATA_SET_DATA_TYPEOF, u32(SetUserdata.NFTNL_UDATA_SET_TYPEOF_EXPR, SetUserdata.EXPR_VERDICT) + tlv(SetUserdata.NFTNL_UDATA_SET_TYPEOF_DATA, []))
            }
        }
        return out
    }

    /// nft's `typeof` encoding: { expr type, data } for one field, or a concatenation whose
    /// data nests one such pair per component (attribute type = component index).
    static func typeof(_ fields: [Field]) -> [UInt8]? {
        if fields.count == 1 { return typeofExpression(fields[0]) }
        var components: [UInt8] = []
        for (index, field) in fields.enumerated() {
            guard let encoded = typeofExpression(field) else { return nil }
            components += tlv(UInt8(index), encoded)
        }
        return u32(SetUserdata.NFTNL_UDATA_SET_TYPEOF_EXPR, SetUserdata.EXPR_CONCAT) + tlv(SetUserdata.NFTNL_UDATA_SET_TYPEOF_DATA, components)
    }

    static func typeofExpression(_ field: Field) -> [UInt8]? {
        let (type, data): (UInt32, [UInt8])
        switch field {
        case .ipSaddr: (type, data) = (SetUserdata.EXPR_PAYLOAD, payload(SetUserdata.PROTO_DESC_IP, 11))
        case .ipDaddr: (type, data) = (SetUserdata.EXPR_PAYLOAD, payload(SetUserdata.PROTO_DESC_IP, 12))
        case .ipProtocol: (type, data) = (SetUserdata.EXPR_PAYLOAD, payload(SetUserdata.PROTO_DESC_IP, 9))
        case .thSport: (type, data) = (SetUserdata.EXPR_PAYLOAD, payload(SetUserdata.PROTO_DESC_TH, 1))
        case .thDport: (type, data) = (SetUserdata.EXPR_PAYLOAD, payload(SetUserdata.PROTO_DESC_TH, 2))
        case .l4proto: (type, data) = (SetUserdata.EXPR_META, u32(0, Kernel.NFT_META_L4PROTO))
        case .iifname: (type, data) = (SetUserdata.EXPR_META, u32(0, Kernel.NFT_META_IIFNAME))
        case .oifname: (type, data) = (SetUserdata.EXPR_META, u32(0, Kernel.NFT_META_OIFNAME))
        case .mark: (type, data) = (SetUserdata.EXPR_META, u32(0, Kernel.NFT_META_MARK))
        case .skuid: (type, data) = (SetUserdata.EXPR_META, u32(0, Kernel.NFT_META_SKUID))
        case .numgenRandom(let modulus, let offset):
            (type, data) = (SetUserdata.EXPR_NUMGEN, u32(0, Kernel.NFT_NG_RANDOM) + u32(1, modulus) + u32(2, offset))
        case .ctState, .fibDaddrType:
            return nil
        }
        return u32(SetUserdata.NFTNL_UDATA_SET_TYPEOF_EXPR, type) + tlv(SetUserdata.NFTNL_UDATA_SET_TYPEOF_DATA, data)
    }

    private static func payload(_ descriptor: UInt32, _ template: UInt32) -> [UInt8] { u32(0, descriptor) + u32(1, template) }

    /// Parses a run of TLVs.
    static func parse(_ bytes: ArraySlice<UInt8>) -> [(type: UInt8, value: ArraySlice<UInt8>)] {
        var result: [(UInt8, ArraySlice<UInt8>)] = []
        var index = bytes.startIndex
        while index + 2 <= bytes.endIndex {
            let type = bytes[index], length = Int(bytes[index + 1])
            guard index + 2 + length <= bytes.endIndex else { break }
            result.append((type, bytes[(index + 2)..<(index + 2 + length)]))
            index += 2 + length
        }
        return result
    }

    static func readU32(_ value: ArraySlice<UInt8>) -> UInt32? { readHost32(Array(value)) }

    /// The fields of a `typeof` declaration, or nil if it holds something podlab does not model.
    static func parseTypeof(_ bytes: ArraySlice<UInt8>) -> [Field]? {
        let attributes = parse(bytes)
        guard let type = attributes.first(where: { $0.type == SetUserdata.NFTNL_UDATA_SET_TYPEOF_EXPR }).flatMap({ readU32($0.value) }),
              let data = attributes.first(where: { $0.type == SetUserdata.NFTNL_UDATA_SET_TYPEOF_DATA })?.value else { return nil }
        if type == SetUserdata.EXPR_CONCAT {
            var fields: [Field] = []
            for component in parse(data) {
                guard let inner = parseTypeof(component.value), inner.count == 1 else { return nil }
                fields.append(inner[0])
            }
            return fields.isEmpty ? nil : fields
        }
        let values = Dictionary(parse(data).map { ($0.type, readU32($0.value) ?? 0) }, uniquingKeysWith: { a, _ in a })
        switch type {
        case SetUserdata.EXPR_PAYLOAD:
            switch (values[0], values[1]) {
            case (SetUserdata.PROTO_DESC_IP?, 11?): return [.ipSaddr]
            case (SetUserdata.PROTO_DESC_IP?, 12?): return [.ipDaddr]
            case (SetUserdata.PROTO_DESC_IP?, 9?): return [.ipProtocol]
            case (SetUserdata.PROTO_DESC_TH?, 1?): return [.thSport]
            case (SetUserdata.PROTO_DESC_TH?, 2?): return [.thDport]
            default: return nil
            }
        case SetUserdata.EXPR_META:
            switch values[0] {
            case Kernel.NFT_META_L4PROTO?: return [.l4proto]
            case Kernel.NFT_META_IIFNAME?: return [.iifname]
            case Kernel.NFT_META_OIFNAME?: return [.oifname]
            case Kernel.NFT_META_MARK?: return [.mark]
            case Kernel.NFT_META_SKUID?: return [.skuid]
            default: return nil
            }
        case SetUserdata.EXPR_NUMGEN:
            guard values[0] == Kernel.NFT_NG_RANDOM, let modulus = values[1] else { return nil }
            return [.numgenRandom(modulus: modulus, offset: values[2] ?? 0)]
        default:
            return nil
        }
    }
}
