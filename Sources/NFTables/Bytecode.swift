import CNftnl

/// One kernel expression (`struct nft_expr`) of a rule, as libnftnl builds it. `Expression`s
/// lower into these and listings lift them back. `description` uses the notation of
/// `nft --debug=netlink`, so tests can compare against what nft itself generates.
enum Instruction: Hashable, Sendable, CustomStringConvertible {
    case payload(base: UInt32, offset: UInt32, length: UInt32, dreg: UInt32)
    case meta(key: UInt32, dreg: UInt32)
    case metaSet(key: UInt32, sreg: UInt32)
    case ct(key: UInt32, dreg: UInt32)
    case numgen(dreg: UInt32, modulus: UInt32, type: UInt32, offset: UInt32)
    case fib(dreg: UInt32, result: UInt32, flags: UInt32)
    case cmp(sreg: UInt32, op: UInt32, data: [UInt8])
    case bitwise(sreg: UInt32, dreg: UInt32, length: UInt32, mask: [UInt8], xor: [UInt8])
    case lookup(sreg: UInt32, dreg: UInt32?, set: String, setID: UInt32?, flags: UInt32)
    case immediate(dreg: UInt32, data: [UInt8])
    case immediateVerdict(Verdict)
    case counter(packets: UInt64, bytes: UInt64)
    case nat(type: UInt32, family: UInt32, addrMin: UInt32?, protoMin: UInt32?, flags: UInt32)
    case masq(flags: UInt32, protoMin: UInt32?)
    case redir(protoMin: UInt32?, flags: UInt32)
    case reject(type: UInt32, code: UInt8)
    case dynset(sreg: UInt32, set: String, op: UInt32, timeout: UInt64?)
    /// `limit`: `rate` per `unit` seconds, `burst` more, of `type` (`NFT_LIMIT_PKTS`).
    case limit(rate: UInt64, unit: UInt64, burst: UInt32, type: UInt32, flags: UInt32)
    /// `log` into an nflog group, with a prefix.
    case log(group: UInt16, prefix: String?)
    /// An expression this library does not decode, by name.
    case other(String)

    var description: String {
        switch self {
        case .payload(let base, let offset, let length, let dreg):
            return "[ payload load \(length)b @ \(Instruction.baseName(base)) header + \(offset) => reg \(dreg) ]"
        case .meta(let key, let dreg):
            return "[ meta load \(Instruction.metaName(key)) => reg \(dreg) ]"
        case .metaSet(let key, let sreg):
            return "[ meta set \(Instruction.metaName(key)) with reg \(sreg) ]"
        case .ct(let key, let dreg):
            return "[ ct load \(key == Kernel.NFT_CT_STATE ? "state" : "key \(key)") => reg \(dreg) ]"
        case .numgen(let dreg, let modulus, let type, let offset):
            let kind = type == Kernel.NFT_NG_RANDOM ? "random" : "inc"
            return "[ numgen reg \(dreg) = \(kind) mod \(modulus)\(offset == 0 ? "" : " offset \(offset)") ]"
        case .fib(let dreg, let result, let flags):
            if result == Kernel.NFT_FIB_RESULT_ADDRTYPE && flags == Kernel.NFTA_FIB_F_DADDR { return "[ fib daddr type => reg \(dreg) ]" }
            return "[ fib flags 0x\(String(flags, radix: 16)) result \(result) => reg \(dreg) ]"
        case .cmp(let sreg, let op, let data):
            return "[ cmp \(op == Kernel.NFT_CMP_EQ ? "eq" : op == Kernel.NFT_CMP_NEQ ? "neq" : "op\(op)") reg \(sreg) \(Instruction.words(data)) ]"
        case .bitwise(let sreg, let dreg, _, let mask, let xor):
            return "[ bitwise reg \(dreg) = ( reg \(sreg) & \(Instruction.words(mask)) ) ^ \(Instruction.words(xor)) ]"
        case .lookup(let sreg, let dreg, let set, _, let flags):
            var text = "[ lookup reg \(sreg) set \(set)"
            if let dreg { text += " dreg \(dreg)" }
            if flags != 0 { text += " 0x\(String(flags, radix: 16))" }
            return text + " ]"
        case .immediate(let dreg, let data):
            return "[ immediate reg \(dreg) \(Instruction.words(data)) ]"
        case .immediateVerdict(let verdict):
            switch verdict {
            case .jump(let chain): return "[ immediate reg 0 jump -> \(chain) ]"
            case .goto(let chain): return "[ immediate reg 0 goto -> \(chain) ]"
            default: return "[ immediate reg 0 \(verdict) ]"
            }
        case .counter(let packets, let bytes):
            return "[ counter pkts \(packets) bytes \(bytes) ]"
        case .nat(let type, let family, let addrMin, let protoMin, let flags):
            var text = "[ nat \(type == Kernel.NFT_NAT_DNAT ? "dnat" : "snat") \(family == UInt32(Kernel.NFPROTO_IPV4) ? "ip" : "family \(family)")"
            if let addrMin { text += " addr_min reg \(addrMin)" }
            if let protoMin { text += " proto_min reg \(protoMin)" }
            if flags != 0 { text += " flags 0x\(String(flags, radix: 16))" }
            return text + " ]"
        case .masq(let flags, let protoMin):
            var text = "[ masq"
            if let protoMin { text += " proto_min reg \(protoMin)" }
            if flags != 0 { text += " flags 0x\(String(flags, radix: 16))" }
            return text + " ]"
        case .redir(let protoMin, let flags):
            var text = "[ redir"
            if let protoMin { text += " proto_min reg \(protoMin)" }
            if flags != 0 { text += " flags 0x\(String(flags, radix: 16))" }
            return text + " ]"
        case .reject(let type, let code):
            return "[ reject type \(type) code \(code) ]"
        case .dynset(let sreg, let set, let op, let timeout):
            let verb = op == Kernel.NFT_DYNSET_OP_UPDATE ? "update" : op == Kernel.NFT_DYNSET_OP_ADD ? "add" : "op \(op)"
            return "[ dynset \(verb) reg_key \(sreg) set \(set)" + (timeout.map { " timeout \($0)ms" } ?? "") + " ]"
        case .limit(let rate, let unit, let burst, let type, let flags):
            return "[ limit rate \(rate)/\(unit == 1 ? "second" : "\(unit)s") burst \(burst) type \(type == 0 ? "packets" : "bytes") flags 0x\(String(flags, radix: 16)) ]"
        case .log(let group, let prefix):
            return "[ log " + (prefix.map { "prefix \($0) " } ?? "") + "group \(group) snaplen 0 qthreshold 0 ]"
        case .other(let name):
            return "[ \(name) ]"
        }
    }

    static func baseName(_ base: UInt32) -> String {
        switch base {
        case 0: "link"
        case Kernel.NFT_PAYLOAD_NETWORK_HEADER: "network"
        case Kernel.NFT_PAYLOAD_TRANSPORT_HEADER: "transport"
        default: "base \(base)"
        }
    }

    static func metaName(_ key: UInt32) -> String {
        switch key {
        case Kernel.NFT_META_MARK: "mark"
        case Kernel.NFT_META_IIFNAME: "iifname"
        case Kernel.NFT_META_OIFNAME: "oifname"
        case Kernel.NFT_META_SKUID: "skuid"
        case Kernel.NFT_META_NFPROTO: "nfproto"
        case Kernel.NFT_META_L4PROTO: "l4proto"
        default: "key \(key)"
        }
    }

    /// Register data as nft prints it: 32-bit words in host order, zero-padded.
    static func words(_ data: [UInt8]) -> String {
        var words: [String] = []
        var index = 0
        while index < data.count {
            var chunk = Array(data[index..<min(index + 4, data.count)])
            chunk += [UInt8](repeating: 0, count: 4 - chunk.count)
            words.append(format0x(readHost32(chunk)!))
            index += 4
        }
        return words.joined(separator: " ")
    }
}

// MARK: - libnftnl objects

extension Instruction {
    /// Allocates the libnftnl expression; the caller hands it to a rule (which then owns it).
    func makeExpression() -> OpaquePointer {
        func alloc(_ name: String) -> OpaquePointer {
            guard let e = nftnl_expr_alloc(name) else { fatalError("libnftnl cannot allocate expression \(name)") }
            return e
        }
        func setData(_ e: OpaquePointer, _ attr: Int, _ data: [UInt8]) {
            _ = data.withUnsafeBytes { nftnl_expr_set(e, Kernel.attr(attr), $0.baseAddress, UInt32($0.count)) }
        }
        switch self {
        case .payload(let base, let offset, let length, let dreg):
            let e = alloc("payload")
            nftnl_expr_set_u32(e, Kernel.attr(NFTNL_EXPR_PAYLOAD_DREG), dreg)
            nftnl_expr_set_u32(e, Kernel.attr(NFTNL_EXPR_PAYLOAD_BASE), base)
            nftnl_expr_set_u32(e, Kernel.attr(NFTNL_EXPR_PAYLOAD_OFFSET), offset)
            nftnl_expr_set_u32(e, Kernel.attr(NFTNL_EXPR_PAYLOAD_LEN), length)
            return e
        case .meta(let key, let dreg):
            let e = alloc("meta")
            nftnl_expr_set_u32(e, Kernel.attr(NFTNL_EXPR_META_KEY), key)
            nftnl_expr_set_u32(e, Kernel.attr(NFTNL_EXPR_META_DREG), dreg)
            return e
        case .metaSet(let key, let sreg):
            let e = alloc("meta")
            nftnl_expr_set_u32(e, Kernel.attr(NFTNL_EXPR_META_KEY), key)
            nftnl_expr_set_u32(e, Kernel.attr(NFTNL_EXPR_META_SREG), sreg)
            return e
        case .ct(let key, let dreg):
            let e = alloc("ct")
            nftnl_expr_set_u32(e, Kernel.attr(NFTNL_EXPR_CT_KEY), key)
            nftnl_expr_set_u32(e, Kernel.attr(NFTNL_EXPR_CT_DREG), dreg)
            return e
        case .numgen(let dreg, let modulus, let type, let offset):
            let e = alloc("numgen")
            nftnl_expr_set_u32(e, Kernel.attr(NFTNL_EXPR_NG_DREG), dreg)
            nftnl_expr_set_u32(e, Kernel.attr(NFTNL_EXPR_NG_MODULUS), modulus)
            nftnl_expr_set_u32(e, Kernel.attr(NFTNL_EXPR_NG_TYPE), type)
            if offset != 0 { nftnl_expr_set_u32(e, Kernel.attr(NFTNL_EXPR_NG_OFFSET), offset) }
            return e
        case .fib(let dreg, let result, let flags):
            let e = alloc("fib")
            nftnl_expr_set_u32(e, Kernel.attr(NFTNL_EXPR_FIB_DREG), dreg)
            nftnl_expr_set_u32(e, Kernel.attr(NFTNL_EXPR_FIB_RESULT), result)
            nftnl_expr_set_u32(e, Kernel.attr(NFTNL_EXPR_FIB_FLAGS), flags)
            return e
        case .cmp(let sreg, let op, let data):
            let e = alloc("cmp")
            nftnl_expr_set_u32(e, Kernel.attr(NFTNL_EXPR_CMP_SREG), sreg)
            nftnl_expr_set_u32(e, Kernel.attr(NFTNL_EXPR_CMP_OP), op)
            setData(e, NFTNL_EXPR_CMP_DATA, data)
            return e
        case .bitwise(let sreg, let dreg, let length, let mask, let xor):
            let e = alloc("bitwise")
            nftnl_expr_set_u32(e, Kernel.attr(NFTNL_EXPR_BITWISE_SREG), sreg)
            nftnl_expr_set_u32(e, Kernel.attr(NFTNL_EXPR_BITWISE_DREG), dreg)
            nftnl_expr_set_u32(e, Kernel.attr(NFTNL_EXPR_BITWISE_LEN), length)
            setData(e, NFTNL_EXPR_BITWISE_MASK, mask)
            setData(e, NFTNL_EXPR_BITWISE_XOR, xor)
            return e
        case .lookup(let sreg, let dreg, let set, let setID, let flags):
            let e = alloc("lookup")
            nftnl_expr_set_u32(e, Kernel.attr(NFTNL_EXPR_LOOKUP_SREG), sreg)
            if let dreg { nftnl_expr_set_u32(e, Kernel.attr(NFTNL_EXPR_LOOKUP_DREG), dreg) }
            _ = nftnl_expr_set_str(e, Kernel.attr(NFTNL_EXPR_LOOKUP_SET), set)
            if let setID { nftnl_expr_set_u32(e, Kernel.attr(NFTNL_EXPR_LOOKUP_SET_ID), setID) }
            if flags != 0 { nftnl_expr_set_u32(e, Kernel.attr(NFTNL_EXPR_LOOKUP_FLAGS), flags) }
            return e
        case .immediate(let dreg, let data):
            let e = alloc("immediate")
            nftnl_expr_set_u32(e, Kernel.attr(NFTNL_EXPR_IMM_DREG), dreg)
            setData(e, NFTNL_EXPR_IMM_DATA, data)
            return e
        case .immediateVerdict(let verdict):
            let e = alloc("immediate")
            nftnl_expr_set_u32(e, Kernel.attr(NFTNL_EXPR_IMM_DREG), Kernel.NFT_REG_VERDICT)
            nftnl_expr_set_u32(e, Kernel.attr(NFTNL_EXPR_IMM_VERDICT), UInt32(bitPattern: verdict.code))
            if let chain = verdict.chain { _ = nftnl_expr_set_str(e, Kernel.attr(NFTNL_EXPR_IMM_CHAIN), chain) }
            return e
        case .counter(let packets, let bytes):
            let e = alloc("counter")
            nftnl_expr_set_u64(e, Kernel.attr(NFTNL_EXPR_CTR_PACKETS), packets)
            nftnl_expr_set_u64(e, Kernel.attr(NFTNL_EXPR_CTR_BYTES), bytes)
            return e
        case .nat(let type, let family, let addrMin, let protoMin, let flags):
            let e = alloc("nat")
            nftnl_expr_set_u32(e, Kernel.attr(NFTNL_EXPR_NAT_TYPE), type)
            nftnl_expr_set_u32(e, Kernel.attr(NFTNL_EXPR_NAT_FAMILY), family)
            if let addrMin { nftnl_expr_set_u32(e, Kernel.attr(NFTNL_EXPR_NAT_REG_ADDR_MIN), addrMin) }
            if let protoMin { nftnl_expr_set_u32(e, Kernel.attr(NFTNL_EXPR_NAT_REG_PROTO_MIN), protoMin) }
            if flags != 0 { nftnl_expr_set_u32(e, Kernel.attr(NFTNL_EXPR_NAT_FLAGS), flags) }
            return e
        case .masq(let flags, let protoMin):
            let e = alloc("masq")
            if flags != 0 { nftnl_expr_set_u32(e, Kernel.attr(NFTNL_EXPR_MASQ_FLAGS), flags) }
            if let protoMin { nftnl_expr_set_u32(e, Kernel.attr(NFTNL_EXPR_MASQ_REG_PROTO_MIN), protoMin) }
            return e
        case .redir(let protoMin, let flags):
            let e = alloc("redir")
            if let protoMin { nftnl_expr_set_u32(e, Kernel.attr(NFTNL_EXPR_REDIR_REG_PROTO_MIN), protoMin) }
            if flags != 0 { nftnl_expr_set_u32(e, Kernel.attr(NFTNL_EXPR_REDIR_FLAGS), flags) }
            return e
        case .reject(let type, let code):
            let e = alloc("reject")
            nftnl_expr_set_u32(e, Kernel.attr(NFTNL_EXPR_REJECT_TYPE), type)
            nftnl_expr_set_u8(e, Kernel.attr(NFTNL_EXPR_REJECT_CODE), code)
            return e
        case .dynset(let sreg, let set, let op, let timeout):
            let e = alloc("dynset")
            nftnl_expr_set_u32(e, Kernel.attr(NFTNL_EXPR_DYNSET_SREG_KEY), sreg)
            nftnl_expr_set_u32(e, Kernel.attr(NFTNL_EXPR_DYNSET_OP), op)
            _ = nftnl_expr_set_str(e, Kernel.attr(NFTNL_EXPR_DYNSET_SET_NAME), set)
            if let timeout { nftnl_expr_set_u64(e, Kernel.attr(NFTNL_EXPR_DYNSET_TIMEOUT), timeout) }
            return e
        case .limit(let rate, let unit, let burst, let type, let flags):
            let e = alloc("limit")
            nftnl_expr_set_u64(e, Kernel.attr(NFTNL_EXPR_LIMIT_RATE), rate)
            nftnl_expr_set_u64(e, Kernel.attr(NFTNL_EXPR_LIMIT_UNIT), unit)
            nftnl_expr_set_u32(e, Kernel.attr(NFTNL_EXPR_LIMIT_BURST), burst)
            nftnl_expr_set_u32(e, Kernel.attr(NFTNL_EXPR_LIMIT_TYPE), type)
            nftnl_expr_set_u32(e, Kernel.attr(NFTNL_EXPR_LIMIT_FLAGS), flags)
            return e
        case .log(let group, let prefix):
            let e = alloc("log")
            nftnl_expr_set_u16(e, Kernel.attr(NFTNL_EXPR_LOG_GROUP), group)
            if let prefix { _ = nftnl_expr_set_str(e, Kernel.attr(NFTNL_EXPR_LOG_PREFIX), prefix) }
            return e
        case .other(let name):
            fatalError("cannot build unknown expression \(name)")
        }
    }

    /// Reads a libnftnl expression of a listed rule.
    init(expression e: OpaquePointer) {
        func u32(_ attr: Int) -> UInt32 { nftnl_expr_get_u32(e, Kernel.attr(attr)) }
        func has(_ attr: Int) -> Bool { nftnl_expr_is_set(e, Kernel.attr(attr)) }
        func optional(_ attr: Int) -> UInt32? { has(attr) ? u32(attr) : nil }
        func data(_ attr: Int) -> [UInt8] {
            var length: UInt32 = 0
            guard let pointer = nftnl_expr_get(e, Kernel.attr(attr), &length) else { return [] }
            return Array(UnsafeRawBufferPointer(start: pointer, count: Int(length)))
        }
        func string(_ attr: Int) -> String? { nftnl_expr_get_str(e, Kernel.attr(attr)).map { String(cString: $0) } }
        let name = string(NFTNL_EXPR_NAME) ?? "?"
        switch name {
        case "payload" where has(NFTNL_EXPR_PAYLOAD_DREG):
            self = .payload(base: u32(NFTNL_EXPR_PAYLOAD_BASE), offset: u32(NFTNL_EXPR_PAYLOAD_OFFSET), length: u32(NFTNL_EXPR_PAYLOAD_LEN), dreg: u32(NFTNL_EXPR_PAYLOAD_DREG))
        case "meta" where has(NFTNL_EXPR_META_DREG):
            self = .meta(key: u32(NFTNL_EXPR_META_KEY), dreg: u32(NFTNL_EXPR_META_DREG))
        case "meta" where has(NFTNL_EXPR_META_SREG):
            self = .metaSet(key: u32(NFTNL_EXPR_META_KEY), sreg: u32(NFTNL_EXPR_META_SREG))
        case "ct" where has(NFTNL_EXPR_CT_DREG) && !has(NFTNL_EXPR_CT_DIR):
            self = .ct(key: u32(NFTNL_EXPR_CT_KEY), dreg: u32(NFTNL_EXPR_CT_DREG))
        case "numgen":
            self = .numgen(dreg: u32(NFTNL_EXPR_NG_DREG), modulus: u32(NFTNL_EXPR_NG_MODULUS), type: u32(NFTNL_EXPR_NG_TYPE), offset: optional(NFTNL_EXPR_NG_OFFSET) ?? 0)
        case "fib":
            self = .fib(dreg: u32(NFTNL_EXPR_FIB_DREG), result: u32(NFTNL_EXPR_FIB_RESULT), flags: u32(NFTNL_EXPR_FIB_FLAGS))
        case "cmp":
            self = .cmp(sreg: u32(NFTNL_EXPR_CMP_SREG), op: u32(NFTNL_EXPR_CMP_OP), data: data(NFTNL_EXPR_CMP_DATA))
        case "bitwise" where !has(NFTNL_EXPR_BITWISE_OP) || u32(NFTNL_EXPR_BITWISE_OP) == 0:
            self = .bitwise(sreg: u32(NFTNL_EXPR_BITWISE_SREG), dreg: u32(NFTNL_EXPR_BITWISE_DREG), length: u32(NFTNL_EXPR_BITWISE_LEN), mask: data(NFTNL_EXPR_BITWISE_MASK), xor: data(NFTNL_EXPR_BITWISE_XOR))
        case "lookup":
            self = .lookup(sreg: u32(NFTNL_EXPR_LOOKUP_SREG), dreg: optional(NFTNL_EXPR_LOOKUP_DREG), set: string(NFTNL_EXPR_LOOKUP_SET) ?? "", setID: nil, flags: optional(NFTNL_EXPR_LOOKUP_FLAGS) ?? 0)
        case "immediate" where u32(NFTNL_EXPR_IMM_DREG) == Kernel.NFT_REG_VERDICT:
            if let verdict = Verdict(code: Int32(bitPattern: u32(NFTNL_EXPR_IMM_VERDICT)), chain: string(NFTNL_EXPR_IMM_CHAIN)) {
                self = .immediateVerdict(verdict)
            } else {
                self = .other("immediate verdict \(Int32(bitPattern: u32(NFTNL_EXPR_IMM_VERDICT)))")
            }
        case "immediate":
            self = .immediate(dreg: u32(NFTNL_EXPR_IMM_DREG), data: data(NFTNL_EXPR_IMM_DATA))
        case "counter":
            self = .counter(packets: nftnl_expr_get_u64(e, Kernel.attr(NFTNL_EXPR_CTR_PACKETS)), bytes: nftnl_expr_get_u64(e, Kernel.attr(NFTNL_EXPR_CTR_BYTES)))
        case "nat":
            self = .nat(type: u32(NFTNL_EXPR_NAT_TYPE), family: u32(NFTNL_EXPR_NAT_FAMILY), addrMin: optional(NFTNL_EXPR_NAT_REG_ADDR_MIN), protoMin: optional(NFTNL_EXPR_NAT_REG_PROTO_MIN), flags: optional(NFTNL_EXPR_NAT_FLAGS) ?? 0)
        case "masq":
            self = .masq(flags: optional(NFTNL_EXPR_MASQ_FLAGS) ?? 0, protoMin: optional(NFTNL_EXPR_MASQ_REG_PROTO_MIN))
        case "redir":
            self = .redir(protoMin: optional(NFTNL_EXPR_REDIR_REG_PROTO_MIN), flags: optional(NFTNL_EXPR_REDIR_FLAGS) ?? 0)
        case "reject":
            self = .reject(type: u32(NFTNL_EXPR_REJECT_TYPE), code: nftnl_expr_get_u8(e, Kernel.attr(NFTNL_EXPR_REJECT_CODE)))
        case "dynset" where !has(NFTNL_EXPR_DYNSET_SREG_DATA) && !has(NFTNL_EXPR_DYNSET_EXPR) && !has(NFTNL_EXPR_DYNSET_EXPRESSIONS):
            self = .dynset(sreg: u32(NFTNL_EXPR_DYNSET_SREG_KEY), set: string(NFTNL_EXPR_DYNSET_SET_NAME) ?? "", op: u32(NFTNL_EXPR_DYNSET_OP),
                           timeout: has(NFTNL_EXPR_DYNSET_TIMEOUT) ? nftnl_expr_get_u64(e, Kernel.attr(NFTNL_EXPR_DYNSET_TIMEOUT)) : nil)
        case "limit":
            self = .limit(rate: nftnl_expr_get_u64(e, Kernel.attr(NFTNL_EXPR_LIMIT_RATE)), unit: nftnl_expr_get_u64(e, Kernel.attr(NFTNL_EXPR_LIMIT_UNIT)),
                          burst: u32(NFTNL_EXPR_LIMIT_BURST), type: u32(NFTNL_EXPR_LIMIT_TYPE), flags: optional(NFTNL_EXPR_LIMIT_FLAGS) ?? 0)
        case "log" where has(NFTNL_EXPR_LOG_GROUP):
            self = .log(group: nftnl_expr_get_u16(e, Kernel.attr(NFTNL_EXPR_LOG_GROUP)), prefix: string(NFTNL_EXPR_LOG_PREFIX))
        default:
            self = .other(name)
        }
    }
}
